/* flow.h - per-connection TCP state between the NFLOG tap and the
 * POP3/IMAP machines
 *
 * A flow exists only from the client's SYN on; both byte streams reach
 * the machine in sequence order, exactly once.  Anything that would make
 * the bytes we saw differ from the bytes the server got (a gap, a
 * retransmit with other bytes, a truncated capture, fragments, lost
 * capture packets) ends the flow without a grant.
 */
#ifndef DRAC_FLOW_H
#define DRAC_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define FLOW_MAX_PORTS 8
#define FLOW_MAX_FLOWS (1u << 22)

struct flow_config {
	uint16_t pop3_ports[FLOW_MAX_PORTS];
	unsigned n_pop3;
	uint16_t imap_ports[FLOW_MAX_PORTS];
	unsigned n_imap;
	unsigned max_flows; /* 1 .. FLOW_MAX_FLOWS, all reserved at flow_new */
	unsigned idle_ms;   /* a flow silent this long is dropped by flow_expire */
};

struct flow_grant {
	struct drac_addr client;
	const char *proto; /* "pop3" or "imap" */
};

struct flow_stats {
	uint64_t packets;   /* every flow_packet call */
	uint64_t malformed; /* did not parse */
	uint64_t ignored;   /* not TCP, wrong port or direction, no flow, flow finished */
	uint64_t flows;     /* created by a client SYN */
	uint64_t evicted;   /* pushed out by a new flow when the table was full */
	uint64_t expired;   /* idle past idle_ms */
	uint64_t gaps;      /* bytes missing before a segment, or acked by the server but never seen */
	uint64_t conflicts; /* retransmit with other bytes, too old to check, SYN-ACK for another ISN */
	uint64_t overflow;  /* machine ran out of room */
	uint64_t aborted;   /* flows ended without grant for any reason but a clean DONE */
	uint64_t tls;       /* STLS / STARTTLS: inspection stopped */
	uint64_t grants;
	/* more detail */
	uint64_t midstream; /* payload for a connection never seen opening */
	uint64_t fragments; /* IP fragments (their source is tainted for a while) */
	uint64_t truncated; /* flows aborted because the capture was cut short */
	uint64_t urgent;    /* flows aborted on urgent data (the server would not see that byte in line) */
	uint64_t syntax;    /* machine aborted: bytes that fit no rule, or unmatched answers */
	uint64_t done;      /* machine finished without grant: logout, PREAUTH, ... */
	uint64_t refused;   /* login seen but not granted: capture loss or fragments since the SYN */
	uint64_t closed;    /* ended by FIN or RST */
	uint64_t replaced;  /* a new SYN with another ISN took over a 4-tuple */
};

struct flow_table;

/* NULL on a bad configuration (no ports, max_flows out of range) or
 * when memory is short. */
struct flow_table *flow_new(const struct flow_config *cfg);
void flow_free(struct flow_table *ft);

/* pkt starts at the IP header; family AF_INET or AF_INET6.  outgoing:
 * logged at the output hook (sent by this host = the server); otherwise
 * at the input hook (from the client).  Returns 1 and fills *g when this
 * packet completed a login, 0 otherwise. */
int flow_packet(struct flow_table *ft, int family, bool outgoing, const uint8_t *pkt,
		size_t len, uint64_t now_ms, struct flow_grant *g);

/* Drop flows idle for idle_ms or more. */
void flow_expire(struct flow_table *ft, uint64_t now_ms);

/* The capture lost packets (NFLOG sequence gap, ENOBUFS): no flow alive
 * now may grant, since a lost packet may have carried the bytes the
 * server really got.  O(1); flows opened afterwards are unaffected. */
void flow_lost(struct flow_table *ft);

const struct flow_stats *flow_stats(const struct flow_table *ft);
size_t flow_count(const struct flow_table *ft);
/* Bytes in use: the table's fixed part plus one entry per live flow.
 * Entries are reserved (not touched) for max_flows at flow_new. */
size_t flow_memory(const struct flow_table *ft);
/* Bytes one flow costs. */
size_t flow_entry_size(void);

#endif
