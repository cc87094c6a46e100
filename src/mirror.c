/* mirror.c - address -> expiry table, kept in step with the nftables sets,
 * and the Postfix map writes that follow it.
 *
 * The table is an array of entries with an open-addressing hash of indices
 * (address lookup) and a binary min-heap of indices (next expiry).  Removal
 * swaps the last entry into the hole, so the array stays dense.
 *
 * A write never touches the live map: it makes MAP.tmp.PID beside it and
 * rename()s that over the map, so Postfix readers see either the old or the
 * new file, and smtpd notices the unlinked inode before its next connection.
 * Small changes copy the file we wrote last and apply only the addresses on
 * the dirty list; anything else (first write, a file someone else replaced,
 * bulk changes, a bloated file) rebuilds it whole, keys in sorted order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "btmap.h"
#include "log.h"
#include "mirror.h"

/* Keeps the uint32_t indices and the arrays (40 bytes an entry) bounded. */
#define MIRROR_MAX_ENTRIES (1u << 24)
#define MIRROR_BACKOFF_MAX_MS 5000
#define MIRROR_BUSY_RETRY_MS 10
/* Every write rewrites the whole file; for big maps keep writing to at
 * most a quarter of the time (small maps keep the plain interval). */
#define MIRROR_DUTY 4
#define MIRROR_DUTY_MIN_BYTES (1 << 20)
/* Longest value text: UINT64_MAX / 1000 has 17 digits. */
#define MIRROR_VALLEN 24

struct ment {
	uint64_t expiry_ms;
	/* The same moment on CLOCK_MONOTONIC: a wall clock stepped back
	 * (NTP, date -s) must not make a grant outlive its window, which
	 * the kernel counts without the wall clock. */
	uint64_t mono_ms;
	uint32_t heap;		/* position in m->heap */
	struct drac_addr addr;	/* bytes past addr_len() are zero */
	uint8_t dirty;		/* already on the dirty list */
};

struct mirror {
	char *map_path, *lock_path, *dir_path, *tmp_prefix, *state_path;
	unsigned interval_ms;
	int lock_fd;

	struct ment *ents;
	uint32_t *heap;		/* entry indices, min-heap on expiry */
	uint32_t n, cap;
	uint32_t *slots;	/* entry index + 1; 0 is free */
	uint32_t mask;
	uint64_t seed[2];

	/* Addresses whose record in the file may be wrong: each is looked up
	 * at write time and put or deleted accordingly. */
	struct drac_addr *dirty;
	size_t ndirty, dirty_cap;
	bool changed;		/* the file differs from the table */
	bool need_full;		/* the dirty list does not cover the changes */
	bool add_failed;	/* "cannot mirror" logged; quiet until an add works */
	/* The file on disk may grant an address the table no longer holds
	 * (expired, revoked): a failed write must not leave it in place. */
	bool overgrants;
	bool unlink_failed;	/* "cannot remove" logged */
	int block_fd;		/* the map, flock(LOCK_EX)ed: see map_block */

	uint64_t write_after;	/* earliest wall ms for the next write */
	unsigned fail_streak;
	char err[320];

	/* The file we wrote or loaded last: the base for incremental writes. */
	bool have_file;
	dev_t f_dev;
	ino_t f_ino;
	off_t f_size;
	struct timespec f_mtim;
	double full_bpe;	/* bytes an entry in the last full write */

	int64_t clock_off;	/* wall minus monotonic ms at the last tick */

	struct mirror_stats st;
};

static uint64_t mono_deadline(uint64_t expiry_ms);

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Seeded, so addresses chosen to collide cannot be prepared in advance. */
static uint32_t ment_hash(const struct mirror *m, const struct drac_addr *a)
{
	uint64_t lo, hi;

	memcpy(&lo, a->a, 8);
	memcpy(&hi, a->a + 8, 8);
	return (uint32_t)mix64(mix64(lo ^ m->seed[0]) ^ hi ^ m->seed[1] ^
			       ((uint64_t)a->family << 56));
}

static bool addr_norm(const struct drac_addr *a, struct drac_addr *out)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	memset(out, 0, sizeof(*out));
	out->family = a->family;
	memcpy(out->a, a->a, addr_len(a));
	return true;
}

/* The slot holding a, or the free slot where it would go. */
static uint32_t slot_find(const struct mirror *m, const struct drac_addr *a)
{
	uint32_t i = ment_hash(m, a) & m->mask;

	while (m->slots[i]) {
		if (!memcmp(&m->ents[m->slots[i] - 1].addr, a, sizeof(*a)))
			return i;
		i = (i + 1) & m->mask;
	}
	return i;
}

static struct ment *ment_find(const struct mirror *m, const struct drac_addr *a)
{
	uint32_t s = slot_find(m, a);

	return m->slots[s] ? &m->ents[m->slots[s] - 1] : NULL;
}

/* Linear probing without tombstones: pull later members of the probe
 * run back into the hole. */
static void slot_delete(struct mirror *m, uint32_t i)
{
	uint32_t j = i;

	for (;;) {
		uint32_t k;

		j = (j + 1) & m->mask;
		if (!m->slots[j])
			break;
		k = ment_hash(m, &m->ents[m->slots[j] - 1].addr) & m->mask;
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i] = 0;
}

static int slots_resize(struct mirror *m, uint32_t size)
{
	uint32_t *s = calloc(size, sizeof(*s));

	if (!s)
		return -1;
	free(m->slots);
	m->slots = s;
	m->mask = size - 1;
	for (uint32_t i = 0; i < m->n; i++)
		m->slots[slot_find(m, &m->ents[i].addr)] = i + 1;
	return 0;
}

static uint64_t heap_key(const struct mirror *m, uint32_t pos)
{
	return m->ents[m->heap[pos]].expiry_ms;
}

