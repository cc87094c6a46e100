/* packet.c - parse one IP packet from NFLOG down to the TCP payload
 *
 * Two lengths bound everything: what the IP header claims (total length,
 * payload length) and what was captured (len).  The payload ends at the
 * smaller; when the capture is the smaller one the packet is marked
 * truncated, so the caller can refuse to trust that stream.  Beyond the
 * layout, it reads what Linux's TCP judges a segment by before taking
 * its bytes: the checksum, the window field and the options (window
 * scale, timestamps, TCP-MD5, TCP-AO), with the kernel's parsing rules.
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

/* Every chain the kernel could deliver is walked to its end: each header
 * is at least 8 bytes, so the capture bounds the walk.  What we cannot
 * follow (cut by the snap length, a routing header still to be obeyed,
 * a jumbogram) is PKT_UNKNOWN: the kernel may still hand it to TCP. */
static enum pkt_result walk_ip6(struct pkt *p, const uint8_t *b, size_t len,
				struct l4 *l4, bool *first)
{
	size_t end, cap, off = 40, hl;
	uint16_t fo;
	uint8_t nh;

	if (len < 40 || b[0] >> 4 != 6)
		return PKT_MALFORMED;
	addr_from_bytes(&p->src, AF_INET6, b + 8);
	addr_from_bytes(&p->dst, AF_INET6, b + 24);
	/* Payload length 0 means a jumbogram (or a BIG TCP giant): its
	 * real length is elsewhere and no mail login needs one. */
	if (get16(b + 4) == 0)
		return PKT_UNKNOWN;
	end = 40 + (size_t)get16(b + 4);
	cap = end < len ? end : len;
	nh = b[6];
	for (;;) {
		switch (nh) {
		case NH_TCP:
			l4->off = off;
			l4->claimed = end - off;
			l4->captured = off < cap ? cap - off : 0;
			return PKT_OK;
		case NH_HOPOPTS:
			/* Only allowed right after the fixed header: the
			 * kernel drops it anywhere else. */
			if (off != 40)
				return PKT_MALFORMED;
			/* fall through */
		case NH_DSTOPTS:
			if (off + 2 > cap)
				return PKT_UNKNOWN;
			hl = ((size_t)b[off + 1] + 1) * 8;
			break;
		case NH_ROUTING:
			if (off + 4 > cap)
				return PKT_UNKNOWN;
			/* Segments left: the packet goes on to another
			 * address, or to us under another name. */
			if (b[off + 3] != 0)
				return PKT_UNKNOWN;
			hl = ((size_t)b[off + 1] + 1) * 8;
			break;
		case NH_AH:
			if (off + 2 > cap)
				return PKT_UNKNOWN;
			hl = ((size_t)b[off + 1] + 2) * 4;
			break;
		case NH_FRAGMENT:
			if (off + 8 > cap)
				return PKT_UNKNOWN;
			/* Offset or more-fragments set: a real fragment.
			 * Both clear: an atomic fragment (RFC 6946), which
			 * the receiver treats as a whole packet.  A first
			 * fragment's chain goes on to the ports; a second
			 * real fragment header in it is not followed. */
			fo = get16(b + off + 2);
			if (fo & 0xfff9) {
				if (*first)
					return PKT_FRAGMENT;
				if (fo & 0xfff8) {
					p->frag_later = true;
					return PKT_FRAGMENT;
				}
				*first = true;
			}
			hl = 8;
			break;
		default: /* ESP, no-next-header, UDP, ICMPv6, unknown */
			return PKT_NOT_TCP;
		}
		nh = b[off];
		off += hl;
		if (off > end)
			return PKT_MALFORMED;
		if (off > cap)
			return PKT_UNKNOWN;
	}
}

static enum pkt_result parse_ip6(struct pkt *p, const uint8_t *b, size_t len,
				 struct l4 *l4)
{
	bool first = false;
	enum pkt_result r = walk_ip6(p, b, len, l4, &first);

	if (!first)
		return r;
	/* A first fragment: only its ports are read (the segment is
	 * judged whole or not at all), and only when the chain reaches
	 * them within the fragment and the capture. */
	if (r == PKT_OK && l4->claimed >= 4 && l4->captured >= 4) {
		p->sport = get16(b + l4->off);
		p->dport = get16(b + l4->off + 2);
		p->ports = true;
	}
	return PKT_FRAGMENT;
}

/* Linux's tcp_parse_options and tcp_parse_auth_options: EOL ends the
 * list, a length below 2 or past the end stops the walk, and an option
 * counts only with its exact size. */
