/* flow.c - TCP connections from the client's SYN to FIN, RST or idle
 * expiry, feeding the POP3/IMAP machines their two byte streams
 *
 * The tap sees packets before the server's TCP has judged them, so a
 * client can show us bytes the server drops and then send other bytes
 * at the same sequence (Ptacek and Newsham's insertion and evasion).
 * Emulating the server's verdict is an arms race (its state is more
 * than we see: ts_recent moved by pure ACKs we skip, checksums a local
 * neighbour's skb carries as trusted, options this kernel rejects), so
 * the verdict decides nothing about bytes:
 *  - every client byte from the ISN to the login decision is kept, and
 *    every copy that reaches the tap is compared with it, whatever its
 *    checksum, flags, options, timestamp, window or ACK field; two
 *    different strings for one range end the flow without a grant.
 *    The server can only have read one of the copies we saw: a copy it
 *    took passed the input hook, in the same NFLOG group and before
 *    its answer at the output hook (a loss is seen as a sequence gap).
 *  - what we cannot compare (a copy cut by the snap length, a packet we
 *    cannot parse, fragments, a server ACK beyond the bytes we saw, a
 *    dialogue longer than STREAM_MAX) ends it without a grant too.
 *  - the machine reads the kept bytes in order, whichever copy came
 *    first; the verdict only says whether an RST, FIN or SYN ends the
 *    flow (RFC 5961), so a spoof Linux ignores cannot end a session,
 *    and segments that cannot touch the dialogue (wholly before the
 *    ISN, or beyond STREAM_MAX) are ignored: a blind spray hits the
 *    dialogue once in 2^32 / STREAM_MAX tries.
 * The table is one array reserved at flow_new, a keyed hash over the
 * 4-tuple, and three LRU lists for eviction; the kept bytes are a
 * buffer per flow that grows from 256 bytes and is freed at the
 * decision.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
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

/* Client bytes kept from the ISN to the login decision, so that every
 * copy of every byte can be compared: a dialogue longer than this before
 * the decision grants nothing.  A power of two, at most 32768. */
#define STREAM_MAX 8192
/* The first buffer a flow gets; it doubles up to STREAM_MAX as bytes
 * further on arrive. */
#define STREAM_MIN 256
/* All flows' buffers beyond their first STREAM_MIN together: a flow
 * that would go past it grants nothing (counted under overflow).  The
 * first buffers are bounded by max_flows, so connections that hold
 * big buffers cannot keep ordinary logins from being read. */
#define STREAM_BUDGET (64u << 20)
/* An IPv6 fragment can wait this long in the server's reassembly queue
 * (ip6frag_time): the bytes it completes are bytes we never saw. */
#define TAINT_MS 60000
/* A SYN's timestamp minus this is below anything the server can hold as
 * ts_recent (it may step back by one per segment before the handshake
 * completes): an older one fails PAWS for certain. */
#define PAWS_SLACK (1u << 24)
/* A server answers a SYN at once: one it left this long unanswered did
 * not open a new connection. */
#define PEND_MS 3000
/* 2^18 taints (4 MB) live at once before slots fill: a flood of
 * 100,000 first fragments within TAINT_MS (Poisson, 3 a slot) fills
 * about 0.5% of the slots, and only flows hashed there are refused
 * (measured: 0.6%; 200,000 refuse 30%, 500,000 all).  To bar one client
 * address for sure, a blind sender must cover its ephemeral ports:
 * 28,232 fragments a minute on Linux's default range. */