static void heap_set(struct mirror *m, uint32_t pos, uint32_t idx)
{
	m->heap[pos] = idx;
	m->ents[idx].heap = pos;
}

static void heap_fix(struct mirror *m, uint32_t pos)
{
	uint32_t idx = m->heap[pos];
	uint64_t key = m->ents[idx].expiry_ms;

	while (pos > 0 && heap_key(m, (pos - 1) / 2) > key) {
		heap_set(m, pos, m->heap[(pos - 1) / 2]);
		pos = (pos - 1) / 2;
	}
	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= m->n)
			break;
		if (c + 1 < m->n && heap_key(m, c + 1) < heap_key(m, c))
			c++;
		if (heap_key(m, c) >= key)
			break;
		heap_set(m, pos, m->heap[c]);
		pos = c;
	}
	heap_set(m, pos, idx);
}

static int dirty_push(struct mirror *m, const struct drac_addr *a)
{
	if (m->ndirty == m->dirty_cap) {
		size_t cap = m->dirty_cap ? m->dirty_cap * 2 : 256;
		struct drac_addr *d = realloc(m->dirty, cap * sizeof(*d));

		if (!d)
			return -1;
		m->dirty = d;
		m->dirty_cap = cap;
	}
	m->dirty[m->ndirty++] = *a;
	return 0;
}

/* The record for a may be wrong in the file.  Past a quarter of the table
 * a full rewrite is cheaper than the list, and needs no memory. */
static void dirty_note(struct mirror *m, const struct drac_addr *a, struct ment *e)
{
	m->changed = true;
	if (m->need_full || (e && e->dirty))
		return;
	if (m->ndirty >= 1024 + m->n / 4 || dirty_push(m, a) < 0) {
		m->need_full = true;
		m->ndirty = 0;
		return;
	}
	if (e)
		e->dirty = 1;
}

static struct ment *ment_add(struct mirror *m, const struct drac_addr *a,
			     uint64_t expiry_ms)
{
	struct ment *e;
	uint32_t idx;

	if (m->n == m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 64;
		struct ment *ents;
		uint32_t *heap;

		if (m->cap >= MIRROR_MAX_ENTRIES)
			return NULL;
		if (!(ents = realloc(m->ents, cap * sizeof(*ents))))
			return NULL;
		m->ents = ents;
		if (!(heap = realloc(m->heap, cap * sizeof(*heap))))
			return NULL;
		m->heap = heap;
		m->cap = cap;
	}
	/* Load factor at most 1/2 keeps probe runs short. */
	if ((uint64_t)(m->n + 1) * 2 > (uint64_t)m->mask + 1 &&
	    slots_resize(m, (m->mask + 1) * 2) < 0)
		return NULL;
	idx = m->n++;
	e = &m->ents[idx];
	e->expiry_ms = expiry_ms;
	e->mono_ms = mono_deadline(expiry_ms);
	e->addr = *a;
	e->dirty = 0;
	m->slots[slot_find(m, a)] = idx + 1;
	m->heap[idx] = idx;
	e->heap = idx;
	heap_fix(m, idx);
	return e;
}

static void ment_remove(struct mirror *m, uint32_t idx)
{
	struct ment *e = &m->ents[idx];
	uint32_t last = m->n - 1, pos = e->heap;

	dirty_note(m, &e->addr, e);
	m->overgrants = true;
	slot_delete(m, slot_find(m, &e->addr));
	if (pos != last)
		heap_set(m, pos, m->heap[last]);
	if (idx != last) {
		m->ents[idx] = m->ents[last];
		m->slots[slot_find(m, &m->ents[idx].addr)] = idx + 1;
		m->heap[m->ents[idx].heap] = idx;
	}
	m->n--;
	if (pos < m->n)
		heap_fix(m, pos);
}

/* Decimal digits of v at buf, NUL-terminated; returns the length. */
static size_t u64_fmt(uint64_t v, char *buf)
{
	char tmp[24];
	size_t n = 0, len;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (len = n; n; n--)
		buf[len - n] = tmp[n - 1];
	buf[len] = '\0';
	return len;
}

/* The map key: addr_fmt's lowercase compressed form (glibc inet_ntop),
 * with a fast path for the dotted quad, whose form has no choices. */
static size_t key_fmt(const struct drac_addr *a, char *buf)
{
	size_t n = 0;

	if (a->family != AF_INET) {
		addr_fmt(a, buf, ADDR_STRLEN);
		return strlen(buf);
	}
	for (int i = 0; i < 4; i++) {
		n += u64_fmt(a->a[i], buf + n);
		buf[n++] = i < 3 ? '.' : '\0';
	}
	return n - 1;
}

static size_t val_fmt(uint64_t expiry_ms, char *buf)
{
	return u64_fmt(expiry_ms / 1000, buf);
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t mono_ms(void)
{
	return mono_us() / 1000;
}

/* Where expiry_ms (wall clock) lies on the monotonic clock now. */
static uint64_t mono_deadline(uint64_t expiry_ms)
{
	uint64_t wall = wall_ms();

	return mono_ms() + (expiry_ms > wall ? expiry_ms - wall : 0);
}

/* A clock step of less than this is ms rounding, not a step. */
#define MIRROR_CLOCK_SLACK_MS 100

/* The expiry as the wall clock reads now, never later than the
 * monotonic clock allows: after the wall clock went back, the grant
 * still ends when its window has passed. */
static uint64_t ment_expiry(const struct ment *e, uint64_t wall, uint64_t mono)
{
	uint64_t left = e->mono_ms > mono ? e->mono_ms - mono : 0;

	if (e->expiry_ms <= wall + left + MIRROR_CLOCK_SLACK_MS)
		return e->expiry_ms;
	/* Over: 0, not "now", which a caller's clock read a moment
	 * earlier would still count as the future. */
	return left ? wall + left : 0;
}

static char *strcat3(const char *a, const char *b, const char *c)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a, b, c) < 0)
		return NULL;
	return s;
}

