/* test_packet.c - hand-built IPv4 and IPv6 packets through pkt_parse */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "t.h"

static uint8_t buf[2048];

static void put16(uint8_t *b, unsigned v)
{
	b[0] = v >> 8;
	b[1] = v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

/* TCP header of doff 32-bit words (options filled with NOPs) followed by
 * the payload; returns the bytes written. */
static size_t tcp(uint8_t *b, unsigned sport, unsigned dport, uint32_t seq,
		  uint32_t ack, uint8_t flags, unsigned doff, const char *data)
{
	size_t dl = data ? strlen(data) : 0;

	memset(b, 0, doff * 4);
	put16(b, sport);
	put16(b + 2, dport);
	put32(b + 4, seq);
	put32(b + 8, ack);
	b[12] = doff << 4;
	b[13] = flags;
	put16(b + 14, 65535);
	memset(b + 20, 1, doff * 4 - 20); /* NOP options */
	if (dl)
		memcpy(b + doff * 4, data, dl);
	return doff * 4 + dl;
}

/* IPv4 header with ihl words (options NOP), frag field, protocol; the
 * total length covers l4len bytes after it. */
static size_t ip4(uint8_t *b, const char *src, const char *dst, unsigned ihl,
		  unsigned frag, uint8_t proto, size_t l4len)
{
	memset(b, 0, ihl * 4);
	b[0] = 0x40 | ihl;
	put16(b + 2, ihl * 4 + l4len);
	put16(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	inet_pton(AF_INET, src, b + 12);
	inet_pton(AF_INET, dst, b + 16);
	memset(b + 20, 1, ihl * 4 - 20);
	return ihl * 4;
}

static void ip6(uint8_t *b, const char *src, const char *dst, uint8_t nh, size_t plen)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, plen);
	b[6] = nh;
	b[7] = 64;
	inet_pton(AF_INET6, src, b + 8);
	inet_pton(AF_INET6, dst, b + 24);
}

/* An IPv6 extension header of 8*(units+1) bytes (or AH's 4*(units+2)). */
static size_t ext(uint8_t *b, uint8_t nh, uint8_t units, size_t bytes)
{
	memset(b, 0, bytes);
	b[0] = nh;
	b[1] = units;
	return bytes;
}

static size_t frag6(uint8_t *b, uint8_t nh, unsigned offset, int more)
{
	memset(b, 0, 8);
	b[0] = nh;
	put16(b + 2, offset << 3 | (more ? 1 : 0));
	put32(b + 4, 0x12345678);
	return 8;
}

static const char *fmt(const struct drac_addr *a)
{
	static char s[ADDR_STRLEN];

	return addr_fmt(a, s, sizeof(s));
}

static void test_ip4_plain(void)
{
	struct pkt p;
	size_t n = 20, t;

	t = tcp(buf + 20, 40000, 110, 1000, 2000, TCP_ACK | TCP_PSH, 5, "USER bob\r\n");
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0x4000, 6, t);
	n += t;
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, n), PKT_OK, "ipv4 tcp parses");
	T_EQ_STR(fmt(&p.src), "192.0.2.2", "ipv4 source");
	T_EQ_STR(fmt(&p.dst), "192.0.2.1", "ipv4 destination");
	T_EQ_INT(p.sport, 40000, "source port");
	T_EQ_INT(p.dport, 110, "destination port");
	T_EQ_INT(p.seq, 1000, "seq");
	T_EQ_INT(p.ack, 2000, "ack");
	T_EQ_INT(p.flags, TCP_ACK | TCP_PSH, "flags");
	T_EQ_INT(p.datalen, 10, "payload length");
	T_OK(p.data == buf + 40 && memcmp(p.data, "USER bob\r\n", 10) == 0, "payload pointer");
	T_OK(!p.truncated, "not truncated");

	/* Ethernet-style padding after the datagram is not payload. */
	memset(buf + n, 0xee, 6);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, n + 6), PKT_OK, "padded packet parses");
	T_EQ_INT(p.datalen, 10, "padding bounded by total length");
	T_OK(!p.truncated, "padding is not truncation");

	/* Sequence numbers near the top of the space survive intact. */
	tcp(buf + 20, 1, 143, 0xfffffffe, 0xffffffff, TCP_SYN, 5, NULL);
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 6, 20);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 40), PKT_OK, "syn parses");
	T_EQ_INT(p.seq, 0xfffffffe, "high seq");
	T_EQ_INT(p.ack, 0xffffffff, "high ack");
	T_EQ_INT(p.flags, TCP_SYN, "syn flag");
	T_OK(p.data == NULL && p.datalen == 0, "syn has no payload");
}

