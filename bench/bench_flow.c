/* bench_flow.c - packets per second through flow_packet on one core,
 * with synthetic POP3 and IMAP logins, and the memory 100,000
 * concurrent flows take.  Prints results; exit 0. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "packet.h"

#define NFLOWS 100000
#define STEPS 8 /* SYN, SYN-ACK, greeting, cmd, answer, cmd, answer, FIN */

struct wire {
	uint32_t off;
	uint16_t len;
	uint8_t out, family;
};

static uint8_t *arena;
static size_t arena_used;
static struct wire *wires; /* [flow][step] */

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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void add(struct wire *w, int family, bool out, const uint8_t *caddr,
		const uint8_t *saddr, uint16_t cport, uint16_t sport, uint32_t seq,
		uint32_t ack, uint8_t flags, const char *data)
{
	size_t ip = family == AF_INET ? 20 : 40, dl = data ? strlen(data) : 0;
	size_t alen = family == AF_INET ? 4 : 16;
	uint8_t *b = arena + arena_used, *t = b + ip;

	memset(b, 0, ip + 20);
	if (family == AF_INET) {
		b[0] = 0x45;
		put16(b + 2, ip + 20 + dl);
		b[9] = 6;
		memcpy(b + 12, out ? saddr : caddr, alen);
		memcpy(b + 16, out ? caddr : saddr, alen);
	} else {
		b[0] = 0x60;
		put16(b + 4, 20 + dl);
		b[6] = 6;
		memcpy(b + 8, out ? saddr : caddr, alen);
		memcpy(b + 24, out ? caddr : saddr, alen);
	}
	put16(t, out ? sport : cport);
	put16(t + 2, out ? cport : sport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	memcpy(t + 20, data, dl);
	/* flow_packet verifies it, as Linux's TCP does. */
	pkt_csum_fill(family, b, ip + 20 + dl);
	w->off = arena_used;
	w->len = ip + 20 + dl;
	w->out = out;
	w->family = family;
	arena_used += (w->len + 7) & ~7u;
}

/* Flow i: IPv4 or IPv6 by parity, POP3 or IMAP by i % 4 < 2, a client
 * address of its own. */
static void make_flow(unsigned i, uint32_t rnd)
{
	static const char *const pop3[] = { "+OK Dovecot ready.\r\n", "USER bob\r\n", "+OK\r\n",
					    "PASS secret\r\n", "+OK Logged in.\r\n" };
	static const char *const imap[] = { "* OK [CAPABILITY IMAP4rev1] ready\r\n",
					    "a1 CAPABILITY\r\n",
					    "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na1 OK done\r\n",
					    "a2 LOGIN bob secret\r\n", "a2 OK Logged in\r\n" };
	int family = i & 1 ? AF_INET6 : AF_INET;
	bool is_pop3 = i % 4 < 2;
	const char *const *dlg = is_pop3 ? pop3 : imap;
	uint8_t c[16] = { 0 }, s[16] = { 0 };
	uint32_t cs = rnd, ss = rnd * 2654435761u;
	uint16_t cport = 1024 + (i % 60000), sport = is_pop3 ? 110 : 143;
	struct wire *w = wires + (size_t)i * STEPS;
	int k;

	if (family == AF_INET) {
		c[0] = 10, c[1] = i >> 16, c[2] = i >> 8, c[3] = i;
		s[0] = 192, s[1] = 0, s[2] = 2, s[3] = 1;
	} else {
		inet_pton(AF_INET6, "2001:db8::", c);
		put32(c + 12, i);
		inet_pton(AF_INET6, "2001:db8::1", s);
	}
	add(w++, family, false, c, s, cport, sport, cs++, 0, TCP_SYN, NULL);
	add(w++, family, true, c, s, cport, sport, ss++, cs, TCP_SYN | TCP_ACK, NULL);
	for (k = 0; k < 5; k++) {
		bool out = !(k & 1);

		add(w++, family, out, c, s, cport, sport, out ? ss : cs, out ? cs : ss,
		    TCP_ACK | TCP_PSH, dlg[k]);
		if (out)
			ss += strlen(dlg[k]);
		else
			cs += strlen(dlg[k]);
	}
	add(w++, family, false, c, s, cport, sport, cs, ss, TCP_ACK | TCP_FIN, NULL);
}

static struct flow_table *table(unsigned max)
{
	struct flow_config cfg = {
		.pop3_ports = { 110 }, .n_pop3 = 1,
		.imap_ports = { 143 }, .n_imap = 1,
		.max_flows = max, .idle_ms = 600000,
	};
	struct flow_table *ft = flow_new(&cfg);

	if (!ft) {
		fprintf(stderr, "flow_new failed\n");
		exit(1);
	}
	return ft;
}

/* Steps [from, to) for flows [0, n), all flows interleaved step by step. */
static uint64_t run(struct flow_table *ft, unsigned n, int from, int to, uint64_t *grants)
{
	struct flow_grant g;
	uint64_t t0 = now_ns();
	unsigned i;
	int k;

	for (k = from; k < to; k++) {
		for (i = 0; i < n; i++) {
			const struct wire *w = wires + (size_t)i * STEPS + k;

			*grants += flow_packet(ft, w->family, w->out, arena + w->off, w->len, 1000, &g);
		}
	}
	return now_ns() - t0;
}

int main(void)
{
	struct flow_table *ft;
	uint64_t grants = 0, ns, pkts;
	long rss0, rss1;
	unsigned i, rounds, r;
	size_t mem;

	arena = malloc((size_t)NFLOWS * STEPS * 128);
	wires = malloc((size_t)NFLOWS * STEPS * sizeof(*wires));
	if (!arena || !wires)
		return 1;
	srandom(1);
	for (i = 0; i < NFLOWS; i++)
		make_flow(i, (uint32_t)random() * 2u + 1u);

	printf("flow entry: %zu bytes\n", flow_entry_size());

	/* 100,000 concurrent logins: every flow opens before any closes. */
	rss0 = rss_kb();
	ft = table(NFLOWS);
	ns = run(ft, NFLOWS, 0, STEPS - 1, &grants);
	mem = flow_memory(ft);
	rss1 = rss_kb();
	printf("100000 concurrent flows: %zu flows, flow_memory %.1f MB, RSS growth %.1f MB\n",
	       flow_count(ft), mem / 1e6, (rss1 - rss0) / 1e3);
	ns += run(ft, NFLOWS, STEPS - 1, STEPS, &grants);
	pkts = (uint64_t)NFLOWS * STEPS;
	printf("100000 concurrent flows: %llu packets in %.1f ms: %.0f packets/s, %.0f ns/packet, "
	       "%llu grants, %zu flows left\n",
	       (unsigned long long)pkts, ns / 1e6, pkts * 1e9 / ns, (double)ns / pkts,
	       (unsigned long long)grants, flow_count(ft));
	flow_free(ft);

	/* 1,000 concurrent flows, repeated: table in cache. */
	ft = table(4096);
	grants = 0;
	rounds = 100;
	ns = 0;
	for (r = 0; r < rounds; r++)
		ns += run(ft, 1000, 0, STEPS, &grants);
	pkts = (uint64_t)rounds * 1000 * STEPS;
	printf("1000 concurrent flows x %u: %.0f packets/s, %.0f ns/packet, %llu grants\n",
	       rounds, pkts * 1e9 / ns, (double)ns / pkts, (unsigned long long)grants);
	flow_free(ft);

	/* A full table under a SYN flood: every SYN evicts. */
	ft = table(NFLOWS / 10);
	grants = 0;
	ns = run(ft, NFLOWS, 0, 1, &grants);
	printf("SYN flood into a %u-flow table: %.0f SYNs/s, %.0f ns each, %llu evicted\n",
	       NFLOWS / 10, NFLOWS * 1e9 / ns, (double)ns / NFLOWS,
	       (unsigned long long)flow_stats(ft)->evicted);
	flow_free(ft);

	/* What the acceptance checks add per packet: parsing one segment
	 * with its checksum verified, by payload size. */
	{
		static const size_t sizes[] = { 20, 200, 1460 };
		static uint8_t pb[1600];
		struct pkt p;
		unsigned k, n = 2000000, ok = 0;

		for (k = 0; k < 3; k++) {
			memset(pb, 'x', sizeof(pb));
			memset(pb, 0, 20);
			pb[0] = 0x45, pb[9] = 6, pb[12] = 10, pb[15] = 1, pb[16] = 192, pb[19] = 1;
			put16(pb + 2, 40 + sizes[k]);
			memset(pb + 20, 0, 20);
			put16(pb + 20, 40000), put16(pb + 22, 110), pb[32] = 5 << 4, pb[33] = TCP_ACK;
			pkt_csum_fill(AF_INET, pb, 40 + sizes[k]);
			uint64_t t0 = now_ns();
			for (i = 0; i < n; i++)
				ok += pkt_parse(&p, AF_INET, pb, 40 + sizes[k]) == PKT_OK && p.csum == CSUM_OK;
			ns = now_ns() - t0;
			printf("pkt_parse with checksum, %zu-byte payload: %.0f ns/packet\n", sizes[k],
			       (double)ns / n);
		}
		if (ok != 3 * n)
			printf("(checksum did not verify: %u of %u)\n", ok, 3 * n);
	}

	free(arena);
	free(wires);
	return 0;
}