static const char *who_am_i(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(geteuid());

	snprintf(buf, len, "%s (uid %u)", pw ? pw->pw_name : "?", (unsigned)geteuid());
	return buf;
}

/* Prove now, as the user every later write runs as, that a file can be
 * made, renamed and removed beside the map: a dracd that reports ready
 * and then cannot write would leave Postfix with a map nobody expires. */
static int mirror_probe(struct mirror *m)
{
	char a[4096], b[4200], who[96];
	const char *step = "create";
	int fd;

	snprintf(a, sizeof(a), "%s/%sprobe.%ld", m->dir_path, m->tmp_prefix, (long)getpid());
	snprintf(b, sizeof(b), "%s.renamed", a);
	fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto bad;
	step = "write";
	if (write(fd, "probe\n", 6) != 6 || fdatasync(fd) < 0) {
		if (errno == 0)
			errno = ENOSPC;
		close(fd);
		unlink(a);
		goto bad;
	}
	close(fd);
	step = "rename";
	if (rename(a, b) < 0) {
		unlink(a);
		goto bad;
	}
	step = "remove";
	if (unlink(b) < 0)
		goto bad;
	return 0;
bad:
	msg_err("cannot write the map directory %s as %s: %s %s: %s; dracd must be "
		"able to create, rename and remove files there (DRAC_USER)",
		m->dir_path, who_am_i(who, sizeof(who)), step, a, strerror(errno));
	return -1;
}

struct mirror *mirror_new(const struct mirror_config *cfg)
{
	struct mirror *m;
	const char *slash;
	struct stat st;

	if (!cfg || !cfg->map_path || !*cfg->map_path) {
		msg_err("mirror: no map path");
		return NULL;
	}
	if (!(m = calloc(1, sizeof(*m))))
		goto oom;
	m->lock_fd = -1;
	m->clock_off = (int64_t)(wall_ms() - mono_ms());
	m->block_fd = -1;
	m->interval_ms = cfg->min_write_interval_ms ? cfg->min_write_interval_ms
						    : MIRROR_WRITE_INTERVAL_MS;
	slash = strrchr(cfg->map_path, '/');
	if (!(m->map_path = strdup(cfg->map_path)) ||
	    !(m->lock_path = strcat3(cfg->map_path, ".lock", "")) ||
	    !(m->state_path = strcat3(cfg->map_path, ".state", "")) ||
	    !(m->tmp_prefix = strcat3(slash ? slash + 1 : cfg->map_path, ".tmp.", "")))
		goto oom;
	if (!slash)
		m->dir_path = strdup(".");
	else if (slash == cfg->map_path)
		m->dir_path = strdup("/");
	else
		m->dir_path = strndup(cfg->map_path, slash - cfg->map_path);
	if (!m->dir_path)
		goto oom;

	if (stat(m->dir_path, &st) < 0) {
		msg_err("map directory %s: %s", m->dir_path, strerror(errno));
		goto bad;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg_err("map directory %s: not a directory", m->dir_path);
		goto bad;
	}
	/* Whoever can write there can put their own map in place and relay. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    !((st.st_mode & S_ISVTX) && st.st_uid == 0)) {
		msg_err("refusing map directory %s: writable by %s (mode %04o); "
			"anyone there could replace the map (chmod go-w %s)",
			m->dir_path, st.st_mode & S_IWOTH ? "everyone" : "its group",
			(unsigned)(st.st_mode & 07777), m->dir_path);
		goto bad;
	}
	if (!cfg->no_probe && mirror_probe(m) < 0)
		goto bad;
	if ((m->lock_fd = btmap_lock_open(m->lock_path)) < 0) {
		msg_err("cannot open map lock file: %s", btmap_error());
		goto bad;
	}
	if (getrandom(m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed)) {
		m->seed[0] = mono_us() ^ ((uint64_t)getpid() << 32);
		m->seed[1] = mix64(wall_ms());
	}
	if (slots_resize(m, 64) < 0)
		goto oom;
	return m;
oom:
	msg_err("mirror: out of memory");
bad:
	mirror_free(m);
	return NULL;
}

void mirror_free(struct mirror *m)
{
	if (!m)
		return;
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	if (m->block_fd >= 0)
		close(m->block_fd);
	free(m->map_path);
	free(m->lock_path);
	free(m->dir_path);
	free(m->tmp_prefix);
	free(m->state_path);
	free(m->ents);
	free(m->heap);
	free(m->slots);
	free(m->dirty);
	free(m);
}

void mirror_set(struct mirror *m, const struct drac_addr *a, uint64_t expiry_ms)
{
	struct drac_addr k;
	struct ment *e;

	if (!addr_norm(a, &k))
		return;
	if ((e = ment_find(m, &k))) {
		bool value_changed = e->expiry_ms / 1000 != expiry_ms / 1000;

		if (e->expiry_ms == expiry_ms)
			return;
		e->expiry_ms = expiry_ms;
		e->mono_ms = mono_deadline(expiry_ms);
		heap_fix(m, e->heap);
		/* Same second, same file: a re-dump after ENOBUFS gives
		 * expiries that differ by a few ms only. */
		if (value_changed)
			dirty_note(m, &k, e);
		return;
	}
	if (!(e = ment_add(m, &k, expiry_ms))) {
		char buf[ADDR_STRLEN];

		/* Not in the map means no relay: the safe way to fail. */
		if (!m->add_failed)
			msg_err("cannot mirror %s: %s (further failures not logged)",
				addr_fmt(&k, buf, sizeof(buf)),
				m->n >= MIRROR_MAX_ENTRIES ? "table full" : "out of memory");
		m->add_failed = true;
		return;
	}
	m->add_failed = false;
	dirty_note(m, &k, e);
}