static void test_ip4_options(void)
{
	struct pkt p;
	size_t t;

	/* 12 bytes of IP options, 12 bytes of TCP options. */
	t = tcp(buf + 32, 40001, 143, 7, 8, TCP_ACK, 8, "a LOGIN x y\r\n");
	ip4(buf, "198.51.100.9", "192.0.2.1", 8, 0, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 32 + t), PKT_OK, "ip and tcp options parse");
	T_EQ_INT(p.sport, 40001, "port after ip options");
	T_EQ_INT(p.datalen, 13, "payload after tcp options");
	T_OK(p.data == buf + 64, "payload starts after both option blocks");
	T_EQ_STR(fmt(&p.src), "198.51.100.9", "source with options");
}

static void test_ip4_truncated(void)
{
	struct pkt p;
	size_t t;

	t = tcp(buf + 20, 40000, 110, 1, 2, TCP_ACK, 5, "PASS secret\r\n");
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 45), PKT_OK, "truncated capture still parses");
	T_OK(p.truncated, "truncated flagged");
	T_EQ_INT(p.datalen, 5, "only the captured payload");

	/* Capture ends inside the TCP options: ports known, no payload. */
	t = tcp(buf + 20, 40000, 110, 1, 2, TCP_ACK, 10, "PASS secret\r\n");
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 50), PKT_OK, "cut in options parses");
	T_OK(p.truncated && p.datalen == 0 && p.data == NULL, "cut in options: truncated, no payload");

	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 39), PKT_UNKNOWN, "cut in tcp header: the kernel may take it");
	T_OK(p.ports && p.sport == 40000 && p.dport == 110, "cut in tcp header: ports known");
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 19), PKT_MALFORMED, "cut in ip header");
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 0), PKT_MALFORMED, "empty");
	T_EQ_INT(pkt_parse(&p, AF_INET, NULL, 40), PKT_MALFORMED, "null buffer");
}

static void test_ip4_bad(void)
{
	struct pkt p;
	size_t t;

	t = tcp(buf + 20, 40000, 110, 1, 2, TCP_ACK, 5, "x");
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0x2000, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_FRAGMENT, "more-fragments");
	T_EQ_STR(fmt(&p.src), "192.0.2.2", "fragment keeps source");
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0x0001, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_FRAGMENT, "fragment offset");
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0x4000 | 0x0100, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_FRAGMENT, "DF with offset");

	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 17, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_NOT_TCP, "udp");

	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 20 + t), PKT_MALFORMED, "ipv4 bytes as ipv6");
	T_EQ_INT(pkt_parse(&p, AF_UNIX, buf, 20 + t), PKT_MALFORMED, "unknown family");
	buf[0] = 0x44;
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_MALFORMED, "ihl 4");
	buf[0] = 0x4f;
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_MALFORMED, "ihl beyond total length");
	buf[0] = 0x45;
	put16(buf + 2, 19);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_MALFORMED, "total length below ihl");
	put16(buf + 2, 30);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_MALFORMED, "total length cuts tcp header");
	put16(buf + 2, 20 + t);
	buf[20 + 12] = 4 << 4;
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_MALFORMED, "data offset 4");
	buf[20 + 12] = 6 << 4;
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_MALFORMED, "data offset beyond datagram");
	buf[20 + 12] = 5 << 4;
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_OK, "restored header parses");
}