#define TAINT_SLOTS 32768
#define TAINT_WAYS 8
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
	uint16_t scap;       /* bytes sbuf holds (0: none yet) */
	uint8_t pend;        /* a client SYN with pisn awaits the server's answer */
	uint8_t ts_ok;       /* both SYNs carried timestamps: PAWS applies */
	uint8_t c_ts;        /* the client's SYN carried one */
	uint8_t c_ws;        /* window scale of the client's SYN, or PKT_NO_WSCALE */
	uint8_t s_ws;        /* scale the server applies to its window (0: none) */
	uint32_t ts_syn;     /* the SYN's timestamp */
	uint32_t pisn;
	uint32_t sack;       /* highest ACK the server sent: its rcv_wup is no lower */
	uint64_t done_ms;    /* last flow_config.done call */
	uint64_t pend_ms;    /* when the pending SYN came */
	uint32_t cisn, cnext; /* client: initial and next expected sequence */
	uint32_t sisn, snext; /* server */
	uint32_t epoch;      /* ft->epoch at SYN: capture losses since? */
	uint64_t born_ms, last_ms;
	/* The client's bytes by offset from cisn + 1: scap bytes, then
	 * scap / 8 bytes of bits saying which of them we have seen.  The
	 * first copy seen of a byte is kept; every later copy must equal
	 * it.  Freed when the flow is finished. */
	uint8_t *sbuf;
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
	size_t sbytes, sbig; /* stream buffers: in use, of that beyond STREAM_MIN each */
	/* 4-tuples that IPv6 first fragments named, and sources that sent
	 * other fragments or unreadable packets: TAINT_WAYS entries per
	 * slot, and when all are taken by live others, the whole slot
	 * (last time + 1). */
	struct taint {
		uint64_t h; /* taint_hash of the key */
		uint64_t t; /* time + 1 */
	} taint[TAINT_SLOTS][TAINT_WAYS];
	uint64_t taint_all[TAINT_SLOTS];
	bool md5_drops; /* this kernel drops TCP-MD5 segments for keyless sockets */
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

/* Client stream buffers */

static size_t stream_size(unsigned cap)
{
	return (size_t)cap + cap / 8;
}

static void stream_free(struct flow_table *ft, struct flow *f)
{
	if (!f->sbuf)
		return;
	ft->sbytes -= stream_size(f->scap);
	ft->sbig -= stream_size(f->scap) - stream_size(STREAM_MIN);
	free(f->sbuf);
	f->sbuf = NULL;
	f->scap = 0;
}

/* Room for offsets below need (<= STREAM_MAX); false when the budget
 * or memory is short. */
static bool stream_grow(struct flow_table *ft, struct flow *f, uint32_t need)
{
	unsigned cap = f->scap ? f->scap : STREAM_MIN;
	uint8_t *b;

	while (cap < need)
		cap <<= 1;
	if (cap == f->scap)
		return true;
	if (cap > STREAM_MIN &&
	    ft->sbig - (f->sbuf ? stream_size(f->scap) - stream_size(STREAM_MIN) : 0) +
			    stream_size(cap) - stream_size(STREAM_MIN) > STREAM_BUDGET)
		return false;
	b = malloc(stream_size(cap));
	if (!b)
		return false;
	memset(b + cap, 0, cap / 8);
	if (f->sbuf) {
		memcpy(b, f->sbuf, f->scap);
		memcpy(b + cap, f->sbuf + f->scap, f->scap / 8);
	}
	stream_free(ft, f);
	f->sbuf = b;
	f->scap = (uint16_t)cap;
	ft->sbytes += stream_size(cap);
	ft->sbig += stream_size(cap) - stream_size(STREAM_MIN);
	return true;
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
	stream_free(ft, f);
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

/* The taint table is keyed by a flow key: an exact 4-tuple for an IPv6
 * first fragment, or the client address alone (ports and server zero:
 * no watched port is 0) for what names no 4-tuple.  An entry keeps the
 * key's 64-bit keyed hash, not the key: two keys with one hash only
 * refuse more, never grant. */
static uint64_t taint_hash(const struct flow_table *ft, const struct flow_key *k)
{
	return siphash(ft->key, (const uint8_t *)k, sizeof(*k));
}

static void taint_source_key(struct flow_key *k, int family, const uint8_t *a)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->caddr, a, 16);
	k->family = (uint8_t)family;
}

static void taint_add(struct flow_table *ft, const struct flow_key *k, uint64_t now_ms)
{
	uint64_t h = taint_hash(ft, k);
	uint32_t slot = (uint32_t)h & (TAINT_SLOTS - 1);
	struct taint *w = ft->taint[slot], *free = NULL;

	for (int i = 0; i < TAINT_WAYS; i++) {
		if (w[i].t && w[i].h == h) {
			w[i].t = now_ms + 1;
			return;
		}
		if (!free && (!w[i].t || w[i].t - 1 + TAINT_MS < now_ms))
			free = &w[i];
	}
	if (!free) {
		ft->taint_all[slot] = now_ms + 1;
		return;
	}
	free->h = h;
	free->t = now_ms + 1;
}