void mirror_del(struct mirror *m, const struct drac_addr *a)
{
	struct drac_addr k;
	uint32_t s;

	if (!addr_norm(a, &k))
		return;
	s = slot_find(m, &k);
	if (m->slots[s])
		ment_remove(m, m->slots[s] - 1);
}

void mirror_clear(struct mirror *m, int family)
{
	uint32_t keep = 0;

	if (!m->n)
		return;
	if (family)
		for (uint32_t i = 0; i < m->n; i++)
			keep += m->ents[i].addr.family != family;
	if (keep == m->n)
		return;
	if (keep == 0) {
		m->n = 0;
		memset(m->slots, 0, ((size_t)m->mask + 1) * sizeof(*m->slots));
		m->ndirty = 0;
		m->need_full = true;
		m->changed = true;
		m->overgrants = true;
		return;
	}
	/* Going down, the entry swapped into the hole was already kept. */
	for (uint32_t i = m->n; i-- > 0;)
		if (m->ents[i].addr.family == family)
			ment_remove(m, i);
}

size_t mirror_count(const struct mirror *m)
{
	return m->n;
}

bool mirror_get(const struct mirror *m, const struct drac_addr *a, uint64_t *expiry_ms)
{
	struct drac_addr k;
	struct ment *e;

	if (!addr_norm(a, &k) || !(e = ment_find(m, &k)))
		return false;
	if (expiry_ms)
		*expiry_ms = ment_expiry(e, wall_ms(), mono_ms());
	return true;
}

void mirror_foreach(const struct mirror *m,
		    void (*cb)(const struct drac_addr *a, uint64_t expiry_ms, void *arg),
		    void *arg)
{
	uint64_t wall = wall_ms(), mono = mono_ms();

	for (uint32_t i = 0; i < m->n; i++)
		cb(&m->ents[i].addr, ment_expiry(&m->ents[i], wall, mono), arg);
}

const struct mirror_stats *mirror_stats(const struct mirror *m)
{
	return &m->st;
}

uint64_t mirror_next_deadline(const struct mirror *m)
{
	uint64_t d = m->n ? m->ents[m->heap[0]].expiry_ms : UINT64_MAX;

	if (m->changed && m->write_after < d)
		d = m->write_after;
	return d;
}

/* ---- writing ---- */

static void file_remember(struct mirror *m, const struct stat *st)
{
	m->have_file = true;
	m->f_dev = st->st_dev;
	m->f_ino = st->st_ino;
	m->f_size = st->st_size;
	m->f_mtim = st->st_mtim;
}

/* Is the map still the file we wrote last (nobody replaced it)? */
static bool file_is_ours(const struct mirror *m)
{
	struct stat st;

	if (!m->have_file || stat(m->map_path, &st) < 0)
		return false;
	return st.st_dev == m->f_dev && st.st_ino == m->f_ino &&
	       st.st_size == m->f_size && st.st_mtim.tv_sec == m->f_mtim.tv_sec &&
	       st.st_mtim.tv_nsec == m->f_mtim.tv_nsec;
}

static int commit_tmp(struct mirror *m, const char *tmp)
{
	struct stat st;

	if (stat(tmp, &st) < 0 || rename(tmp, m->map_path) < 0) {
		snprintf(m->err, sizeof(m->err), "rename %s: %s", tmp, strerror(errno));
		return -1;
	}
	/* rename() keeps the inode and its mtime. */
	file_remember(m, &st);
	return 0;
}

/* Sort record: the key's first 16 bytes as two big-endian words, so most
 * comparisons need no memory outside the array (every IPv4 key fits). */
struct wkey {
	uint64_t p[2];
	uint32_t off;	/* key text in the arena */
	uint32_t ent;
};

static int wkey_cmp(const void *x, const void *y, void *arena)
{
	const struct wkey *a = x, *b = y;

	/* libdb's default btree order is memcmp on key+NUL, i.e. strcmp;
	 * equal prefixes without a NUL in them continue in the arena. */
	if (a->p[0] != b->p[0])
		return a->p[0] < b->p[0] ? -1 : 1;
	if (a->p[1] != b->p[1])
		return a->p[1] < b->p[1] ? -1 : 1;
	if (!(a->p[1] & 0xff))
		return 0;
	return strcmp((char *)arena + a->off + 16, (char *)arena + b->off + 16);
}

static uint64_t be64(const char *s)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | (uint8_t)s[i];
	return v;
}

/* The whole table (or, with empty, no record at all) into a new file. */
static int write_full(struct mirror *m, const char *tmp, bool empty)
{
	uint32_t n = empty ? 0 : m->n;
	struct wkey *keys = NULL;
	char *arena = NULL, val[MIRROR_VALLEN];
	size_t alen = 0, acap = (size_t)n * 16 + 64;
	struct btmap *b = NULL;

	if (!(keys = malloc(((size_t)n + 1) * sizeof(*keys))) ||
	    !(arena = malloc(acap)))
		goto oom;
	for (uint32_t i = 0; i < n; i++) {
		size_t len;

		/* Room for the longest key and the zero padding to 16. */
		if (acap - alen < ADDR_STRLEN + 16) {
			char *p = realloc(arena, acap * 2);

			if (!p)
				goto oom;
			arena = p;
			acap *= 2;
		}
		len = key_fmt(&m->ents[i].addr, arena + alen);
		memset(arena + alen + len, 0, len < 16 ? 16 - len : 1);
		keys[i].p[0] = be64(arena + alen);
		keys[i].p[1] = be64(arena + alen + 8);
		keys[i].off = alen;
		keys[i].ent = i;
		alen += (len < 16 ? 16 : len + 1);
	}
	/* In key order libdb appends to the rightmost leaf and splits it
	 * unevenly: pages end up full and the write is fast. */
	qsort_r(keys, n, sizeof(*keys), wkey_cmp, arena);
	if (!(b = btmap_create(tmp)))
		goto bad;
	for (uint32_t i = 0; i < n; i++) {
		const char *k = arena + keys[i].off;
		size_t vlen = val_fmt(m->ents[keys[i].ent].expiry_ms, val);

		if (btmap_put_n(b, k, strlen(k), val, vlen) < 0)
			goto bad;
	}
	free(keys);
	free(arena);
	keys = NULL;
	arena = NULL;
	if (btmap_close(b) < 0) {
		b = NULL;
		goto bad;
	}
	return 0;
oom:
	snprintf(m->err, sizeof(m->err), "out of memory");
	btmap_abort(b);
	free(keys);
	free(arena);
	return -1;
bad:
	snprintf(m->err, sizeof(m->err), "%s", btmap_error());
	btmap_abort(b);
	free(keys);
	free(arena);
	unlink(tmp);
	return -1;
}