static void parse_options(struct pkt *p, const uint8_t *o, size_t n)
{
	size_t i = 0, sz;

	while (i < n) {
		uint8_t kind = o[i];

		if (kind == 0)
			return;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 2 > n)
			return;
		sz = o[i + 1];
		if (sz < 2 || sz > n - i)
			return;
		switch (kind) {
		case 3:
			if (sz == 3)
				p->wscale = o[i + 2] > 14 ? 14 : o[i + 2];
			break;
		case 8:
			if (sz == 10) {
				p->ts = true;
				p->tsval = get32(o + i + 2);
				p->tsecr = get32(o + i + 6);
			}
			break;
		case 19:
			if (sz == 18)
				p->md5 = true;
			break;
		case 29:
			if (sz >= 4)
				p->ao = true;
			break;
		}
		i += sz;
	}
}

/* The ones' complement sum (RFC 1071) taken 32 bits at a time: a
 * 32-bit word is congruent to the sum of its halves modulo 0xffff, so
 * folding the 64-bit total gives the same 16-bit sum at a quarter of
 * the steps. */
static uint64_t sum16(uint64_t s, const uint8_t *b, size_t n)
{
	size_t i = 0;

	for (; i + 4 <= n; i += 4)
		s += get32(b + i);
	if (i + 2 <= n) {
		s += get16(b + i);
		i += 2;
	}
	if (i < n)
		s += (uint32_t)b[i] << 8;
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The pseudo-header sum (RFC 793, RFC 8200 8.1) of a segment of len. */
static uint64_t pseudo(int family, const uint8_t *b, size_t len)
{
	if (family == AF_INET)
		return sum16(0, b + 12, 8) + 6 + (uint64_t)len;
	return sum16(0, b + 8, 32) + (uint64_t)(len >> 16) + (uint64_t)(len & 0xffff) + 6;
}

static enum pkt_result parse(struct pkt *p, int family, const uint8_t *buf, size_t len,
			     struct l4 *l4)
{
	enum pkt_result r;
	const uint8_t *t;
	size_t doff;

	memset(p, 0, sizeof(*p));
	p->wscale = PKT_NO_WSCALE;
	p->csum = CSUM_UNKNOWN;
	if (!buf)
		return PKT_MALFORMED;
	if (family == AF_INET)
		r = parse_ip4(p, buf, len, l4);
	else if (family == AF_INET6)
		r = parse_ip6(p, buf, len, l4);
	else
		return PKT_MALFORMED;
	if (r != PKT_OK)
		return r;

	t = buf + l4->off;
	if (l4->captured >= 4 && l4->claimed >= 4) {
		p->sport = get16(t);
		p->dport = get16(t + 2);
		p->ports = true;
	}
	/* Sequence numbers and flags must be there. */
	if (l4->claimed < 20)
		return PKT_MALFORMED;
	if (l4->captured < 20)
		return PKT_UNKNOWN;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20 || doff > l4->claimed)
		return PKT_MALFORMED;
	p->seq = get32(t + 4);
	p->ack = get32(t + 8);
	p->flags = t[13];
	p->win = get16(t + 14);
	p->urp = get16(t + 18);
	p->truncated = l4->captured < l4->claimed;
	p->seglen = l4->claimed - doff;
	p->l4off = l4->off;
	p->l4len = l4->claimed;
	parse_options(p, t + 20, (doff < l4->captured ? doff : l4->captured) - 20);
	if (l4->captured > doff) {
		p->data = t + doff;
		p->datalen = l4->captured - doff;
	}
	return PKT_OK;
}

enum pkt_result pkt_parse_head(struct pkt *p, int family, const uint8_t *buf, size_t len)
{
	struct l4 l4;

	return parse(p, family, buf, len, &l4);
}

void pkt_verify(struct pkt *p, int family, const uint8_t *buf)
{
	const uint8_t *t;
	uint64_t ph;

	if (p->truncated || !p->l4len)
		return;
	t = buf + p->l4off;
	ph = pseudo(family, buf, p->l4len);
	if (fold(sum16(ph, t, p->l4len)) == 0xffff)
		p->csum = CSUM_OK;
	else if (get16(t + 16) == fold(ph))
		p->csum = CSUM_PARTIAL;
	else
		p->csum = CSUM_BAD;
}

enum pkt_result pkt_parse(struct pkt *p, int family, const uint8_t *buf, size_t len)
{
	enum pkt_result r = pkt_parse_head(p, family, buf, len);

	if (r == PKT_OK)
		pkt_verify(p, family, buf);
	return r;
}

int pkt_csum_fill(int family, uint8_t *buf, size_t len)
{
	struct pkt p;
	struct l4 l4;
	uint8_t *t;

	if (parse(&p, family, buf, len, &l4) != PKT_OK || p.truncated)
		return -1;
	t = buf + l4.off;
	t[16] = t[17] = 0;
	uint16_t c = (uint16_t)~fold(sum16(pseudo(family, buf, l4.claimed), t, l4.claimed));

	t[16] = c >> 8;
	t[17] = c & 0xff;
	return 0;
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
	case PKT_UNKNOWN:
		return "unknown";
	}
	return "?";
}