static bool taint_since(const struct flow_table *ft, const struct flow_key *k, uint64_t born_ms)
{
	uint64_t h = taint_hash(ft, k);
	uint32_t slot = (uint32_t)h & (TAINT_SLOTS - 1);
	const struct taint *w = ft->taint[slot];
	uint64_t t = ft->taint_all[slot];

	if (t && t - 1 + TAINT_MS >= born_ms)
		return true;
	for (int i = 0; i < TAINT_WAYS; i++)
		if (w[i].t && w[i].h == h && w[i].t - 1 + TAINT_MS >= born_ms)
			return true;
	return false;
}

/* A fragment on this 4-tuple, or a fragment or unreadable packet from
 * this client that named no 4-tuple, within TAINT_MS of the flow's life
 * may have been reassembled into bytes we never saw.  A slot whose ways
 * are all taken taints everyone in it: that can refuse a grant, never
 * make one. */
static bool flow_tainted(const struct flow_table *ft, const struct flow *f)
{
	struct flow_key src;

	taint_source_key(&src, f->key.family, f->key.caddr);
	return taint_since(ft, &f->key, f->born_ms) || taint_since(ft, &src, f->born_ms);
}

/* Per-flow steps */

static void flow_tell_done(struct flow_table *ft, struct flow *f, uint64_t now_ms)
{
	struct flow_tuple t;

	if (!ft->cfg.done)
		return;
	t.family = f->key.family;
	t.caddr = f->key.caddr;
	t.saddr = f->key.saddr;
	t.cport = f->key.cport;
	t.sport = f->key.sport;
	f->done_ms = now_ms;
	ft->st.done_calls++;
	ft->cfg.done(ft->cfg.done_arg, &t);
}