static void test_ip6_plain(void)
{
	struct pkt p;
	size_t t;

	t = tcp(buf + 40, 50000, 995, 0x80000000, 5, TCP_ACK, 5, "+OK\r\n");
	ip6(buf, "2001:db8::1", "2001:db8::2", 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t), PKT_OK, "ipv6 tcp parses");
	T_EQ_STR(fmt(&p.src), "2001:db8::1", "ipv6 source");
	T_EQ_STR(fmt(&p.dst), "2001:db8::2", "ipv6 destination");
	T_EQ_INT(p.sport, 50000, "ipv6 sport");
	T_EQ_INT(p.dport, 995, "ipv6 dport");
	T_EQ_INT(p.seq, 0x80000000u, "ipv6 seq");
	T_EQ_INT(p.datalen, 5, "ipv6 payload");
	T_OK(p.data == buf + 60, "ipv6 payload pointer");

	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t + 8), PKT_OK, "ipv6 padded");
	T_EQ_INT(p.datalen, 5, "ipv6 padding bounded by payload length");
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t - 2), PKT_OK, "ipv6 truncated");
	T_OK(p.truncated && p.datalen == 3, "ipv6 truncated flagged, 3 bytes");
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 40 + t), PKT_MALFORMED, "ipv6 bytes as ipv4");
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 39), PKT_MALFORMED, "short ipv6 header");
	put16(buf + 4, 0);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t), PKT_UNKNOWN, "payload length 0 (jumbo)");
	put16(buf + 4, 10);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t), PKT_MALFORMED, "payload length cuts tcp");
	ip6(buf, "2001:db8::1", "2001:db8::2", 17, t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t), PKT_NOT_TCP, "ipv6 udp");
	ip6(buf, "2001:db8::1", "2001:db8::2", 58, t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 40 + t), PKT_NOT_TCP, "icmpv6");
}

static void test_ip6_ext(void)
{
	struct pkt p;
	size_t off = 40, t, i;

	/* hop-by-hop (8) -> destination options (16) -> routing (24)
	 * -> atomic fragment (8) -> AH (24) -> TCP */
	off += ext(buf + off, 60, 0, 8);
	off += ext(buf + off, 43, 1, 16);
	off += ext(buf + off, 44, 2, 24);
	off += frag6(buf + off, 51, 0, 0);
	off += ext(buf + off, 6, 4, 24);
	t = tcp(buf + off, 50001, 143, 9, 10, TCP_ACK, 7, "a OK\r\n");
	ip6(buf, "2001:db8::9", "2001:db8::1", 0, off - 40 + t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_OK, "extension header chain");
	T_EQ_INT(p.sport, 50001, "port after chain");
	T_EQ_INT(p.datalen, 6, "payload after chain");
	T_OK(p.data == buf + off + 28, "payload pointer after chain");

	/* Cut inside the chain: the headers cannot be walked. */
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 50), PKT_UNKNOWN, "capture ends in ext header");
	T_EQ_STR(fmt(&p.src), "2001:db8::9", "unknown keeps source");
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + 10), PKT_UNKNOWN, "capture ends in tcp header");

	/* A real fragment: first piece, and a later piece. */
	frag6(buf + 48 + 16 + 24, 51, 0, 1);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_FRAGMENT, "first fragment");
	T_EQ_STR(fmt(&p.src), "2001:db8::9", "fragment keeps source");
	T_OK(p.ports && p.sport == 50001 && p.dport == 143 && !p.frag_later,
	     "first fragment: ports read through the chain");
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + 2), PKT_FRAGMENT, "first fragment cut before the ports");
	T_OK(!p.ports && !p.frag_later, "... names no ports");
	frag6(buf + 48 + 16 + 24, 51, 185, 0);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_FRAGMENT, "last fragment");
	T_OK(!p.ports && p.frag_later, "last fragment: no ports, a later piece");
	frag6(buf + 48 + 16 + 24, 51, 0, 0);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_OK, "atomic fragment again");

	/* ESP and no-next-header stop the walk. */
	buf[48 + 16] = 50;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_NOT_TCP, "esp");
	buf[48 + 16] = 59;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_NOT_TCP, "no next header");
	buf[48 + 16] = 250;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_NOT_TCP, "unknown next header");
	/* hop-by-hop anywhere but first */
	buf[48 + 16] = 0;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_MALFORMED, "late hop-by-hop");
	buf[48 + 16] = 44;

	/* An extension header longer than the payload length. */
	buf[41 + 8] = 200;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_MALFORMED, "ext header beyond payload");
	buf[41 + 8] = 1;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_OK, "chain restored");

	/* Any number of extension headers is walked (the kernel does). */
	off = 40;
	for (i = 0; i < 12; i++)
		off += ext(buf + off, i == 11 ? 6 : 60, 0, 8);
	t = tcp(buf + off, 1, 143, 1, 1, TCP_ACK, 5, "x");
	ip6(buf, "2001:db8::9", "2001:db8::1", 60, off - 40 + t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_OK, "twelve ext headers");
	T_EQ_INT(p.datalen, 1, "payload after twelve ext headers");
	off = 40;
	for (i = 0; i < 200; i++)
		off += ext(buf + off, i == 199 ? 6 : 60, 0, 8);
	t = tcp(buf + off, 1, 143, 1, 1, TCP_ACK, 5, "x");
	ip6(buf, "2001:db8::9", "2001:db8::1", 60, off - 40 + t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_OK, "two hundred ext headers");
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, 1000), PKT_UNKNOWN, "chain longer than the capture");

	/* A routing header with segments left: not ours to read yet. */
	off = 40;
	off += ext(buf + off, 6, 0, 8);
	buf[40 + 2] = 0; /* type 0 */
	buf[40 + 3] = 1; /* segments left */
	t = tcp(buf + off, 1, 143, 1, 1, TCP_ACK, 5, "x");
	ip6(buf, "2001:db8::9", "2001:db8::1", 43, off - 40 + t);
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_UNKNOWN, "routing header, segments left");
	buf[40 + 3] = 0;
	T_EQ_INT(pkt_parse(&p, AF_INET6, buf, off + t), PKT_OK, "routing header, none left");
}

