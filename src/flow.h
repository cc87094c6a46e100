/* flow.h - per-connection TCP state between the NFLOG tap and the
 * POP3/IMAP machines
 *
 * A flow exists only from the client's SYN on; both byte streams reach
 * the machine in sequence order, exactly once.  Every client byte from
 * the ISN to the login decision (at most 8 KB) is kept, and every copy
 * of it that reaches the tap, whatever its checksum, options, flags,
 * timestamp or ACK field, must be the same: two byte strings for one
 * range never grant.  Our judgement of a segment as Linux's TCP would
 * make it (RFC 5961 and the rest) only decides whether an RST, FIN or
 * SYN ends the flow.  Anything that would make the bytes we saw differ
 * from the bytes the server got (a gap, a truncated capture, fragments,
 * unreadable packets, lost capture packets, an urgent pointer into the
 * dialogue) ends the flow without a grant.
 */
#ifndef DRAC_FLOW_H
#define DRAC_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define FLOW_MAX_PORTS 8
#define FLOW_MAX_FLOWS (1u << 22)

/* How a finished flow is reported (see flow_config.done). */
struct flow_tuple {
	int family;
	const uint8_t *caddr, *saddr; /* 4 or 16 bytes, network order */
	uint16_t cport, sport;
};

struct flow_config {
	uint16_t pop3_ports[FLOW_MAX_PORTS];
	unsigned n_pop3;
	uint16_t imap_ports[FLOW_MAX_PORTS];
	unsigned n_imap;
	unsigned max_flows; /* 1 .. FLOW_MAX_FLOWS, all reserved at flow_new */
	unsigned idle_ms;   /* a flow silent this long is dropped by flow_expire */
	/* Called when a flow is finished (granted, TLS, given up) and again
	 * at most every FLOW_DONE_REPEAT_MS while its packets still come:
	 * the tap may stop copying that 4-tuple until the next client SYN. */
	void (*done)(void *arg, const struct flow_tuple *t);
	void *done_arg;
};

#define FLOW_DONE_REPEAT_MS 10000

/* flow_packet's how: bits */
#define FLOW_OUT 1   /* logged at the output hook: sent by the server */
#define FLOW_LOCAL 2 /* arrived on loopback: only a local process sent it */

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
	uint64_t conflicts; /* two copies of a client byte differ, SYN-ACK for another ISN */
	uint64_t overflow;  /* machine ran out of room, or 8 KB of dialogue without a decision */
	uint64_t aborted;   /* flows ended without grant for any reason but a clean DONE */
	uint64_t tls;       /* STLS / STARTTLS: inspection stopped */
	uint64_t grants;
	/* more detail */
	uint64_t midstream; /* payload for a connection never seen opening */
	uint64_t fragments; /* IP fragments (an IPv6 first one taints its 4-tuple, others their source, for a while) */
	uint64_t truncated; /* flows aborted because a copy of dialogue bytes was cut short */
	uint64_t urgent;    /* flows aborted on an urgent pointer into the dialogue (that byte leaves the line) */
	uint64_t syntax;    /* machine aborted: bytes that fit no rule, or unmatched answers */
	uint64_t done;      /* machine finished without grant: logout, PREAUTH, ... */
	uint64_t refused;   /* login seen but not granted: capture loss or fragments since the SYN */
	uint64_t closed;    /* ended by FIN or RST */
	uint64_t replaced;  /* a new SYN with another ISN took over a 4-tuple */
	/* client RST, FIN and SYN segments the server's TCP drops: they do
	 * not end the flow (their bytes are compared all the same) */
	uint64_t discarded;  /* every one of the kinds below */
	uint64_t bad_csum;   /* checksum wrong */
	uint64_t no_ack;     /* payload or FIN without ACK */
	uint64_t md5;        /* TCP-MD5 option, the socket has no key */
	uint64_t window;     /* sequence outside the receive window, or old */
	uint64_t paws;       /* timestamp older than the last one accepted */
	uint64_t bad_ack;    /* acknowledges bytes the server never sent */
	uint64_t rst_ignored; /* RST not exactly at the next sequence (RFC 5961) */
	uint64_t syn_ignored; /* SYN on a tracked flow the server did not answer */
	uint64_t fin_ignored; /* FIN out of sequence */
	uint64_t unknown;    /* packets we could not read to the end (source tainted) */
	uint64_t partial;    /* client packets with the pseudo-header checksum only, not on loopback */
	uint64_t done_calls; /* flow_config.done calls */
};

struct flow_table;

/* NULL on a bad configuration (no ports, max_flows out of range) or
 * when memory is short. */
struct flow_table *flow_new(const struct flow_config *cfg);
void flow_free(struct flow_table *ft);

/* pkt starts at the IP header; family AF_INET or AF_INET6.  how:
 * FLOW_OUT when logged at the output hook (sent by this host = the
 * server), otherwise at the input hook (from the client); FLOW_LOCAL
 * when it came in on loopback.  Returns 1 and fills *g when this packet
 * completed a login, 0 otherwise. */
int flow_packet(struct flow_table *ft, int family, unsigned how, const uint8_t *pkt,
		size_t len, uint64_t now_ms, struct flow_grant *g);

/* Drop flows idle for idle_ms or more. */
void flow_expire(struct flow_table *ft, uint64_t now_ms);

/* The capture lost packets (NFLOG sequence gap, ENOBUFS): no flow alive
 * now may grant (it is not ended), since a lost packet may have been the
 * real copy of bytes for which we then see a decoy, and nothing later
 * would tell.  O(1); flows opened afterwards are unaffected. */
void flow_lost(struct flow_table *ft);

const struct flow_stats *flow_stats(const struct flow_table *ft);
size_t flow_count(const struct flow_table *ft);
/* Bytes in use: the table's fixed part plus one entry per live flow.
 * Entries are reserved (not touched) for max_flows at flow_new. */
size_t flow_memory(const struct flow_table *ft);
/* Bytes one flow costs, besides its client bytes until the decision
 * (256 bytes and up, freed at the decision; counted in flow_memory). */
size_t flow_entry_size(void);

#endif