static void flow_finish(struct flow_table *ft, struct flow *f)
{
	f->state = ST_DONE;
	stream_free(ft, f);
	lru_move(ft, f, L_DONE);
	flow_tell_done(ft, f, f->last_ms);
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

/* A client segment the server's TCP drops: counted, nothing changes. */
static int discard_(struct flow_table *ft, uint64_t *why)
{
	ft->st.discarded++;
	(*why)++;
	return 1;
}

#define flow_discard(ft, field) discard_(ft, &(ft)->st.field)

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

static inline bool seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* What flow_client decided about a segment besides its bytes. */
enum { C_KEEP, C_CLOSE };

/* Where [seq, seq + len) meets the kept stream [cisn + 1, cisn + 1 +
 * STREAM_MAX): offsets *lo .. *hi, the first *skip bytes of the range
 * lying before the connection's first byte.  False when they do not
 * meet (len 0, wholly before the first byte, or wholly beyond what a
 * login dialogue may reach). */
static bool stream_clip(const struct flow *f, uint32_t seq, size_t len, uint32_t *lo,
			uint32_t *hi, uint32_t *skip)
{
	uint32_t o = seq - (f->cisn + 1);

	if (!len || len > 0x7fffffff)
		return false;
	*skip = 0;
	if ((int32_t)o < 0) {
		*skip = -o;
		if (*skip >= len)
			return false;
		o = 0;
	} else if (o >= STREAM_MAX) {
		return false;
	}
	*lo = o;
	*hi = o + (uint32_t)(len - *skip) < STREAM_MAX ? o + (uint32_t)(len - *skip) : STREAM_MAX;
	return true;
}

/* Every client segment's bytes, whatever the server's TCP will make of
 * the segment: the first copy of a byte is kept, any other copy must be
 * the same, or the flow never grants.  So no judgement of ours about
 * which copy the server took (checksum, options, timestamps, window,
 * flags: Linux's verdict depends on state we cannot see) can make us
 * read other bytes than the server did.  Returns true when the flow
 * ended. */
static bool stream_store(struct flow_table *ft, struct flow *f, const struct pkt *p)
{
	uint32_t lo, hi, skip, tlo, thi, tskip, o;
	const uint8_t *d;
	uint8_t *have;

	/* The urgent byte leaves the server's in-line stream.  The kernel
	 * reads the pointer only of a segment in its window, and points
	 * forward from the segment: one that touches the dialogue ends it.
	 * (Counting the pointer's reach too would let a blind spray with
	 * pointers of 65535 hit nine times as often.) */
	if ((p->flags & TCP_URG) &&
	    stream_clip(f, p->seq, p->seglen ? p->seglen : 1, &lo, &hi, &skip)) {
		flow_abort(ft, f, urgent);
		return true;
	}
	if (!stream_clip(f, p->seq, p->seglen, &lo, &hi, &skip))
		return false;
	/* Bytes of the dialogue we cannot compare. */
	if (p->datalen < p->seglen &&
	    stream_clip(f, p->seq + (uint32_t)p->datalen, p->seglen - p->datalen, &tlo, &thi, &tskip)) {
		flow_abort(ft, f, truncated);
		return true;
	}
	if (!stream_grow(ft, f, hi)) {
		flow_abort(ft, f, overflow);
		return true;
	}
	d = p->data + skip;
	have = f->sbuf + f->scap;
	for (o = lo; o < hi; o++, d++) {
		/* Eight at a time where the bits agree. */
		if (o % 8 == 0 && hi - o >= 8 && (have[o / 8] == 0 || have[o / 8] == 0xff)) {
			if (have[o / 8] == 0) {
				memcpy(f->sbuf + o, d, 8);
				have[o / 8] = 0xff;
			} else if (memcmp(f->sbuf + o, d, 8) != 0) {
				flow_abort(ft, f, conflicts);
				return true;
			}
			o += 7, d += 7;
			continue;
		}
		if (have[o / 8] >> (o % 8) & 1) {
			if (f->sbuf[o] != *d) {
				flow_abort(ft, f, conflicts);
				return true;
			}
		} else {
			f->sbuf[o] = *d;
			have[o / 8] |= (uint8_t)(1u << (o % 8));
		}
	}
	return false;
}

/* Hand the machine the kept bytes from cnext on, as far as they run
 * without a hole.  Whichever copy came first: all copies agree. */
static int stream_feed(struct flow_table *ft, struct flow *f)
{
	uint32_t from = f->cnext - (f->cisn + 1), to = from;

	while (to < f->scap) {
		uint8_t bits = f->sbuf[f->scap + to / 8];

		if (to % 8 == 0 && bits == 0xff)
			to += 8;
		else if (bits >> (to % 8) & 1)
			to++;
		else
			break;
	}
	if (to == from)
		return 0;
	if (to >= STREAM_MAX) {
		/* No decision within STREAM_MAX bytes. */
		flow_abort(ft, f, overflow);
		return 0;
	}
	f->cnext += to - from;
	return flow_feed(ft, f, DIR_TO_SERVER, f->sbuf + from, to - from);
}

/* Would Linux's TCP certainly drop this client segment of an open flow?
 * This decides only whether an RST, FIN or SYN can end the flow, never
 * what bytes we read.  The order follows tcp_v4_rcv and
 * tcp_rcv_established; each test is one where our knowledge bounds the
 * kernel's state from the safe side (sack <= rcv_wup, snext ==
 * snd_nxt).  Returns 0 or the counter it was discarded under. */
static int client_drops(struct flow_table *ft, const struct flow *f, const struct pkt *p)
{
	uint32_t end = p->seq + (uint32_t)p->seglen + !!(p->flags & TCP_FIN);
	uint32_t maxwin = 65535u << f->s_ws;

	if (p->csum == CSUM_BAD)
		return flow_discard(ft, bad_csum);
	if (p->md5 && ft->md5_drops)
		return flow_discard(ft, md5);
	/* PAWS is not applied to RST (RFC 7323 5.3). */
	if (f->ts_ok && p->ts && !(p->flags & TCP_RST) &&
	    (int32_t)(f->ts_syn - PAWS_SLACK - p->tsval) > 0)
		return flow_discard(ft, paws);
	/* tcp_sequence: starting past the right edge of the largest window
	 * the server can have offered, or wholly before the connection's
	 * first byte. */
	if (seq_after(p->seq, f->cnext + maxwin) ||
	    (end != p->seq && !seq_after(end, f->cisn + 1)))
		return flow_discard(ft, window);
	if (p->flags & TCP_RST)
		return 0;
	if (!(p->flags & TCP_ACK))
		return flow_discard(ft, no_ack);
	if (seq_after(p->ack, f->snext))
		return flow_discard(ft, bad_ack);
	return 0;
}

static int flow_client(struct flow_table *ft, struct flow *f, const struct pkt *p, int *close)
{
	uint32_t was = f->cnext;
	int granted;

	*close = C_KEEP;
	if (f->state != ST_SYN && f->state != ST_OPEN)
		return 0;
	/* Bytes first, before any judgement of the segment. */
	if ((p->seglen || (p->flags & TCP_URG)) && stream_store(ft, f, p))
		return 0;
	if (f->state == ST_SYN) {
		/* Before the SYN-ACK only an exact RST can matter; data
		 * then is dropped by the server too (kept, to compare). */
		if ((p->flags & TCP_RST) && p->seq == f->cnext && p->csum != CSUM_BAD)
			*close = C_CLOSE;
		return 0;
	}
	if (!(p->flags & (TCP_RST | TCP_SYN | TCP_FIN)))
		return stream_feed(ft, f);
	if (client_drops(ft, f, p))
		return stream_feed(ft, f);
	/* RFC 5961 3.2: only an RST exactly at rcv_nxt resets; any other
	 * in the window draws a challenge ACK. */
	if (p->flags & TCP_RST) {
		if (p->seq == f->cnext)
			*close = C_CLOSE;
		else
			flow_discard(ft, rst_ignored);
		return 0;
	}
	/* RFC 5961 4.2: a SYN on an open connection draws a challenge ACK. */
	if (p->flags & TCP_SYN) {
		flow_discard(ft, syn_ignored);
		return 0;
	}
	granted = stream_feed(ft, f);
	/* A FIN counts where it sits: right after the segment's bytes, at
	 * the sequence the server expects next. */
	if (!seq_after(p->seq, was) && !seq_before(p->seq + (uint32_t)p->seglen, was))
		*close = C_CLOSE;
	else
		flow_discard(ft, fin_ignored);
	return granted;
}

/* A new connection on this 4-tuple (the server answered a new SYN):
 * start over with the new ISNs. */
static void flow_restart(struct flow_table *ft, struct flow *f, const struct pkt *p)
{
	struct flow_key k = f->key;
	uint32_t hash = f->hash, hnext = f->hnext, prev = f->prev, next = f->next;
	uint8_t list = f->list, proto = f->proto;
	uint64_t born = f->last_ms;

	stream_free(ft, f);
	memset(f, 0, offsetof(struct flow, sbuf));
	f->key = k;
	f->hash = hash, f->hnext = hnext, f->prev = prev, f->next = next, f->list = list;
	f->proto = proto;
	f->state = ST_SYN;
	f->cisn = p->ack - 1;
	f->cnext = p->ack;
	f->epoch = ft->epoch;
	f->born_ms = f->last_ms = born;
	f->c_ws = PKT_NO_WSCALE;
	if (proto == M_POP3)
		pop3_init(&f->m.pop3);
	else
		imap_init(&f->m.imap);
	ft->st.replaced++;
	lru_move(ft, f, L_FRESH);
}

static int flow_server(struct flow_table *ft, struct flow *f, const struct pkt *p)
{
	uint32_t back, old;
	size_t len = p->datalen;

	if (p->flags & TCP_SYN) {
		if (!(p->flags & TCP_ACK))
			return 0;
		if (f->pend && p->ack == f->pisn + 1)
			flow_restart(ft, f, p);
		if (f->state == ST_SYN && p->ack == f->cnext) {
			f->sisn = p->seq;
			f->snext = p->seq + 1;
			f->sack = p->ack;
			f->state = ST_OPEN;
			f->ts_ok = f->c_ts && p->ts;
			f->s_ws = f->c_ws != PKT_NO_WSCALE && p->wscale != PKT_NO_WSCALE ? p->wscale : 0;
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
	if (p->truncated) {
		flow_abort(ft, f, truncated);
		return 0;
	}
	if (p->flags & TCP_ACK) {
		/* The server acknowledges client bytes we never saw.  (Kept
		 * bytes not fed yet, sent before the SYN-ACK, go first.) */
		if (seq_after(p->ack, f->cnext)) {
			stream_feed(ft, f);
			if (f->state != ST_OPEN)
				return 0;
		}
		if (seq_after(p->ack, f->cnext)) {
			flow_abort(ft, f, gaps);
			return 0;
		}
		if (seq_after(p->ack, f->sack))
			f->sack = p->ack;
	}
	if (!len)
		return 0;
	if (seq_after(p->seq, f->snext)) {
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

static void flow_syn_opts(struct flow *f, const struct pkt *p)
{
	f->c_ts = p->ts;
	f->ts_syn = p->tsval;
	f->c_ws = p->wscale;
}

static void flow_open(struct flow_table *ft, const struct flow_key *k, uint32_t h, int proto,
		      const struct pkt *p, uint64_t now_ms)
{
	uint32_t idx;
	struct flow *f;

	/* Linux drops these before any socket sees them. */
	if (p->csum == CSUM_BAD || (p->md5 && ft->md5_drops)) {
		ft->st.discarded++;
		if (p->csum == CSUM_BAD)
			ft->st.bad_csum++;
		else
			ft->st.md5++;
		return;
	}
	idx = flow_lookup(ft, k, h);
	if (idx != NIL) {
		f = &ft->e[idx];
		f->last_ms = now_ms;
		lru_move(ft, f, f->list);
		/* The same SYN again. */
		if (f->cisn == p->seq) {
			if (f->state == ST_SYN)
				flow_syn_opts(f, p);
			return;
		}
		/* Another ISN: a new connection only if the server answers
		 * it (RFC 5961 4.2: on an open one it sends a challenge
		 * ACK; a half-open one ignores it).  Until then the old
		 * flow goes on as it was. */
		f->pend = 1;
		f->pisn = p->seq;
		f->pend_ms = now_ms;
		ft->st.syn_ignored++;
		return;
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
	flow_syn_opts(f, p);
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

/* An IPv6 fragment the server may reassemble into bytes we never saw.
 * A first fragment that shows its TCP ports taints only that 4-tuple
 * (before its SYN or during it alike): reassembly needs the first
 * fragment, and the tap copies every first fragment to a watched port,
 * so the ports of whatever a reassembly yields were seen here.  A later
 * fragment (the tap copies none: nftables matches no ports in it) is
 * only counted.  Anything else (IPv4 fragments, which the kernel
 * reassembles before the input hook, a first fragment whose header
 * chain stops short of the ports) bars its source as before. */
static void frag_taint(struct flow_table *ft, int family, const struct pkt *p, uint64_t now_ms)
{
	struct flow_key k;

	if (p->frag_later)
		return;
	if (p->ports) {
		if (port_proto(ft, p->dport) < 0)
			return;
		key_make(&k, family, &p->src, p->sport, &p->dst, p->dport);
	} else {
		taint_source_key(&k, p->src.family, p->src.a);
	}
	taint_add(ft, &k, now_ms);
}

int flow_packet(struct flow_table *ft, int family, unsigned how, const uint8_t *pkt,
		size_t len, uint64_t now_ms, struct flow_grant *g)
{
	const struct drac_addr *client, *server;
	bool outgoing = how & FLOW_OUT;
	uint16_t cport, sport;
	struct flow_key k;
	struct flow *f;
	struct pkt p;
	uint32_t h, idx;
	int proto, granted = 0, close = C_KEEP;

	ft->st.packets++;
	switch (pkt_parse_head(&p, family, pkt, len)) {
	case PKT_OK:
		break;
	case PKT_FRAGMENT:
		ft->st.fragments++;
		if (!outgoing)
			frag_taint(ft, family, &p, now_ms);
		return 0;
	case PKT_UNKNOWN:
		/* The kernel may hand this to TCP and we cannot read it:
		 * no flow of this client may grant for a while. */
		ft->st.unknown++;
		if (!outgoing && p.src.family) {
			taint_source_key(&k, p.src.family, p.src.a);
			taint_add(ft, &k, now_ms);
		}
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

	/* The checksum is summed only where a judgement uses it: a SYN,
	 * or an RST or FIN the client sends to a tracked flow (bytes are
	 * compared whatever their checksum; the server's own packets are
	 * not yet summed at the output hook).  The local stack fills in checksums
	 * late (CHECKSUM_PARTIAL): on loopback only a local process can
	 * have sent one in that form. */
	idx = flow_lookup(ft, &k, h);
	if (!outgoing && (p.flags & (TCP_SYN | TCP_RST | TCP_FIN)) &&
	    ((p.flags & TCP_SYN) || (idx != NIL && ft->e[idx].state != ST_DONE))) {
		pkt_verify(&p, family, pkt);
		if (p.csum == CSUM_PARTIAL && (how & FLOW_LOCAL))
			p.csum = CSUM_OK;
		else if (p.csum == CSUM_PARTIAL)
			ft->st.partial++;
	}

	/* Only the client's SYN makes a flow: it gives the client ISN. */
	if (!outgoing && (p.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN) {
		flow_open(ft, &k, h, proto, &p, now_ms);
		return 0;
	}
	if (idx == NIL) {
		ft->st.ignored++;
		if (p.datalen)
			ft->st.midstream++;
		return 0;
	}
	f = &ft->e[idx];
	f->last_ms = now_ms;
	lru_move(ft, f, f->list);

	if (outgoing && (p.flags & TCP_SYN) && f->pend && (p.flags & TCP_ACK) &&
	    p.ack == f->pisn + 1) {
		/* A new connection after all: follow the server. */
		granted = flow_server(ft, f, &p);
	} else if (f->state == ST_DONE) {
		ft->st.ignored++;
		/* Nothing more to learn from it: an RST or FIN lets the
		 * entry go (a new SYN would make a new one); anything else
		 * still flowing is a transfer the tap need not copy. */
		if (p.flags & (TCP_RST | TCP_FIN)) {
			ft->st.closed++;
			flow_remove(ft, f);
		} else if (f->pend ? now_ms - f->pend_ms >= PEND_MS
				   : now_ms - f->done_ms >= FLOW_DONE_REPEAT_MS) {
			/* The tap stops copying it again; a SYN the server
			 * did not answer in time was not a new connection. */
			f->pend = 0;
			flow_tell_done(ft, f, now_ms);
		}
		return 0;
	} else if (outgoing && (p.flags & TCP_RST)) {
		close = C_CLOSE;
	} else if (outgoing) {
		granted = flow_server(ft, f, &p);
		if (p.flags & TCP_FIN)
			close = C_CLOSE;
	} else {
		granted = flow_client(ft, f, &p, &close);
	}

	if (granted) {
		if (f->epoch != ft->epoch || flow_tainted(ft, f)) {
			ft->st.refused++;
			flow_say(f, f->epoch != ft->epoch ? "login seen, but tap packets were lost meanwhile"
							  : "login seen, but IP fragments or unreadable packets came from this client");
			granted = 0;
		} else {
			ft->st.grants++;
			if (g) {
				addr_from_bytes(&g->client, family, f->key.caddr);
				g->proto = f->proto == M_POP3 ? "pop3" : "imap";
			}
		}
	}
	if (close == C_CLOSE) {
		if (f->state != ST_DONE)
			flow_say(f, p.flags & TCP_RST ? "reset before a login" : "closed before a login");
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

/* Linux drops a TCP-MD5-signed segment for a socket without a key, but
 * only when built with CONFIG_TCP_MD5SIG; without it the option is
 * ignored and the segment taken.  Such a kernel refuses the socket
 * option itself (ENOPROTOOPT); with it, an empty key is EINVAL. */
static bool md5_probe(void)
{
	struct tcp_md5sig md = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc, e;

	if (fd < 0)
		return false;
	rc = setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md, sizeof(md));
	e = errno;
	close(fd);
	return rc == 0 || e != ENOPROTOOPT;
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
	ft->md5_drops = md5_probe();
	return ft;
}

void flow_free(struct flow_table *ft)
{
	if (!ft)
		return;
	if (ft->e)
		for (uint32_t i = 0; i < ft->used; i++)
			free(ft->e[i].sbuf);
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
	       (size_t)ft->count * sizeof(struct flow) + ft->sbytes;
}
