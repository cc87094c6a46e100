/* fuzz_packet.c - packets into a small flow table, both directions and
 * both families.  The input is a list of records:
 *   ctl, len (2 bytes little-endian), len bytes
 * ctl bit 0: outgoing; bit 1: IPv6; bit 2: the bytes are a recipe for a
 * well-formed TCP packet on one of four connections (so flows really
 * open and carry data) rather than a raw packet; bits 3-4: clock step;
 * bit 5: run flow_expire; bits 6 and 7 together: flow_lost; bit 7 alone:
 * the packet came in on loopback.  Recipe port byte: bits 0-1 the port,
 * bit 4 sets the urgent pointer to the ack delta byte times 64, bit 5
 * multiplies the sequence delta by 128 (reaching past the 8 KB of kept
 * dialogue), bit 6 spoils the checksum, bit 7 takes the first 12
 * payload bytes as TCP options (timestamps, MD5, window scale...). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "packet.h"

#define NCONN 4

static struct flow_table *ft;
static uint32_t cseq[NCONN], sseq[NCONN];

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

/* Recipe: conn, port, seq delta, ack delta, flags, then payload. */
static size_t recipe(uint8_t *b, bool out, bool v6, const uint8_t *r, size_t n)
{
	static const uint16_t ports[] = { 110, 143, 995, 25 };
	static const char *const cl[] = { "192.0.2.2", "192.0.2.3", "2001:db8::2", "2001:db8::3" };
	unsigned i, ip = v6 ? 40 : 20;
	uint8_t caddr[16], saddr[16], *t = b + ip;
	uint32_t seq, ack;
	uint16_t cport, sport;
	size_t dl;

	if (n < 5)
		return 0;
	size_t th = r[1] & 0x80 ? 32 : 20;

	i = r[0] % NCONN;
	sport = ports[r[1] & 3];
	cport = 40000 + i;
	if (n < 5 + th - 20)
		return 0;
	dl = n - 5 - (th - 20);
	inet_pton(v6 ? AF_INET6 : AF_INET, cl[(v6 ? 2 : 0) + (i & 1)], caddr);
	inet_pton(v6 ? AF_INET6 : AF_INET, v6 ? "2001:db8::1" : "192.0.2.1", saddr);
	memset(b, 0, ip + th);
	if (v6) {
		b[0] = 0x60;
		put16(b + 4, th + dl);
		b[6] = 6;
		memcpy(b + 8, out ? saddr : caddr, 16);
		memcpy(b + 24, out ? caddr : saddr, 16);
	} else {
		b[0] = 0x45;
		put16(b + 2, 20 + th + dl);
		b[9] = 6;
		memcpy(b + 12, out ? saddr : caddr, 4);
		memcpy(b + 16, out ? caddr : saddr, 4);
	}
	seq = (out ? sseq[i] : cseq[i]) + (uint32_t)((int8_t)r[2] * (r[1] & 0x20 ? 128 : 1));
	ack = (out ? cseq[i] : sseq[i]) + (int8_t)r[3];
	put16(t, out ? sport : cport);
	put16(t + 2, out ? cport : sport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)(th / 4) << 4;
	t[13] = r[4];
	if (r[1] & 0x10)
		put16(t + 18, (unsigned)r[3] << 6);
	memcpy(t + 20, r + 5, th - 20);
	memcpy(t + th, r + 5 + (th - 20), dl);
	pkt_csum_fill(v6 ? AF_INET6 : AF_INET, b, ip + th + dl);
	if (r[1] & 0x40)
		t[16] ^= 0xff;
	/* In-order segments move the connection on. */
	if ((int8_t)r[2] == 0) {
		seq += dl + ((r[4] & (TCP_SYN | TCP_FIN)) ? 1 : 0);
		if (out)
			sseq[i] = seq;
		else
			cseq[i] = seq;
	}
	return ip + th + dl;
}

static unsigned ndone;
static void on_done(void *arg, const struct flow_tuple *t)
{
	(void)arg;
	if (t->cport < 40000 && t->family != AF_INET && t->family != AF_INET6)
		abort();
	ndone++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t b[4096 + 64];
	struct flow_config cfg = {
		.pop3_ports = { 110, 995 }, .n_pop3 = 2,
		.imap_ports = { 143 }, .n_imap = 1,
		.max_flows = 3, .idle_ms = 5000, .done = on_done,
	};
	static const uint64_t steps[] = { 0, 10, 1000, 100000 };
	struct flow_grant g;
	uint64_t now = 1;
	size_t len, plen;
	unsigned i;

	static size_t empty;

	if (!ft) {
		ft = flow_new(&cfg);
		empty = flow_memory(ft);
	}
	for (i = 0; i < NCONN; i++) {
		cseq[i] = 1000u * i - (i == 3 ? 2000u : 0); /* conn 3 wraps */
		sseq[i] = 7000000u * i;
	}
	while (size >= 3) {
		uint8_t ctl = data[0];
		bool out = ctl & 1, v6 = ctl & 2;
		unsigned how = (out ? FLOW_OUT : 0) | ((ctl & 0xc0) == 0x80 ? FLOW_LOCAL : 0);

		len = data[1] | data[2] << 8;
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > 4096)
			len = 4096;
		now += steps[(ctl >> 3) & 3];
		if (ctl & 4) {
			plen = recipe(b, out, v6, data, len);
			if (plen)
				flow_packet(ft, v6 ? AF_INET6 : AF_INET, how, b, plen, now, &g);
		} else {
			/* Raw bytes in a buffer of exactly their size, so
			 * ASan sees any read past the end. */
			uint8_t *raw = malloc(len ? len : 1);

			memcpy(raw, data, len);
			flow_packet(ft, v6 ? AF_INET6 : AF_INET, how, raw, len, now, &g);
			free(raw);
		}
		if (ctl & 32)
			flow_expire(ft, now);
		if ((ctl & 0xc0) == 0xc0)
			flow_lost(ft);
		if (flow_count(ft) > cfg.max_flows)
			abort();
		data += len;
		size -= len;
	}
	/* Start every input from an empty table. */
	flow_expire(ft, now + 1000000);
	if (flow_count(ft) != 0 || flow_memory(ft) != empty)
		abort();
	return 0;
}
