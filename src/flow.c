/* flow.c - TCP connections from the client's SYN to FIN, RST or idle
 * expiry, feeding the POP3/IMAP machines their two byte streams
 *
 * The tap sees packets before the server's TCP has judged them, so a
 * client can show us bytes the server drops (bad checksum, bad ACK) and
 * then send other bytes at the same sequence.  Hence: bytes only in
 * order, no gap ever skipped, the last FLOW_KEEP client bytes kept and
 * every retransmit compared with them, and a server ACK beyond what we
 * saw ends the flow.  The table is one array reserved at flow_new, a
 * keyed hash over the 4-tuple, and three LRU lists for eviction.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "flow.h"
#include "imap.h"
#include "log.h"
#include "packet.h"
#include "pop3.h"
#include "proto.h"

/* Client bytes kept for comparing retransmits; a power of two. */
#define FLOW_KEEP 256
/* An IPv6 fragment can wait this long in the server's reassembly queue
 * (ip6frag_time): the bytes it completes are bytes we never saw. */
#define TAINT_MS 60000
#define TAINT_SLOTS 1024
#define DEFAULT_IDLE_MS (10 * 60 * 1000)
#define NIL UINT32_MAX

enum flow_state { ST_SYN, ST_OPEN, ST_DONE };
/* Eviction order: finished flows first, then flows that never carried a
 * byte (half-open, SYN floods), then the least recently active. */
enum flow_list_id { L_DONE, L_FRESH, L_ACTIVE, L_COUNT };
enum flow_proto { M_POP3, M_IMAP };

struct flow_key {
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;
	uint8_t family;
	uint8_t pad[3];
};

struct flow {
	struct flow_key key;
	uint32_t hash;
	uint32_t hnext;      /* bucket chain, or free list */
	uint32_t prev, next; /* LRU list */
	uint8_t state, list, proto, carried;
	uint16_t ckept;      /* valid bytes in ring */
	uint32_t cisn, cnext; /* client: initial and next expected sequence */
	uint32_t sisn, snext; /* server */
	uint32_t epoch;      /* ft->epoch at SYN: capture losses since? */
	uint64_t born_ms, last_ms;
	uint8_t ring[FLOW_KEEP]; /* client byte at seq s sits at s % FLOW_KEEP */
	union {
		struct pop3 pop3;
		struct imap imap;
	} m;
};

struct flow_lru {
	uint32_t head, tail;
};

struct flow_table {
	struct flow_config cfg;
	struct flow_stats st;
	uint8_t key[16];
	uint32_t *buckets, mask;
	struct flow *e;
	uint32_t used, free, count; /* high-water mark, free list, live */
	struct flow_lru lru[L_COUNT];
	uint32_t epoch;
	uint64_t taint[TAINT_SLOTS]; /* last fragment time + 1, by source */
};

/* SipHash-2-4 (Aumasson, Bernstein): keyed, so flooding one bucket
 * takes knowing the key. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                       \
	do {                                                           \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                 \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                 \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t siphash(const uint8_t k[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = le64(k), k1 = le64(k + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	const uint8_t *end = in + (len & ~(size_t)7);
	size_t left = len & 7;

	for (; in != end; in += 8) {
		m = le64(in);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	while (left--)
		b |= (uint64_t)in[left] << (8 * left);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void seed(uint8_t key[16])
{
	struct timespec ts;
	uint64_t x;
	size_t i;

	if (getrandom(key, 16, GRND_NONBLOCK) == 16)
		return;
	/* No entropy yet (early boot): still better than a constant. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	x = (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
	    (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)key;
	for (i = 0; i < 16; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		key[i] = x >> 24;
	}
}

/* LRU lists */

static void lru_unlink(struct flow_table *ft, struct flow *f)
{
	struct flow_lru *l = &ft->lru[f->list];

	if (f->prev != NIL)
		ft->e[f->prev].next = f->next;
	else
		l->head = f->next;
	if (f->next != NIL)
		ft->e[f->next].prev = f->prev;
	else
		l->tail = f->prev;
}

