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

/* What the TCP checksum says, judged as Linux's TCP would. */
enum pkt_csum {
	CSUM_OK,      /* verifies */
	CSUM_PARTIAL, /* holds only the pseudo-header sum: a local sender's
		       * offloaded (CHECKSUM_PARTIAL) or a GRO-merged packet,
		       * which the kernel trusts, or a forgery it would drop */
	CSUM_BAD,     /* anything else: Linux's TCP drops it */
	CSUM_UNKNOWN, /* not all of the segment was captured */
};

#define PKT_NO_WSCALE 0xff

struct pkt {
	struct drac_addr src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data; /* payload; NULL when datalen is 0 */
	size_t datalen;      /* bytes present at data, never beyond the capture */
	size_t seglen;       /* payload bytes the IP header claims */
	bool truncated;      /* the capture ended before the IP datagram did */
	bool ports;          /* sport/dport are filled (also on PKT_MALFORMED, and
			      * on PKT_FRAGMENT for an IPv6 first fragment whose
			      * header chain reaches them) */
	bool frag_later;     /* PKT_FRAGMENT: IPv6, at a non-zero offset */
	uint16_t win;        /* window field as sent (unscaled) */
	uint16_t urp;        /* urgent pointer field (meaningful with TCP_URG) */
	uint8_t csum;        /* enum pkt_csum */
	/* TCP options, read with the rules of Linux's tcp_parse_options:
	 * a bad length ends the walk, sizes must be exact. */
	uint8_t wscale;      /* window scale (meaningful on SYN), or PKT_NO_WSCALE */
	bool ts;             /* a timestamp option */
	bool md5;            /* TCP-MD5 signature (RFC 2385, kind 19) */
	bool ao;             /* TCP-AO (RFC 5925, kind 29) */
	uint32_t tsval, tsecr;
	size_t l4off, l4len; /* the TCP segment in the buffer, as claimed */
};

enum pkt_result {
	PKT_OK,        /* a TCP segment; src/dst/ports.. filled */
	PKT_NOT_TCP,   /* well-formed but not TCP (src/dst filled) */
	PKT_FRAGMENT,  /* an IP fragment (src/dst filled, and see ports and
			* frag_later): its TCP is never parsed */
	PKT_MALFORMED, /* lengths or versions that do not add up: the kernel
			* drops it too (src/dst filled when the IP header
			* was there, ports when p->ports) */
	PKT_UNKNOWN,   /* what the kernel may deliver but we cannot read to
			* the end: an IPv6 header chain cut by the capture,
			* a routing header still to obey, a jumbogram, a TCP
			* header cut short (src/dst filled, ports when
			* p->ports) */
};

/* family is AF_INET or AF_INET6 (the NFLOG nfgen_family).  p is always
 * fully written; on anything but PKT_OK only src/dst may be meaningful. */
enum pkt_result pkt_parse(struct pkt *p, int family, const uint8_t *buf, size_t len);
/* The same without the checksum (csum stays CSUM_UNKNOWN), and the
 * checksum alone afterwards: the flow table sums only the segments it
 * has to judge, not a flood's. */
enum pkt_result pkt_parse_head(struct pkt *p, int family, const uint8_t *buf, size_t len);
void pkt_verify(struct pkt *p, int family, const uint8_t *buf);

const char *pkt_result_name(enum pkt_result r);

/* Fill in the TCP checksum of a whole packet as pkt_parse finds it (for
 * tests and fuzzers that build packets); -1 when it does not parse. */
int pkt_csum_fill(int family, uint8_t *buf, size_t len);

#endif