static int write_incremental(struct mirror *m, const char *tmp)
{
	char key[ADDR_STRLEN], val[MIRROR_VALLEN];
	struct btmap *b;

	if (btmap_copy(m->map_path, tmp) < 0)
		goto bad;
	if (!(b = btmap_open(tmp)))
		goto bad;
	for (size_t i = 0; i < m->ndirty; i++) {
		struct ment *e = ment_find(m, &m->dirty[i]);
		int r;

		key_fmt(&m->dirty[i], key);
		if (e) {
			val_fmt(e->expiry_ms, val);
			r = btmap_put(b, key, val);
		} else {
			r = btmap_del(b, key);
		}
		if (r < 0) {
			btmap_abort(b);
			goto bad;
		}
	}
	if (btmap_close(b) < 0)
		goto bad;
	return 0;
bad:
	snprintf(m->err, sizeof(m->err), "%s", btmap_error());
	unlink(tmp);
	return -1;
}

/* Under the lock nobody writes, so any MAP.tmp.* is a crashed writer's. */
static void sweep_tmp(struct mirror *m)
{
	size_t plen = strlen(m->tmp_prefix);
	struct dirent *d;
	DIR *dir;

	if (!(dir = opendir(m->dir_path)))
		return;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, m->tmp_prefix, plen) &&
		    unlinkat(dirfd(dir), d->d_name, 0) == 0)
			msg_info("removed stale %s/%s", m->dir_path, d->d_name);
	closedir(dir);
}