static void lru_append(struct flow_table *ft, struct flow *f, int list)
{
	struct flow_lru *l = &ft->lru[list];
	uint32_t idx = (uint32_t)(f - ft->e);

	f->list = list;
	f->next = NIL;
	f->prev = l->tail;
	if (l->tail != NIL)
		ft->e[l->tail].next = idx;
	else
		l->head = idx;
	l->tail = idx;
}

/* Most recently active goes last, possibly into another list. */
static void lru_move(struct flow_table *ft, struct flow *f, int list)
{
	if (f->list == list && ft->lru[list].tail == (uint32_t)(f - ft->e))
		return;
	lru_unlink(ft, f);
	lru_append(ft, f, list);
}

/* The table */

static void key_make(struct flow_key *k, int family, const struct drac_addr *client,
		     uint16_t cport, const struct drac_addr *server, uint16_t sport)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->caddr, client->a, 16);
	memcpy(k->saddr, server->a, 16);
	k->cport = cport;
	k->sport = sport;
	k->family = family;
}

static uint32_t key_hash(const struct flow_table *ft, const struct flow_key *k)
{
	return (uint32_t)siphash(ft->key, (const uint8_t *)k, sizeof(*k));
}

static uint32_t flow_lookup(const struct flow_table *ft, const struct flow_key *k, uint32_t h)
{
	uint32_t i;

	for (i = ft->buckets[h & ft->mask]; i != NIL; i = ft->e[i].hnext)
		if (ft->e[i].hash == h && memcmp(&ft->e[i].key, k, sizeof(*k)) == 0)
			return i;
	return NIL;
}

static void flow_remove(struct flow_table *ft, struct flow *f)
{
	uint32_t idx = (uint32_t)(f - ft->e), *pp = &ft->buckets[f->hash & ft->mask];

	while (*pp != idx)
		pp = &ft->e[*pp].hnext;
	*pp = f->hnext;
	lru_unlink(ft, f);
	f->hnext = ft->free;
	ft->free = idx;
	ft->count--;
}

static struct flow *flow_alloc(struct flow_table *ft)
{
	uint32_t idx;
	int l;

	if (ft->free != NIL) {
		idx = ft->free;
		ft->free = ft->e[idx].hnext;
		return &ft->e[idx];
	}
	if (ft->used < ft->cfg.max_flows)
		return &ft->e[ft->used++];
	for (l = 0; l < L_COUNT; l++) {
		if (ft->lru[l].head != NIL) {
			ft->st.evicted++;
			flow_remove(ft, &ft->e[ft->lru[l].head]);
			idx = ft->free;
			ft->free = ft->e[idx].hnext;
			return &ft->e[idx];
		}
	}
	return NULL; /* not reached: max_flows >= 1 */
}

static int port_proto(const struct flow_table *ft, uint16_t port)
{
	unsigned i;

	for (i = 0; i < ft->cfg.n_pop3; i++)
		if (ft->cfg.pop3_ports[i] == port)
			return M_POP3;
	for (i = 0; i < ft->cfg.n_imap; i++)
		if (ft->cfg.imap_ports[i] == port)
			return M_IMAP;
	return -1;
}

static uint32_t taint_slot(const struct flow_table *ft, int family, const uint8_t *a)
{
	uint8_t b[17];

	b[0] = family;
	memcpy(b + 1, a, 16);
	return (uint32_t)siphash(ft->key, b, sizeof(b)) & (TAINT_SLOTS - 1);
}

/* A fragment from this client within TAINT_MS of the flow's life may
 * have been reassembled into bytes we never saw.  Slots are shared, so
 * a collision can refuse a grant; it never makes one. */
static bool flow_tainted(const struct flow_table *ft, const struct flow *f)
{
	uint64_t t = ft->taint[taint_slot(ft, f->key.family, f->key.caddr)];

	return t && t - 1 + TAINT_MS >= f->born_ms;
}

/* Per-flow steps */

static void flow_finish(struct flow_table *ft, struct flow *f)
{
	f->state = ST_DONE;
	lru_move(ft, f, L_DONE);
}

/* dracd -d says why a connection ended without a grant: the answer to
 * "why was this login not granted?" */
