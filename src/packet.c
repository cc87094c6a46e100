/* packet.c - parse one IP packet from NFLOG down to the TCP payload
 *
 * Two lengths bound everything: what the IP header claims (total length,
 * payload length) and what was captured (len).  The payload ends at the
 * smaller; when the capture is the smaller one the packet is marked
 * truncated, so the caller can refuse to trust that stream.
 */
#include <string.h>

#include "packet.h"

/* IPv6 next-header values this parser walks through or stops at. */
enum {
	NH_HOPOPTS = 0,
	NH_TCP = 6,
	NH_ROUTING = 43,
	NH_FRAGMENT = 44,
	NH_ESP = 50,
	NH_AH = 51,
	NH_NONE = 59,
	NH_DSTOPTS = 60,
};

/* A chain longer than this is not something a mail client sends. */
#define IP6_MAX_EXTHDRS 8

static inline uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The layer-4 part of the packet: where it starts, how long the IP
 * header says it is, how much of it was captured. */
struct l4 {
	size_t off, claimed, captured;
};

static enum pkt_result parse_ip4(struct pkt *p, const uint8_t *b, size_t len,
				 struct l4 *l4)
{
	size_t ihl, tot;

	if (len < 20 || b[0] >> 4 != 4)
		return PKT_MALFORMED;
	ihl = (size_t)(b[0] & 0x0f) * 4;
	tot = get16(b + 2);
	if (ihl < 20 || ihl > len || tot < ihl)
		return PKT_MALFORMED;
	addr_from_bytes(&p->src, AF_INET, b + 12);
	addr_from_bytes(&p->dst, AF_INET, b + 16);
	/* More-fragments or a non-zero offset: a piece of something else. */
	if (get16(b + 6) & 0x3fff)
		return PKT_FRAGMENT;
	if (b[9] != NH_TCP)
		return PKT_NOT_TCP;
	l4->off = ihl;
	l4->claimed = tot - ihl;
	l4->captured = (tot < len ? tot : len) - ihl;
	return PKT_OK;
}

static enum pkt_result parse_ip6(struct pkt *p, const uint8_t *b, size_t len,
				 struct l4 *l4)
{
	size_t end, cap, off = 40, hl;
	uint8_t nh;
	int i;

	if (len < 40 || b[0] >> 4 != 6)
		return PKT_MALFORMED;
	addr_from_bytes(&p->src, AF_INET6, b + 8);
	addr_from_bytes(&p->dst, AF_INET6, b + 24);
	/* Payload length 0 means a jumbogram (or a GSO giant): its real
	 * length is elsewhere and no mail login needs one. */
	if (get16(b + 4) == 0)
		return PKT_MALFORMED;
	end = 40 + (size_t)get16(b + 4);
	cap = end < len ? end : len;
	nh = b[6];
	for (i = 0; i <= IP6_MAX_EXTHDRS; i++) {
		switch (nh) {
		case NH_TCP:
			l4->off = off;
			l4->claimed = end - off;
			l4->captured = off < cap ? cap - off : 0;
			return PKT_OK;
		case NH_HOPOPTS:
			/* Only allowed right after the fixed header. */
			if (off != 40)
				return PKT_MALFORMED;
			/* fall through */
		case NH_ROUTING:
		case NH_DSTOPTS:
			if (off + 2 > cap)
				return PKT_MALFORMED;
			hl = ((size_t)b[off + 1] + 1) * 8;
			break;
		case NH_AH:
			if (off + 2 > cap)
				return PKT_MALFORMED;
			hl = ((size_t)b[off + 1] + 2) * 4;
			break;
		case NH_FRAGMENT:
			if (off + 8 > cap)
				return PKT_MALFORMED;
			/* Offset or more-fragments set: a real fragment.
			 * Both clear: an atomic fragment (RFC 6946), which
			 * the receiver treats as a whole packet. */
			if (get16(b + off + 2) & 0xfff9)
				return PKT_FRAGMENT;
			hl = 8;
			break;
		default: /* ESP, no-next-header, UDP, ICMPv6, unknown */
			return PKT_NOT_TCP;
		}
		nh = b[off];
		off += hl;
		if (off > end)
			return PKT_MALFORMED;
	}
	return PKT_MALFORMED;
}

enum pkt_result pkt_parse(struct pkt *p, int family, const uint8_t *buf, size_t len)
{
	struct l4 l4;
	enum pkt_result r;
	const uint8_t *t;
	size_t doff;

	memset(p, 0, sizeof(*p));
	if (!buf)
		return PKT_MALFORMED;
	if (family == AF_INET)
		r = parse_ip4(p, buf, len, &l4);
	else if (family == AF_INET6)
		r = parse_ip6(p, buf, len, &l4);
	else
		return PKT_MALFORMED;
	if (r != PKT_OK)
		return r;

	/* Ports, sequence numbers and flags must all be there. */
	if (l4.claimed < 20 || l4.captured < 20)
		return PKT_MALFORMED;
	t = buf + l4.off;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > l4.claimed)
		return PKT_MALFORMED;
	p->sport = get16(t);
	p->dport = get16(t + 2);
	p->seq = get32(t + 4);
	p->ack = get32(t + 8);
	p->flags = t[13];
	p->truncated = l4.captured < l4.claimed;
	if (l4.captured > doff) {
		p->data = t + doff;
		p->datalen = l4.captured - doff;
	}
	return PKT_OK;
}

const char *pkt_result_name(enum pkt_result r)
{
	switch (r) {
	case PKT_OK:
		return "ok";
	case PKT_NOT_TCP:
		return "not tcp";
	case PKT_FRAGMENT:
		return "fragment";
	case PKT_MALFORMED:
		return "malformed";
	}
	return "?";
}