/* Keep the cause where drac status shows it: JSON without escapes. */
static void note_error(struct mirror *m)
{
	snprintf(m->st.error, sizeof(m->st.error), "%s", m->err);
	for (char *p = m->st.error; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '\'';
}

/* The last resort when the map can be neither rewritten nor removed (a
 * read-only file system): Postfix takes flock(LOCK_SH) on the map around
 * every lookup, so holding LOCK_EX makes its lookups wait (the SMTP
 * client times out) instead of relaying past an expiry. */
static void map_block(struct mirror *m)
{
	int fd;

	if (m->block_fd >= 0)
		return;
	fd = open(m->map_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		msg_err("cannot lock %s: %s; Postfix may relay past the end of a window "
			"until the map is written", m->map_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	m->block_fd = fd;
	msg_err("holding the lock of %s: Postfix's lookups in it wait (no relay, no "
		"mail from outside mynetworks) until it can be written again", m->map_path);
}

/* The new map is in place: the lookups that waited on the old one must
 * not find the old grants when they go on, so that inode is emptied. */
static void map_unblock(struct mirror *m)
{
	char proc[64];
	int fd;

	if (m->block_fd < 0)
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->block_fd);
	fd = open(proc, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0)
		msg_warn("cannot empty the old %s: %s", m->map_path, strerror(errno));
	if (fd >= 0)
		close(fd);
	close(m->block_fd);
	m->block_fd = -1;
	msg_info("released the lock of the old %s", m->map_path);
}

/* Remove the map when it may grant past an expiry: Postfix then answers
 * 451 4.3.5 (a lookup error) instead of relaying. */
static void map_withdraw(struct mirror *m, const char *why)
{
	if (m->st.map_removed)
		return;
	if (unlink(m->map_path) == 0 || errno == ENOENT) {
		m->st.map_removed = true;
		m->have_file = false;
		m->need_full = true;
		m->unlink_failed = false;
		msg_err("removed %s: %s; Postfix answers 451 4.3.5 for clients outside "
			"mynetworks until it is written again (then `postfix reload`)",
			m->map_path, why);
		return;
	}
	if (!m->unlink_failed)
		msg_err("cannot remove %s either: %s", m->map_path, strerror(errno));
	m->unlink_failed = true;
	map_block(m);
}

struct prune {
	struct mirror *m;
	uint64_t now_ms;
	bool all;		/* every record goes (a stop) */
	struct { char key[ADDR_STRLEN], val[MIRROR_VALLEN]; } *v;
	size_t n, cap;
	bool oom;
};

/* Which records of the file grant too much: an address the table no
 * longer holds, or a value whose time has come. */
static int prune_rec(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
	struct prune *p = arg;
	struct drac_addr a;
	struct ment *e = NULL;
	uint64_t sec = 0;

	if (klen < 2 || klen > ADDR_STRLEN || key[klen - 1] || vlen < 2 || vlen > 21 ||
	    val[vlen - 1])
		return 0;	/* not ours to judge: load drops such records */
	for (size_t i = 0; i + 1 < vlen; i++)
		sec = val[i] >= '0' && val[i] <= '9' ? sec * 10 + (val[i] - '0') : 0;
	if (!p->all && addr_parse_n(key, klen - 1, &a) == 0)
		e = ment_find(p->m, &a);
	if (e && sec * 1000 > p->now_ms)
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		void *v = realloc(p->v, cap * sizeof(*p->v));

		if (!v) {
			p->oom = true;
			return -2;
		}
		p->v = v;
		p->cap = cap;
	}
	memcpy(p->v[p->n].key, key, klen);
	/* A refreshed grant keeps its record when the new value is as long
	 * (an in-place overwrite); otherwise it goes. */
	p->v[p->n].val[0] = '\0';
	if (e && val_fmt(e->expiry_ms, p->v[p->n].val) != vlen - 1)
		p->v[p->n].val[0] = '\0';
	p->n++;
	return 0;
}

/* No room for a new file (ENOSPC, EDQUOT): take the ended grants out of
 * the map in place, under its own flock(LOCK_EX) as postmap does.
 * Deleting and same-length values need no new page, and Postfix keeps
 * answering (554 for them) instead of 451 for every client.  0 or -1. */
static int map_prune(struct mirror *m, uint64_t now_ms, bool all)
{
	struct prune p = { .m = m, .now_ms = now_ms, .all = all };
	struct btmap *b = NULL;
	int fd, rc = -1;

	if (btmap_lock(m->lock_fd, true) < 0)
		return -1;
	fd = open(m->map_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		goto out;
	if (btmap_walk(m->map_path, false, prune_rec, &p) < 0 || p.oom ||
	    !(b = btmap_open(m->map_path)))
		goto out;
	for (size_t i = 0; i < p.n; i++)
		if ((p.v[i].val[0] ? btmap_put(b, p.v[i].key, p.v[i].val)
				   : btmap_del(b, p.v[i].key)) < 0)
			goto out;
	rc = btmap_close(b);
	b = NULL;
	if (rc == 0)
		msg_warn("took %zu %sgrants out of %s in place (no room for a new file)",
			 p.n, all ? "" : "ended ", m->map_path);
out:
	if (rc < 0)
		msg_err("cannot take the ended grants out of %s in place: %s", m->map_path,
			fd < 0 ? strerror(errno) : btmap_error());
	btmap_abort(b);
	if (fd >= 0)
		close(fd);	/* drops the flock */
	btmap_unlock(m->lock_fd);
	free(p.v);
	m->have_file = false;	/* changed under the incremental writer */
	return rc;
}

static void write_failed(struct mirror *m, uint64_t now_ms)
{
	if (!m->st.stale_since_ms)
		m->st.stale_since_ms = now_ms ? now_ms : 1;
	note_error(m);
	if (!m->overgrants || m->st.map_removed)
		return;
	if (map_prune(m, now_ms, false) == 0)
		m->overgrants = false;
	else
		map_withdraw(m, "it holds a grant that has ended and cannot be rewritten");
}

static void write_ok(struct mirror *m)
{
	map_unblock(m);
	if (m->st.map_removed)
		msg_info("%s is back", m->map_path);
	m->st.stale_since_ms = 0;
	m->st.error[0] = '\0';
	m->st.map_removed = false;
	m->overgrants = false;
	m->unlink_failed = false;
}

/* 0 written, 1 lock busy, -1 failed (m->err says why). */
static int mirror_write(struct mirror *m, bool full, bool wait, uint64_t now_ms)
{
	char tmp[4096];
	uint64_t t0;
	struct stat st;
	int r;

	if ((r = btmap_lock(m->lock_fd, wait))) {
		if (r < 0)
			snprintf(m->err, sizeof(m->err), "lock %s: %s", m->lock_path,
				 btmap_error());
		return r;
	}
	t0 = mono_us();
	if (wait)
		sweep_tmp(m);
	snprintf(tmp, sizeof(tmp), "%s/%s%ld", m->dir_path, m->tmp_prefix, (long)getpid());
	unlink(tmp);
	if (!full && (m->need_full || !file_is_ours(m)))
		full = true;
	r = -1;
	if (!full) {
		r = write_incremental(m, tmp);
		if (r == 0)
			r = commit_tmp(m, tmp);
		if (r < 0) {
			msg_debug("incremental write of %s failed (%s); writing it whole",
				  m->map_path, m->err);
			unlink(tmp);
			full = true;
		}
	}
	if (full) {
		r = write_full(m, tmp, false);
		if (r == 0 && (r = commit_tmp(m, tmp)) < 0)
			unlink(tmp);
	}
	btmap_unlock(m->lock_fd);
	if (r < 0) {
		m->st.write_errors++;
		write_failed(m, now_ms);
		return -1;
	}
	write_ok(m);

	if (full) {
		for (uint32_t i = 0; i < m->n; i++)
			m->ents[i].dirty = 0;
		m->full_bpe = m->n ? (double)m->f_size / m->n : 0;
		m->st.full_writes++;
	} else {
		for (size_t i = 0; i < m->ndirty; i++) {
			struct ment *e = ment_find(m, &m->dirty[i]);

			if (e)
				e->dirty = 0;
		}
		m->st.incremental_writes++;
	}
	m->ndirty = 0;
	m->need_full = false;
	m->changed = false;
	/* Random inserts split pages and deletes leave them half empty;
	 * past three times the packed size (about 42 bytes an entry), repack
	 * with the next write. */
	if (!full && stat(m->map_path, &st) == 0 &&
	    (double)st.st_size > 3 * (m->full_bpe > 32 ? m->full_bpe : 32) * m->n + 262144)
		m->need_full = true;
	m->st.writes++;
	m->st.last_write_wall_ms = now_ms;
	m->st.last_write_us = mono_us() - t0;
	msg_debug("wrote %s: %u entries, %s, %" PRIu64 " us", m->map_path, m->n,
		  full ? "full" : "incremental", m->st.last_write_us);
	return 0;
}

int mirror_write_now(struct mirror *m)
{
	if (mirror_write(m, true, true, wall_ms()) < 0) {
		msg_err("cannot write %s: %s", m->map_path, m->err);
		return -1;
	}
	/* Its grants are in the map now: a later load must not bring back
	 * what is revoked meanwhile. */
	if (unlink(m->state_path) == 0)
		msg_info("removed %s: its grants are in %s", m->state_path, m->map_path);
	return 0;
}

const char *mirror_state_path(const struct mirror *m)
{
	return m->state_path;
}

static void expire_due(struct mirror *m, uint64_t now_ms)
{
	while (m->n && m->ents[m->heap[0]].expiry_ms <= now_ms) {
		char a[ADDR_STRLEN];

		/* The kernel expires the element at this moment too, silently:
		 * this is the only place the end of a window is seen. */
		msg_info("expired %s", addr_fmt(&m->ents[m->heap[0]].addr, a, sizeof(a)));
		ment_remove(m, m->heap[0]);
		m->st.expired++;
	}
}

int mirror_shutdown(struct mirror *m)
{
	char tmp[4096];

	expire_due(m, wall_ms());
	/* Waits for a writer in another process; goes on without the lock
	 * if it cannot be had: leaving a full map behind is worse. */
	if (btmap_lock(m->lock_fd, true) < 0)
		msg_err("lock %s: %s", m->lock_path, btmap_error());
	snprintf(tmp, sizeof(tmp), "%s/%s%ld", m->dir_path, m->tmp_prefix, (long)getpid());
	unlink(tmp);
	if (!m->n) {
		if (unlink(m->state_path) < 0 && errno != ENOENT)
			msg_err("cannot remove %s: %s", m->state_path, strerror(errno));
	} else if ((m->err[0] = '\0', write_full(m, tmp, false)) < 0 || rename(tmp, m->state_path) < 0) {
		if (!m->err[0])	/* write_full says why; rename does not */
			snprintf(m->err, sizeof(m->err), "rename: %s", strerror(errno));
		msg_err("cannot save %u grants to %s: %s; they stay in the kernel sets only",
			m->n, m->state_path, m->err);
		unlink(tmp);
	}
	m->err[0] = '\0';
	if (write_full(m, tmp, true) == 0 && commit_tmp(m, tmp) == 0) {
		msg_info("emptied %s: %u grants kept in %s and the kernel sets", m->map_path,
			 m->n, m->state_path);
		btmap_unlock(m->lock_fd);
		return 0;
	}
	unlink(tmp);
	msg_err("cannot empty %s: %s", m->map_path, m->err);
	btmap_unlock(m->lock_fd);	/* map_prune takes it again */
	/* No room for an empty file: empty this one in place, or remove it. */
	if (map_prune(m, wall_ms(), true) == 0)
		return 0;
	m->st.map_removed = false;
	map_withdraw(m, "dracd stops, and nobody would expire its grants");
	return m->st.map_removed ? 0 : -1;
}

static uint64_t retry_delay(const struct mirror *m)
{
	uint64_t d = (uint64_t)m->interval_ms << (m->fail_streak < 10 ? m->fail_streak : 10);

	if (d > MIRROR_BACKOFF_MAX_MS)
		d = MIRROR_BACKOFF_MAX_MS;
	return d > m->interval_ms ? d : m->interval_ms;
}

static uint64_t write_gap(const struct mirror *m)
{
	uint64_t gap = m->interval_ms, busy;

	if (m->f_size < MIRROR_DUTY_MIN_BYTES)
		return gap;
	busy = m->st.last_write_us * MIRROR_DUTY / 1000;
	if (busy > MIRROR_BACKOFF_MAX_MS)
		busy = MIRROR_BACKOFF_MAX_MS;
	return busy > gap ? busy : gap;
}

/* The wall clock stepped back since the last tick (NTP, date -s): bring
 * every expiry back to what the monotonic clock says is left, so the
 * entries leave the table, the map and a restore when their windows
 * end.  A step forward needs nothing: entries end early, which is safe. */
static void clock_check(struct mirror *m)
{
	uint64_t wall = wall_ms(), mono = mono_ms();
	int64_t off = (int64_t)(wall - mono), was = m->clock_off;
	uint32_t n = m->n;

	m->clock_off = off;
	if (off >= was - MIRROR_CLOCK_SLACK_MS || !n)
		return;
	msg_warn("the wall clock went back %lld ms; grants keep their remaining time",
		 (long long)(was - off));
	for (uint32_t i = 0; i < n; i++)
		m->ents[i].expiry_ms = ment_expiry(&m->ents[i], wall, mono);
	/* Rebuild the heap by inserting each entry in turn. */
	for (uint32_t i = 0; i < n; i++) {
		m->n = i + 1;
		heap_set(m, i, i);
		heap_fix(m, i);
	}
	m->n = n;
	m->need_full = true;
	m->ndirty = 0;
	m->changed = true;
}

int mirror_tick(struct mirror *m, uint64_t now_ms)
{
	uint64_t longest = m->interval_ms > MIRROR_BACKOFF_MAX_MS ? m->interval_ms
								  : MIRROR_BACKOFF_MAX_MS;
	int r;

	clock_check(m);
	expire_due(m, now_ms);
	if (!m->changed)
		return 0;
	if (m->write_after > now_ms) {
		if (m->write_after - now_ms <= longest)
			return 0;
		m->write_after = now_ms; /* the wall clock went back */
	}
	r = mirror_write(m, false, false, now_ms);
	if (r == 1) {
		m->write_after = now_ms + MIRROR_BUSY_RETRY_MS;
		return 0;
	}
	if (r < 0) {
		if (m->fail_streak++ == 0)
			msg_err("cannot write %s: %s (will retry)", m->map_path, m->err);
		m->write_after = now_ms + retry_delay(m);
		return -1;
	}
	if (m->fail_streak) {
		msg_info("wrote %s again after %u failed attempts", m->map_path,
			 m->fail_streak);
		m->fail_streak = 0;
	}
	m->write_after = now_ms + write_gap(m);
	return 0;
}

/* ---- loading ---- */

struct lrec {
	uint64_t expiry_ms;
	struct drac_addr addr;
};

struct lctx {
	struct lrec *v;
	size_t n, cap;
	size_t bad;
	bool oom;
};

/* Accept exactly what we write: canonical address + NUL -> digits + NUL. */
static int load_rec(const char *key, size_t klen, const char *val, size_t vlen,
		    void *arg)
{
	struct lctx *c = arg;
	char canon[ADDR_STRLEN];
	struct drac_addr a;
	uint64_t sec = 0;

	if (klen < 2 || key[klen - 1] || memchr(key, 0, klen - 1) ||
	    addr_parse_n(key, klen - 1, &a) < 0 ||
	    strcmp(addr_fmt(&a, canon, sizeof(canon)), key))
		goto bad;
	if (vlen < 2 || vlen > 21 || val[vlen - 1])
		goto bad;
	for (size_t i = 0; i < vlen - 1; i++) {
		if (val[i] < '0' || val[i] > '9' || sec > (UINT64_MAX / 1000 - 9) / 10)
			goto bad;
		sec = sec * 10 + (val[i] - '0');
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct lrec *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return -2;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].addr = a;
	c->v[c->n].expiry_ms = sec * 1000;
	c->n++;
	return 0;
bad:
	c->bad++;
	return 0;
}

/* One file: the map (is_map) or the state a stopped dracd left. */
static int load_file(struct mirror *m, const char *path, bool is_map, uint64_t now_ms)
{
	struct lctx c = { 0 };
	struct stat st0, st1;
	size_t expired = 0;
	int loaded = 0;
	long r;

	/* A writer in another process must not replace the file meanwhile. */
	if (btmap_lock(m->lock_fd, true) < 0) {
		msg_err("cannot load %s: lock %s: %s", m->map_path, m->lock_path,
			btmap_error());
		goto fail;
	}
	if (stat(path, &st0) < 0) {
		int e = errno;

		btmap_unlock(m->lock_fd);
		if (e == ENOENT && is_map)
			msg_info("map %s does not exist yet; it will be written", path);
		else if (e != ENOENT)
			msg_err("cannot load %s: %s", path, strerror(e));
		goto fail;
	}
	r = btmap_walk(path, true, load_rec, &c);
	if (stat(path, &st1) < 0)
		memset(&st1, 0, sizeof(st1));
	btmap_unlock(m->lock_fd);
	if (r < 0 || c.oom) {
		msg_err("%s %s is corrupt or unreadable (%s)%s", is_map ? "map" : "state", path,
			c.oom ? "out of memory" : btmap_error(),
			is_map ? "; it will be rebuilt" : "");
		goto fail;
	}
	if (c.bad) {
		msg_warn("%s: %zu records that are not ADDRESS -> digits; "
			 "they will be dropped", path, c.bad);
		if (is_map) {
			m->need_full = true;
			m->changed = true;
		}
	}
	/* A map written "in the future" means the wall clock went back
	 * while no dracd was watching (a reboot with the hardware clock
	 * behind): at least that much of every window has passed. */
	uint64_t mtime = (uint64_t)st0.st_mtim.tv_sec * 1000 + st0.st_mtim.tv_nsec / 1000000,
		 wall = wall_ms(), back = mtime > wall + MIRROR_CLOCK_SLACK_MS ? mtime - wall : 0;

	if (back) {
		msg_warn("%s was written %llu s in the future: the clock went back; "
			 "its grants are shortened by as much", path,
			 (unsigned long long)(back / 1000));
		m->need_full = true;
		m->changed = true;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct lrec *l = &c.v[i];
		struct ment *e;

		l->expiry_ms = l->expiry_ms > back ? l->expiry_ms - back : 0;
		if (l->expiry_ms <= now_ms) {
			expired++;
			if (!is_map)
				continue;
			/* Not in the table: the next write deletes it, and
			 * until then the file grants too much. */
			m->overgrants = true;
			if (!ment_find(m, &l->addr))
				dirty_note(m, &l->addr, NULL);
			continue;
		}
		/* The table came from the kernel: it is newer than the file. */
		if ((e = ment_find(m, &l->addr))) {
			if (is_map && e->expiry_ms / 1000 != l->expiry_ms / 1000)
				dirty_note(m, &l->addr, e);
			continue;
		}
		if (!(e = ment_add(m, &l->addr, l->expiry_ms))) {
			msg_err("cannot load %s: out of memory", path);
			m->need_full = true;
			m->changed = true;
			break;
		}
		/* From the state: not in the map file yet. */
		if (!is_map)
			dirty_note(m, &l->addr, e);
		loaded++;
	}
	free(c.v);
	if (is_map && st0.st_dev == st1.st_dev && st0.st_ino == st1.st_ino &&
	    st0.st_size == st1.st_size && st0.st_mtim.tv_sec == st1.st_mtim.tv_sec &&
	    st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec) {
		file_remember(m, &st1);
		if (!m->full_bpe && c.n)
			m->full_bpe = (double)st1.st_size / c.n;
	}
	msg_info("loaded %d entries from %s (%zu expired)", loaded, path, expired);
	return loaded;
fail:
	free(c.v);
	if (is_map) {
		m->have_file = false;
		m->need_full = true;
		m->changed = true;
	}
	return -1;
}

int mirror_load(struct mirror *m, uint64_t now_ms)
{
	int r = load_file(m, m->map_path, true, now_ms);

	load_file(m, m->state_path, false, now_ms);
	return r;
}