static void flow_say(const struct flow *f, const char *what)
{
	struct drac_addr a;
	char buf[ADDR_STRLEN];

	addr_from_bytes(&a, f->key.family, f->key.caddr);
	msg_debug("%s %s:%u -> port %u: %s, no grant", f->proto == M_POP3 ? "pop3" : "imap",
		  addr_fmt(&a, buf, sizeof(buf)), f->key.cport, f->key.sport, what);
}

static void flow_abort_(struct flow_table *ft, struct flow *f, uint64_t *why, const char *what)
{
	if (why)
		(*why)++;
	ft->st.aborted++;
	flow_say(f, what);
	flow_finish(ft, f);
}

/* flow_abort(ft, f, counter): count it under that name and say so. */
#define flow_abort(ft, f, field) flow_abort_(ft, f, &(ft)->st.field, #field)

static int flow_feed(struct flow_table *ft, struct flow *f, enum proto_dir dir,
		     const uint8_t *data, size_t len)
{
	enum proto_verdict v;
	enum proto_reason r;

	if (!f->carried) {
		f->carried = 1;
		lru_move(ft, f, L_ACTIVE);
	}
	if (f->proto == M_POP3)
		v = pop3_feed(&f->m.pop3, dir, data, len);
	else
		v = imap_feed(&f->m.imap, dir, data, len);
	if (v == PROTO_CONTINUE)
		return 0;
	r = f->proto == M_POP3 ? pop3_reason(&f->m.pop3) : imap_reason(&f->m.imap);
	switch (v) {
	case PROTO_GRANT:
		/* Only the server's answer can make a login. */
		if (dir != DIR_TO_CLIENT) {
			flow_abort(ft, f, syntax);
			return 0;
		}
		flow_finish(ft, f);
		return 1;
	case PROTO_DONE:
		if (r == PR_TLS)
			ft->st.tls++;
		else
			ft->st.done++;
		flow_say(f, r == PR_TLS ? "TLS (use the log hook)" : "session ended");
		flow_finish(ft, f);
		return 0;
	default:
		if (r == PR_OVERFLOW)
			flow_abort(ft, f, overflow);
		else
			flow_abort(ft, f, syntax);
		return 0;
	}
}

static int flow_client(struct flow_table *ft, struct flow *f, const struct pkt *p)
{
	uint32_t back, old, n, i, keep;
	size_t len = p->datalen;

	/* Data before the server's SYN-ACK: the server drops it too. */
	if (f->state != ST_OPEN || !len || (p->flags & TCP_SYN))
		return 0;
	/* The urgent byte leaves the server's in-line stream. */
	if (p->flags & TCP_URG) {
		flow_abort(ft, f, urgent);
		return 0;
	}
	if ((int32_t)(p->seq - f->cnext) > 0) {
		flow_abort(ft, f, gaps);
		return 0;
	}
	back = f->cnext - p->seq;
	old = back < len ? back : (uint32_t)len;
	if (old) {
		if (back > f->ckept) {
			flow_abort(ft, f, conflicts);
			return 0;
		}
		for (i = 0; i < old; i++) {
			if (p->data[i] != f->ring[(p->seq + i) & (FLOW_KEEP - 1)]) {
				flow_abort(ft, f, conflicts);
				return 0;
			}
		}
	}
	n = (uint32_t)len - old;
	if (!n)
		return 0;
	keep = n < FLOW_KEEP ? n : FLOW_KEEP;
	for (i = n - keep; i < n; i++)
		f->ring[(f->cnext + i) & (FLOW_KEEP - 1)] = p->data[old + i];
	f->cnext += n;
	f->ckept = f->ckept + keep < FLOW_KEEP ? f->ckept + keep : FLOW_KEEP;
	return flow_feed(ft, f, DIR_TO_SERVER, p->data + old, n);
}