/* The checksum as Linux's TCP judges it, and the options it reads. */
static void test_csum_options(void)
{
	struct pkt p;
	size_t t, n;
	uint8_t *o;
	uint32_t ps;

	for (int v6 = 0; v6 < 2; v6++) {
		size_t ip = v6 ? 40 : 20;

		t = tcp(buf + ip, 40000, 110, 1, 2, TCP_ACK, 5, "PASS secret\r\n");
		if (v6)
			ip6(buf, "2001:db8::2", "2001:db8::1", 6, t);
		else
			ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 6, t);
		n = ip + t;
		T_EQ_INT(pkt_csum_fill(v6 ? AF_INET6 : AF_INET, buf, n), 0, "v%d: checksum filled", v6 ? 6 : 4);
		T_EQ_INT(pkt_parse(&p, v6 ? AF_INET6 : AF_INET, buf, n), PKT_OK, "v%d: parses", v6 ? 6 : 4);
		T_EQ_INT(p.csum, CSUM_OK, "v%d: good checksum", v6 ? 6 : 4);
		buf[n - 1] ^= 1;
		pkt_parse(&p, v6 ? AF_INET6 : AF_INET, buf, n);
		T_EQ_INT(p.csum, CSUM_BAD, "v%d: one payload bit flipped: bad", v6 ? 6 : 4);
		buf[n - 1] ^= 1;
		/* What a local sender leaves for the NIC: the pseudo-header
		 * sum alone, computed here by hand. */
		if (v6) {
			ps = 0;
			for (int i = 8; i < 40; i += 2)
				ps += (uint32_t)(buf[i] << 8 | buf[i + 1]);
			ps += (uint32_t)t + 6;
		} else {
			ps = (192u << 8 | 0) + (2u << 8 | 2) + (192u << 8 | 0) + (2u << 8 | 1) + 6 + (uint32_t)t;
		}
		while (ps >> 16)
			ps = (ps & 0xffff) + (ps >> 16);
		put16(buf + ip + 16, ps);
		pkt_parse(&p, v6 ? AF_INET6 : AF_INET, buf, n);
		T_EQ_INT(p.csum, CSUM_PARTIAL, "v%d: pseudo-header sum only: partial", v6 ? 6 : 4);
		T_EQ_INT(pkt_parse(&p, v6 ? AF_INET6 : AF_INET, buf, n - 3), PKT_OK, "v%d: truncated parses", v6 ? 6 : 4);
		T_EQ_INT(p.csum, CSUM_UNKNOWN, "v%d: truncated: checksum unknown", v6 ? 6 : 4);
	}

	/* Options: NOP NOP TS, wscale, MD5 (18 bytes), AO. */
	t = tcp(buf + 20, 40000, 110, 1, 2, TCP_SYN, 15, NULL);
	o = buf + 40;
	o[0] = 1, o[1] = 1, o[2] = 8, o[3] = 10;
	put32(o + 4, 0x01020304);
	put32(o + 8, 0x05060708);
	o[12] = 3, o[13] = 3, o[14] = 7;
	o[15] = 19, o[16] = 18;
	ip4(buf, "192.0.2.2", "192.0.2.1", 5, 0, 6, t);
	T_EQ_INT(pkt_parse(&p, AF_INET, buf, 20 + t), PKT_OK, "options parse");
	T_OK(p.ts && p.tsval == 0x01020304 && p.tsecr == 0x05060708, "timestamp read");
	T_EQ_INT(p.wscale, 7, "window scale read");
	put16(buf + 20 + 18, 0x1234);
	pkt_parse(&p, AF_INET, buf, 20 + t);
	T_EQ_INT(p.urp, 0x1234, "urgent pointer read");
	put16(buf + 20 + 18, 0);
	T_OK(p.md5 && !p.ao, "TCP-MD5 seen");
	o[16] = 17; /* a kind 19 of the wrong size is not a signature to Linux */
	o[15 + 17] = 0;
	pkt_parse(&p, AF_INET, buf, 20 + t);
	T_OK(!p.md5, "MD5 option of the wrong size is not MD5");
	o[15] = 29, o[16] = 4;
	pkt_parse(&p, AF_INET, buf, 20 + t);
	T_OK(p.ao && !p.md5, "TCP-AO seen");
	/* A bad length stops the walk, as in tcp_parse_options. */
	o[12] = 5, o[13] = 1;
	pkt_parse(&p, AF_INET, buf, 20 + t);
	T_OK(p.ts && p.wscale == PKT_NO_WSCALE && !p.ao, "walk stops at a length below 2");
	o[2] = 8, o[3] = 11;
	pkt_parse(&p, AF_INET, buf, 20 + t);
	T_OK(!p.ts, "timestamp of the wrong size ignored");
	o[0] = 0;
	o[2] = 8, o[3] = 10;
	pkt_parse(&p, AF_INET, buf, 20 + t);
	T_OK(!p.ts, "nothing after end-of-list");
}

