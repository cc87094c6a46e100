/* packet.h - one IPv4 or IPv6 TCP packet as NFLOG hands it over
 *
 * The buffer starts at the IP header.  Only unfragmented TCP is parsed;
 * every length field is checked against both the header that claims it
 * and the number of bytes actually captured.
 */
#ifndef DRAC_PACKET_H
#define DRAC_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* TCP flag bits as they sit in header byte 13. */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

struct pkt {
	struct drac_addr src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data; /* payload; NULL when datalen is 0 */
	size_t datalen;      /* bytes present at data, never beyond the capture */
	bool truncated;      /* the capture ended before the IP datagram did */
};

enum pkt_result {
	PKT_OK,        /* a TCP segment; src/dst/ports.. filled */
	PKT_NOT_TCP,   /* well-formed but not TCP (src/dst filled) */
	PKT_FRAGMENT,  /* an IP fragment (src/dst filled): never parsed */
	PKT_MALFORMED, /* lengths or versions that do not add up */
};

/* family is AF_INET or AF_INET6 (the NFLOG nfgen_family).  p is always
 * fully written; on anything but PKT_OK only src/dst may be meaningful. */
enum pkt_result pkt_parse(struct pkt *p, int family, const uint8_t *buf, size_t len);

const char *pkt_result_name(enum pkt_result r);

#endif