static int flow_server(struct flow_table *ft, struct flow *f, const struct pkt *p)
{
	uint32_t back, old;
	size_t len = p->datalen;

	if (p->flags & TCP_SYN) {
		if (!(p->flags & TCP_ACK))
			return 0;
		if (f->state == ST_SYN && p->ack == f->cnext) {
			f->sisn = p->seq;
			f->snext = p->seq + 1;
			f->state = ST_OPEN;
		} else if (f->state == ST_SYN || p->seq != f->sisn) {
			/* Answers a SYN we did not see. */
			flow_abort(ft, f, conflicts);
		}
		return 0;
	}
	/* The SYN-ACK escaped us: there is no server stream to follow. */
	if (f->state != ST_OPEN) {
		flow_abort(ft, f, gaps);
		return 0;
	}
	/* The server acknowledges client bytes we never saw. */
	if ((p->flags & TCP_ACK) && (int32_t)(p->ack - f->cnext) > 0) {
		flow_abort(ft, f, gaps);
		return 0;
	}
	if (!len)
		return 0;
	if ((int32_t)(p->seq - f->snext) > 0) {
		flow_abort(ft, f, gaps);
		return 0;
	}
	/* What the server sent twice it sent the same: skip, no check. */
	back = f->snext - p->seq;
	old = back < len ? back : (uint32_t)len;
	if (old == len)
		return 0;
	f->snext += (uint32_t)len - old;
	return flow_feed(ft, f, DIR_TO_CLIENT, p->data + old, len - old);
}

static void flow_open(struct flow_table *ft, const struct flow_key *k, uint32_t h, int proto,
		      const struct pkt *p, uint64_t now_ms)
{
	uint32_t idx;
	struct flow *f;

	idx = flow_lookup(ft, k, h);
	if (idx != NIL) {
		f = &ft->e[idx];
		/* The same SYN again. */
		if (f->cisn == p->seq) {
			f->last_ms = now_ms;
			lru_move(ft, f, f->list);
			return;
		}
		ft->st.replaced++;
		flow_remove(ft, f);
	}
	f = flow_alloc(ft);
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->hash = h;
	f->proto = proto;
	f->state = ST_SYN;
	f->cisn = p->seq;
	f->cnext = p->seq + 1;
	f->epoch = ft->epoch;
	f->born_ms = f->last_ms = now_ms;
	if (proto == M_POP3)
		pop3_init(&f->m.pop3);
	else
		imap_init(&f->m.imap);
	idx = (uint32_t)(f - ft->e);
	f->hnext = ft->buckets[h & ft->mask];
	ft->buckets[h & ft->mask] = idx;
	lru_append(ft, f, L_FRESH);
	ft->count++;
	ft->st.flows++;
}