/* Random bytes, random lengths: whatever comes back, the payload lies
 * inside the buffer. */
static void test_garbage(void)
{
	static uint8_t g[256];
	struct pkt p;
	unsigned i, j, bad = 0, okc = 0;
	size_t len;
	int fam;

	srandom(7);
	for (i = 0; i < 200000; i++) {
		len = random() % sizeof(g);
		for (j = 0; j < len; j++)
			g[j] = random();
		fam = (i & 1) ? AF_INET : AF_INET6;
		/* Make the version and lengths plausible half the time. */
		if ((i & 2) && len >= 40) {
			g[0] = fam == AF_INET ? 0x45 : 0x60;
			g[9] = 6;
			g[6] = 6;
			put16(g + 2, len);
			put16(g + 4, len - 40);
		}
		if (pkt_parse(&p, fam, g, len) == PKT_OK) {
			okc++;
			if (p.datalen && (p.data < g || p.data + p.datalen > g + len))
				bad++;
		}
	}
	T_EQ_INT(bad, 0, "garbage: payload always inside the capture (%u parsed)", okc);
	T_OK(okc > 0, "garbage: some random packets parse");
}

int main(void)
{
	test_ip4_plain();
	test_ip4_options();
	test_ip4_truncated();
	test_ip4_bad();
	test_ip6_plain();
	test_ip6_ext();
	test_csum_options();
	test_garbage();
	return T_DONE();
}