int flow_packet(struct flow_table *ft, int family, bool outgoing, const uint8_t *pkt,
		size_t len, uint64_t now_ms, struct flow_grant *g)
{
	const struct drac_addr *client, *server;
	uint16_t cport, sport;
	struct flow_key k;
	struct flow *f;
	struct pkt p;
	uint32_t h, idx;
	int proto, granted = 0;

	ft->st.packets++;
	switch (pkt_parse(&p, family, pkt, len)) {
	case PKT_OK:
		break;
	case PKT_FRAGMENT:
		ft->st.fragments++;
		if (!outgoing)
			ft->taint[taint_slot(ft, p.src.family, p.src.a)] = now_ms + 1;
		return 0;
	case PKT_NOT_TCP:
		ft->st.ignored++;
		return 0;
	default:
		ft->st.malformed++;
		return 0;
	}
	if (outgoing) {
		client = &p.dst, cport = p.dport;
		server = &p.src, sport = p.sport;
	} else {
		client = &p.src, cport = p.sport;
		server = &p.dst, sport = p.dport;
	}
	proto = port_proto(ft, sport);
	if (proto < 0) {
		ft->st.ignored++;
		return 0;
	}
	key_make(&k, family, client, cport, server, sport);
	h = key_hash(ft, &k);

	/* Only the client's SYN makes a flow: it gives the client ISN. */
	if (!outgoing && (p.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN) {
		flow_open(ft, &k, h, proto, &p, now_ms);
		return 0;
	}
	idx = flow_lookup(ft, &k, h);
	if (idx == NIL) {
		ft->st.ignored++;
		if (p.datalen)
			ft->st.midstream++;
		return 0;
	}
	f = &ft->e[idx];
	f->last_ms = now_ms;
	lru_move(ft, f, f->list);

	if (f->state == ST_DONE || (p.flags & TCP_RST)) {
		if (f->state == ST_DONE)
			ft->st.ignored++;
		if (p.flags & (TCP_RST | TCP_FIN)) {
			if (f->state != ST_DONE)
				flow_say(f, "reset before a login");
			ft->st.closed++;
			flow_remove(ft, f);
		}
		return 0;
	}
	if (p.truncated)
		flow_abort(ft, f, truncated);
	else if (outgoing)
		granted = flow_server(ft, f, &p);
	else
		granted = flow_client(ft, f, &p);

	if (granted) {
		if (f->epoch != ft->epoch || flow_tainted(ft, f)) {
			ft->st.refused++;
			flow_say(f, f->epoch != ft->epoch ? "login seen, but tap packets were lost meanwhile"
							  : "login seen, but IP fragments came from this client");
			granted = 0;
		} else {
			ft->st.grants++;
			if (g) {
				addr_from_bytes(&g->client, family, f->key.caddr);
				g->proto = f->proto == M_POP3 ? "pop3" : "imap";
			}
		}
	}
	/* FIN: the bytes it carried counted; nothing after them will. */
	if (p.flags & TCP_FIN) {
		if (f->state != ST_DONE)
			flow_say(f, "closed before a login");
		ft->st.closed++;
		flow_remove(ft, f);
	}
	return granted;
}

void flow_expire(struct flow_table *ft, uint64_t now_ms)
{
	struct flow *f;
	int l;

	for (l = 0; l < L_COUNT; l++) {
		while (ft->lru[l].head != NIL) {
			f = &ft->e[ft->lru[l].head];
			if (now_ms < f->last_ms + ft->cfg.idle_ms)
				break;
			ft->st.expired++;
			flow_remove(ft, f);
		}
	}
}

void flow_lost(struct flow_table *ft)
{
	ft->epoch++;
}

struct flow_table *flow_new(const struct flow_config *cfg)
{
	struct flow_table *ft;
	uint32_t nb = 16;
	int l;

	if (!cfg || cfg->n_pop3 > FLOW_MAX_PORTS || cfg->n_imap > FLOW_MAX_PORTS ||
	    cfg->n_pop3 + cfg->n_imap == 0 || cfg->max_flows == 0 ||
	    cfg->max_flows > FLOW_MAX_FLOWS) {
		errno = EINVAL;
		return NULL;
	}
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ft->cfg = *cfg;
	if (!ft->cfg.idle_ms)
		ft->cfg.idle_ms = DEFAULT_IDLE_MS;
	while (nb < cfg->max_flows)
		nb <<= 1;
	ft->mask = nb - 1;
	ft->buckets = malloc(nb * sizeof(*ft->buckets));
	/* calloc: pages of entries never used are never touched. */
	ft->e = calloc(cfg->max_flows, sizeof(*ft->e));
	if (!ft->buckets || !ft->e) {
		flow_free(ft);
		errno = ENOMEM;
		return NULL;
	}
	memset(ft->buckets, 0xff, nb * sizeof(*ft->buckets));
	ft->free = NIL;
	for (l = 0; l < L_COUNT; l++)
		ft->lru[l].head = ft->lru[l].tail = NIL;
	seed(ft->key);
	return ft;
}

void flow_free(struct flow_table *ft)
{
	if (!ft)
		return;
	free(ft->buckets);
	free(ft->e);
	free(ft);
}

const struct flow_stats *flow_stats(const struct flow_table *ft)
{
	return &ft->st;
}

size_t flow_count(const struct flow_table *ft)
{
	return ft->count;
}

size_t flow_entry_size(void)
{
	return sizeof(struct flow);
}

size_t flow_memory(const struct flow_table *ft)
{
	return sizeof(*ft) + ((size_t)ft->mask + 1) * sizeof(*ft->buckets) +
	       (size_t)ft->count * sizeof(struct flow);
}
