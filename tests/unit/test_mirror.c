/* test_mirror.c - the address -> expiry table and the map it writes.
 * Time is whatever now_ms the test passes: no sleeps. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "btmap.h"
#include "mirror.h"
#include "t.h"

static char dir[] = "/tmp/test_mirror.XXXXXX";
static char map[256];

static struct drac_addr A(const char *s)
{
	struct drac_addr a;

	if (addr_parse(s, &a) < 0)
		printf("# bad test address %s\n", s);
	return a;
}

/* A parsed address that lives until eight more have been made. */
static const struct drac_addr *P(const char *s)
{
	static struct drac_addr ring[8];
	static unsigned i;
	struct drac_addr *a = &ring[i++ % 8];

	*a = A(s);
	return a;
}

static struct mirror *mk(const char *path, unsigned interval)
{
	struct mirror_config cfg = { .map_path = path, .min_write_interval_ms = interval };

	return mirror_new(&cfg);
}

/* The value stored for key in the map, or "" when absent/unreadable. */
static const char *mapval(const char *key)
{
	static char buf[64];

	if (btmap_get(map, key, buf, sizeof(buf)) != 1)
		buf[0] = '\0';
	return buf;
}

static int count_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(*(long *)arg)++;
	return 0;
}

static long map_records(void)
{
	long n = 0;

	return btmap_walk(map, true, count_cb, &n) < 0 ? -1 : n;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (write(fd, data, len) != (ssize_t)len)
			perror(path);
		close(fd);
	}
}

static void test_dirs(void)
{
	char sub[300], p[400];
	struct mirror *m;

	m = mk(map, 0);
	T_OK(m != NULL, "mirror_new in a 0700 directory");
	mirror_free(m);

	snprintf(sub, sizeof(sub), "%s/ww", dir);
	mkdir(sub, 0755);
	chmod(sub, 0777);
	snprintf(p, sizeof(p), "%s/dracd.db", sub);
	T_OK(mk(p, 0) == NULL, "world-writable directory refused");
	chmod(sub, 0775);
	T_OK(mk(p, 0) == NULL, "group-writable directory refused");
	if (geteuid() == 0) {
		chmod(sub, 01777);
		m = mk(p, 0);
		T_OK(m != NULL, "sticky root-owned directory accepted");
		mirror_free(m);
	}
	snprintf(p, sizeof(p), "%s/nonexistent/dracd.db", dir);
	T_OK(mk(p, 0) == NULL, "missing directory refused");
}

static void test_table(void)
{
	struct mirror *m = mk(map, 0);
	struct drac_addr mapped = A("::ffff:192.0.2.1");
	uint64_t e = 0;

	T_EQ_INT(mirror_count(m), 0, "empty");
	T_EQ_INT(mirror_next_deadline(m) == UINT64_MAX, 1, "nothing pending: UINT64_MAX");
	mirror_set(m, P("192.0.2.7"), 1000000);
	mirror_set(m, P("2001:db8::2"), 2000000);
	T_EQ_INT(mirror_count(m), 2, "two entries");
	T_OK(mirror_get(m, P("192.0.2.7"), &e) && e == 1000000,
	     "get IPv4");
	T_OK(mirror_get(m, P("2001:DB8:0:0:0:0:0:2"), &e) &&
	     e == 2000000, "get IPv6 by another spelling");
	T_OK(!mirror_get(m, P("192.0.2.8"), NULL), "absent");
	T_OK(!mirror_get(m, &mapped, NULL), "IPv4-mapped IPv6 is a different key");

	mirror_set(m, P("192.0.2.7"), 3000000);
	T_EQ_INT(mirror_count(m), 2, "refresh does not add");
	T_OK(mirror_get(m, P("192.0.2.7"), &e) && e == 3000000,
	     "refresh moves the expiry");
	T_EQ_INT(mirror_next_deadline(m), 0, "a change is pending: tick at once");
	mirror_del(m, P("192.0.2.7"));
	mirror_del(m, P("192.0.2.99"));
	T_EQ_INT(mirror_count(m), 1, "del");
	T_OK(!mirror_get(m, P("192.0.2.7"), NULL), "deleted is gone");

	for (int i = 0; i < 10; i++) {
		char s[64];

		snprintf(s, sizeof(s), "198.51.100.%d", i);
		mirror_set(m, P(s), 5000000 + i);
		snprintf(s, sizeof(s), "2001:db8::%x", 0x100 + i);
		mirror_set(m, P(s), 5000000 + i);
	}
	T_EQ_INT(mirror_count(m), 21, "21 entries");
	mirror_clear(m, AF_INET6);
	T_EQ_INT(mirror_count(m), 10, "clear IPv6 keeps IPv4");
	T_OK(mirror_get(m, P("198.51.100.9"), NULL), "IPv4 kept");
	T_OK(!mirror_get(m, P("2001:db8::2"), NULL), "IPv6 gone");
	mirror_clear(m, AF_INET);
	T_EQ_INT(mirror_count(m), 0, "clear IPv4");
	mirror_set(m, P("2001:db8::2"), 1);
	mirror_set(m, P("192.0.2.1"), 1);
	mirror_clear(m, 0);
	T_EQ_INT(mirror_count(m), 0, "clear all");
	mirror_set(m, P("192.0.2.1"), 7);
	T_OK(mirror_get(m, P("192.0.2.1"), &e) && e == 7,
	     "usable after clear");
	mirror_free(m);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static void test_expiry_order(void)
{
	enum { N = 300 };
	struct mirror *m = mk(map, 50);
	uint64_t exp[N], seed = 12345;
	int bad_deadline = 0, bad_count = 0;

	for (int i = 0; i < N; i++) {
		char s[64];

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* Several entries share an expiry: they leave together. */
		exp[i] = 10000 + (seed >> 33) % 200 * 1000;
		if (i % 2)
			snprintf(s, sizeof(s), "203.0.%d.%d", i / 256, i % 256);
		else
			snprintf(s, sizeof(s), "2001:db8:1::%x", i);
		mirror_set(m, P(s), exp[i]);
	}
	T_EQ_INT(mirror_tick(m, 0), 0, "first tick writes");
	qsort(exp, N, sizeof(exp[0]), cmp_u64);
	T_EQ_INT(mirror_next_deadline(m), exp[0], "next deadline is the earliest expiry");
	for (int i = 0; i < N;) {
		uint64_t d = mirror_next_deadline(m);
		int j = i;

		while (j < N && exp[j] <= d)
			j++;
		bad_deadline += d != exp[i];
		mirror_tick(m, d);
		bad_count += mirror_count(m) != (size_t)(N - j);
		i = j;
	}
	T_EQ_INT(bad_deadline, 0, "every deadline was the next expiry in order");
	T_EQ_INT(bad_count, 0, "each tick expired exactly the due entries");
	T_EQ_INT(mirror_stats(m)->expired, N, "all %d expired", N);
	T_EQ_INT(map_records(), 0, "the written map is empty again");
	T_EQ_INT(mirror_next_deadline(m) == UINT64_MAX, 1, "nothing left: UINT64_MAX");

	/* A refresh moves the entry in the ordering. */
	mirror_set(m, P("192.0.2.1"), 900000);
	mirror_set(m, P("192.0.2.2"), 800000);
	mirror_tick(m, 500000);
	T_EQ_INT(mirror_next_deadline(m), 800000, "earliest first");
	mirror_set(m, P("192.0.2.2"), 990000);
	mirror_tick(m, 600000);
	T_EQ_INT(mirror_next_deadline(m), 900000, "refreshed entry moved back");
	mirror_set(m, P("192.0.2.1"), 700000);
	mirror_tick(m, 610000);
	T_EQ_INT(mirror_next_deadline(m), 700000, "shortened entry moved forward");
	mirror_free(m);
}

static void test_coalescing(void)
{
	struct mirror *m = mk(map, 50);
	const struct mirror_stats *st = mirror_stats(m);

	T_EQ_INT(mirror_write_now(m), 0, "write_now");
	T_EQ_INT(st->writes, 1, "one write");
	T_EQ_INT(mirror_tick(m, 100000), 0, "tick with nothing to do");
	T_EQ_INT(st->writes, 1, "no write without a change");

	mirror_set(m, P("192.0.2.10"), 2000000);
	T_OK(mirror_next_deadline(m) <= 100000, "first change after quiet: due at once");
	mirror_tick(m, 100000);
	T_EQ_INT(st->writes, 2, "first change written at once");
	T_EQ_STR(mapval("192.0.2.10"), "2000", "and visible in the map");

	mirror_set(m, P("192.0.2.11"), 2000000);
	T_EQ_INT(mirror_next_deadline(m), 100050, "second change waits for the interval");
	mirror_tick(m, 100010);
	mirror_set(m, P("2001:db8::11"), 2000000);
	mirror_tick(m, 100049);
	T_EQ_INT(st->writes, 2, "nothing written inside the interval");
	T_EQ_STR(mapval("192.0.2.11"), "", "not yet in the map");
	mirror_tick(m, 100050);
	T_EQ_INT(st->writes, 3, "both written together at the interval");
	T_EQ_STR(mapval("192.0.2.11"), "2000", "IPv4 in the map");
	T_EQ_STR(mapval("2001:db8::11"), "2000", "IPv6 in the map");
	T_EQ_INT(st->last_write_wall_ms, 100050, "last write time");
	T_EQ_INT(st->incremental_writes, 2, "small changes were incremental");
	T_EQ_INT(st->full_writes, 1, "only the first write was full");

	/* Same second: the file would not change, so nothing is due. */
	mirror_set(m, P("192.0.2.11"), 2000400);
	T_EQ_INT(mirror_next_deadline(m), 2000000, "same-second refresh is not a change");

	mirror_set(m, P("192.0.2.12"), 2000000);
	T_EQ_INT(mirror_next_deadline(m), 100100, "due one interval after the last write");
	mirror_tick(m, 300000);
	T_EQ_INT(st->writes, 4, "after a quiet period written at the first tick");

	/* The wall clock going back does not stall writes. */
	mirror_set(m, P("192.0.2.13"), 2000000);
	mirror_tick(m, 300001);
	T_EQ_INT(st->writes, 4, "inside the interval");
	mirror_tick(m, 200000);
	T_EQ_INT(st->writes, 5, "clock went back 100 s: written anyway");

	/* Another writer holding the lock: retried soon, not an error. */
	{
		char lock[300];
		int fd;

		snprintf(lock, sizeof(lock), "%s.lock", map);
		fd = btmap_lock_open(lock);
		btmap_lock(fd, true);
		mirror_set(m, P("192.0.2.14"), 2000000);
		T_EQ_INT(mirror_tick(m, 400000), 0, "busy lock is not a failure");
		T_EQ_INT(st->writes, 5, "not written while locked");
		T_EQ_INT(mirror_next_deadline(m), 400010, "retried 10 ms later");
		btmap_unlock(fd);
		close(fd);
		mirror_tick(m, 400010);
		T_EQ_INT(st->writes, 6, "written once the lock is free");
		T_EQ_STR(mapval("192.0.2.14"), "2000", "in the map");
	}
	mirror_free(m);
}

static void test_roundtrip(void)
{
	struct mirror *m = mk(map, 0), *m2;
	uint64_t e = 0;
	long before;

	mirror_set(m, P("192.0.2.7"), 1800000123456ull);
	mirror_set(m, P("2001:DB8:0:0:0:0:0:2"), 1800000000999ull);
	mirror_set(m, P("2001:DB8::A"), 1800000100000ull);
	mirror_set(m, P("198.51.100.1"), 1700000000000ull);
	T_EQ_INT(mirror_write_now(m), 0, "write");
	T_EQ_STR(mapval("192.0.2.7"), "1800000123", "value: whole seconds");
	T_EQ_STR(mapval("2001:db8::2"), "1800000000", "IPv6 key compressed");
	T_EQ_STR(mapval("2001:db8::a"), "1800000100", "IPv6 key lowercase");
	T_EQ_STR(mapval("2001:DB8::A"), "", "no uppercase key");
	T_EQ_STR(mapval("2001:db8:0:0:0:0:0:2"), "", "no uncompressed key");
	mirror_free(m);

	m2 = mk(map, 0);
	T_EQ_INT(mirror_load(m2, 1750000000000ull), 3, "3 loaded, 1 expired skipped");
	T_OK(mirror_get(m2, P("2001:db8::2"), &e) &&
	     e == 1800000000000ull, "IPv6 expiry back (whole seconds)");
	T_OK(mirror_get(m2, P("192.0.2.7"), &e) &&
	     e == 1800000123000ull, "IPv4 expiry back");
	T_OK(!mirror_get(m2, P("198.51.100.1"), NULL),
	     "expired entry not loaded");
	T_EQ_STR(mapval("198.51.100.1"), "1700000000", "still in the file before a write");
	T_OK(mirror_next_deadline(m2) <= 1750000000000ull, "a write is due to drop it");
	mirror_tick(m2, 1750000000000ull);
	T_EQ_STR(mapval("198.51.100.1"), "", "expired entry removed from the file");
	T_EQ_STR(mapval("2001:db8::a"), "1800000100", "others kept");
	T_EQ_INT(mirror_stats(m2)->incremental_writes, 1, "by an incremental write");
	before = map_records();
	T_EQ_INT(before, 3, "3 records in the file");

	/* A table entry beats the file's older value. */
	mirror_set(m2, P("192.0.2.7"), 1900000000000ull);
	T_EQ_INT(mirror_load(m2, 1750000000000ull), 0, "reload: nothing new");
	T_OK(mirror_get(m2, P("192.0.2.7"), &e) &&
	     e == 1900000000000ull, "the table's newer expiry kept");
	mirror_tick(m2, 1750000001000ull);
	T_EQ_STR(mapval("192.0.2.7"), "1900000000", "and written");
	mirror_free(m2);
}

static int keys_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	char *all = arg;

	strncat(all, k, kl);
	strcat(all, " ");
	return 0;
}

/* Keys are exactly addr_fmt's text, in libdb's (strcmp) order. */
static void test_keys(void)
{
	static const char *in[] = {
		"255.255.255.255", "0.0.0.0", "10.0.0.1", "100.200.0.9", "9.99.199.1",
		"2001:db8::1", "2001:db8:0:1:0:0:0:1", "2001:db8:1234:5678:9abc:def0:1234:5678",
		"::ffff:192.0.2.1", "::1", "fe80::", "2001:db8:0:0:1:0:0:0",
	};
	static const char *want =
		"0.0.0.0 10.0.0.1 100.200.0.9 2001:db8:0:0:1:: 2001:db8:0:1::1 2001:db8:1234:5678:9abc:def0:1234:5678 "
		"2001:db8::1 255.255.255.255 9.99.199.1 ::1 ::ffff:192.0.2.1 fe80:: ";
	struct mirror *m = mk(map, 0);
	char all[1024] = "";

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		mirror_set(m, P(in[i]), 1800000000000ull);
	T_EQ_INT(mirror_write_now(m), 0, "write edge-case keys");
	btmap_walk(map, false, keys_cb, all);
	T_EQ_STR(all, want, "keys in the file");
	mirror_free(m);
}

static void test_corrupt(void)
{
	struct mirror *m = mk(map, 0);
	char junk[8192];

	unlink(map);
	T_EQ_INT(mirror_load(m, 0), -1, "missing map: -1");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 31 + 7);
	write_file(map, junk, sizeof(junk));
	T_EQ_INT(mirror_load(m, 0), -1, "garbage map: -1");
	write_file(map, "", 0);
	T_EQ_INT(mirror_load(m, 0), -1, "empty map: -1");
	T_EQ_INT(mirror_count(m), 0, "nothing loaded");

	for (int i = 0; i < 3000; i++) {
		char s[64];

		snprintf(s, sizeof(s), "10.%d.%d.1", i / 256, i % 256);
		mirror_set(m, P(s), 1800000000000ull);
	}
	T_EQ_INT(mirror_write_now(m), 0, "write 3000");
	{
		struct stat st;

		T_OK(stat(map, &st) == 0 && truncate(map, st.st_size / 2) == 0, "truncate map");
	}
	mirror_free(m);
	m = mk(map, 0);
	T_EQ_INT(mirror_load(m, 0), -1, "truncated map: -1");
	T_EQ_INT(mirror_count(m), 0, "nothing loaded from the truncated map");
	mirror_set(m, P("192.0.2.1"), 1800000000000ull);
	T_EQ_INT(mirror_tick(m, 1000), 0, "next write");
	T_EQ_INT(mirror_stats(m)->full_writes, 1, "is a full one");
	T_EQ_INT(map_records(), 1, "the map is whole again");
	mirror_free(m);

	/* Records we would never write are dropped, the rest kept. */
	{
		struct btmap *b;

		unlink(map);
		b = btmap_create(map);
		btmap_put(b, "192.0.2.1", "1800000000");
		btmap_put(b, "192.0.2.2", "OK");
		btmap_put(b, "192.0.2.3", "1800000000 ");
		btmap_put(b, "2001:DB8::3", "1800000000");
		btmap_put(b, "2001:db8::4", "1800000000");
		btmap_put(b, "2001:db8:0:0::5", "1800000000");
		btmap_put(b, "192.0.2", "1800000000");
		btmap_put(b, "192.0.2.9", "99999999999999999999");
		btmap_close(b);
		m = mk(map, 0);
		T_EQ_INT(mirror_load(m, 0), 2, "2 good records of 8");
		mirror_tick(m, 1000);
		T_EQ_INT(map_records(), 2, "rewritten without the others");
		T_EQ_STR(mapval("2001:db8::4"), "1800000000", "good IPv6 kept");
		T_EQ_STR(mapval("192.0.2.2"), "", "OK value dropped");
		mirror_free(m);
	}
}

struct cmp {
	struct mirror *other;
	int mismatch;
};

static void cmp_cb(const struct drac_addr *a, uint64_t e, void *arg)
{
	struct cmp *c = arg;
	uint64_t e2;

	if (!mirror_get(c->other, a, &e2) || e2 != e / 1000 * 1000)
		c->mismatch++;
}

static void test_thousand(void)
{
	struct mirror *m = mk(map, 0), *m2;
	struct cmp c = { 0 };

	unlink(map);
	for (int i = 0; i < 1000; i++) {
		char s[64];

		if (i % 3)
			snprintf(s, sizeof(s), "192.0.%d.%d", i / 200, i % 200);
		else
			snprintf(s, sizeof(s), "2001:db8:%x::%x", i, i * 7);
		mirror_set(m, P(s), 1800000000000ull + i * 1001);
	}
	T_EQ_INT(mirror_tick(m, 1000), 0, "1000 entries written");
	T_EQ_INT(mirror_stats(m)->full_writes, 1, "first write is full");
	T_EQ_INT(map_records(), 1000, "1000 records in the file");
	m2 = mk(map, 0);
	T_EQ_INT(mirror_load(m2, 1000), 1000, "1000 loaded");
	c.other = m2;
	mirror_foreach(m, cmp_cb, &c);
	T_EQ_INT(c.mismatch, 0, "every entry back with its expiry");

	/* Someone else replaced the map: the next write is full. */
	{
		char other[300];
		struct btmap *b;

		snprintf(other, sizeof(other), "%s/other.db", dir);
		b = btmap_create(other);
		btmap_put(b, "203.0.113.1", "1");
		btmap_close(b);
		rename(other, map);
	}
	mirror_del(m, P("192.0.0.1"));
	mirror_tick(m, 100000);
	T_EQ_INT(mirror_stats(m)->full_writes, 2, "replaced file: full write");
	T_EQ_INT(map_records(), 999, "999 records");
	T_EQ_STR(mapval("203.0.113.1"), "", "the stranger's record is gone");

	/* Many changes at once go the full way too. */
	for (int i = 0; i < 600; i++) {
		char s[64];

		snprintf(s, sizeof(s), "198.18.%d.%d", i / 250, i % 250);
		mirror_set(m, P(s), 1800000000000ull);
	}
	mirror_tick(m, 200000);
	T_EQ_INT(mirror_stats(m)->full_writes, 2, "600 changes: still incremental");
	for (int i = 0; i < 2000; i++) {
		char s[64];

		snprintf(s, sizeof(s), "198.19.%d.%d", i / 250, i % 250);
		mirror_set(m, P(s), 1800000000000ull);
	}
	mirror_tick(m, 300000);
	T_EQ_INT(mirror_stats(m)->full_writes, 3, "2000 changes: full");
	T_EQ_INT(map_records(), 3599, "3599 records");
	mirror_free(m);
	mirror_free(m2);
}

/* Random operations against a plain array model; after every write the
 * file must hold exactly the model's entries. */
enum { K = 300 };
static uint64_t model[K];
static int file_bad, file_n;

static void kaddr(int i, char *s, size_t len)
{
	if (i % 3 == 0)
		snprintf(s, len, "2001:db8:%x::%x", i % 7, i);
	else
		snprintf(s, len, "192.%d.%d.%d", i % 5, i / 256, i % 256);
}

static int model_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct drac_addr a;
	char want[32];

	file_n++;
	for (int i = 0; i < K; i++) {
		char s[64];

		kaddr(i, s, sizeof(s));
		if (addr_parse(s, &a) == 0 && !strcmp(addr_fmt(&a, s, sizeof(s)), k)) {
			snprintf(want, sizeof(want), "%llu",
				 (unsigned long long)(model[i] / 1000));
			file_bad += !model[i] || strcmp(want, v);
			return 0;
		}
	}
	file_bad++;
	return 0;
}

static void test_model(void)
{
	struct mirror *m = mk(map, 50);
	const struct mirror_stats *st = mirror_stats(m);
	uint64_t now = 1000000, seed = 7, writes = 0;
	int bad_count = 0, bad_get = 0, bad_deadline = 0, checks = 0;

	memset(model, 0, sizeof(model));
	unlink(map);
	for (int op = 0; op < 8000; op++) {
		char s[64];
		unsigned r, i;
		uint64_t minexp = UINT64_MAX;
		size_t n = 0;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		r = (seed >> 33) % 1000;
		i = (seed >> 13) % K;
		kaddr(i, s, sizeof(s));
		if (r < 550) {
			model[i] = now + 1 + (seed >> 40) % 3000;
			mirror_set(m, P(s), model[i]);
		} else if (r < 990) {
			model[i] = 0;
			mirror_del(m, P(s));
		} else if (r < 996) {
			for (int j = 0; j < K; j += 3)
				model[j] = 0;
			mirror_clear(m, AF_INET6);
		} else {
			memset(model, 0, sizeof(model));
			mirror_clear(m, 0);
		}
		now += (seed >> 50) % 20;
		mirror_tick(m, now);
		for (int j = 0; j < K; j++) {
			if (model[j] && model[j] <= now)
				model[j] = 0;
			if (model[j]) {
				n++;
				if (model[j] < minexp)
					minexp = model[j];
			}
		}
		bad_count += mirror_count(m) != n;
		bad_deadline += mirror_next_deadline(m) > minexp;
		if (op % 97 == 0)
			for (int j = 0; j < K; j++) {
				uint64_t e = 0;
				bool got;

				kaddr(j, s, sizeof(s));
				got = mirror_get(m, P(s), &e);
				bad_get += got != !!model[j] || (got && e != model[j]);
			}
		if (st->writes != writes) {
			writes = st->writes;
			file_n = 0;
			btmap_walk(map, false, model_cb, NULL);
			bad_get += (size_t)file_n != n;
			checks++;
		}
	}
	T_EQ_INT(bad_count, 0, "count always matched the model");
	T_EQ_INT(bad_get, 0, "lookups always matched the model");
	T_EQ_INT(bad_deadline, 0, "next deadline never later than the next expiry");
	T_EQ_INT(file_bad, 0, "the file matched the model after each of %d writes", checks);
	T_OK(st->incremental_writes > 100 && st->full_writes > 5,
	     "both kinds of write exercised (%llu incremental, %llu full)",
	     (unsigned long long)st->incremental_writes,
	     (unsigned long long)st->full_writes);
	mirror_free(m);
}

/* A file grown by incremental inserts and emptied by deletes is repacked. */
static void test_repack(void)
{
	struct mirror *m = mk(map, 50);
	const struct mirror_stats *st = mirror_stats(m);
	uint64_t now = 1000000;
	struct stat sb;
	off_t big;

	unlink(map);
	T_EQ_INT(mirror_write_now(m), 0, "empty start");
	for (int i = 0; i < 20000; i++) {
		char s[64];

		snprintf(s, sizeof(s), "10.%d.%d.%d", i % 7, i / 256 % 256, i % 256);
		mirror_set(m, P(s), 1800000000000ull);
		if (i % 500 == 499)
			mirror_tick(m, now += 100);
	}
	T_EQ_INT(st->full_writes, 1, "20000 inserts in steps of 500: incremental");
	stat(map, &sb);
	big = sb.st_size;
	for (int i = 0; i < 19000; i++) {
		char s[64];

		snprintf(s, sizeof(s), "10.%d.%d.%d", i % 7, i / 256 % 256, i % 256);
		mirror_del(m, P(s));
		if (i % 500 == 499)
			mirror_tick(m, now += 100);
	}
	mirror_set(m, P("192.0.2.1"), 1800000000000ull);
	mirror_tick(m, now += 100);
	T_OK(st->full_writes >= 2, "the emptied file was rewritten whole");
	stat(map, &sb);
	T_OK(sb.st_size * 4 < big, "and shrank (%lld -> %lld bytes)", (long long)big,
	     (long long)sb.st_size);
	T_EQ_INT(map_records(), 1001, "1001 records");
	mirror_free(m);
}

static void test_failure(void)
{
	char sub[300], p[400], cmd[400];
	struct mirror *m;

	snprintf(sub, sizeof(sub), "%s/fail", dir);
	mkdir(sub, 0755);
	snprintf(p, sizeof(p), "%s/dracd.db", sub);
	m = mk(p, 50);
	T_EQ_INT(mirror_write_now(m), 0, "write in the subdirectory");

	/* A crashed writer's leftover goes at the next write_now. */
	snprintf(cmd, sizeof(cmd), "%s/dracd.db.tmp.999999", sub);
	write_file(cmd, "x", 1);
	T_EQ_INT(mirror_write_now(m), 0, "write_now again");
	T_OK(access(cmd, F_OK) < 0, "stale temporary file removed");

	snprintf(cmd, sizeof(cmd), "rm -rf %s", sub);
	T_EQ_INT(system(cmd), 0, "directory removed under the mirror");
	mirror_set(m, P("192.0.2.77"), 1800000000000ull);
	T_EQ_INT(mirror_tick(m, 1000), -1, "write fails");
	T_EQ_INT(mirror_stats(m)->write_errors, 1, "one write error");
	T_EQ_INT(mirror_tick(m, 1001), 0, "no retry at once");
	T_EQ_INT(mirror_next_deadline(m), 1100, "retry after a backoff");
	T_EQ_INT(mirror_tick(m, 1100), -1, "still failing");
	T_EQ_INT(mirror_next_deadline(m), 1300, "backoff doubles");
	mkdir(sub, 0755);
	T_EQ_INT(mirror_tick(m, 1300), 0, "directory back: written");
	T_OK(access(p, F_OK) == 0, "map exists again");
	T_EQ_INT(mirror_stats(m)->write_errors, 2, "two write errors counted");
	mirror_free(m);
}

/* A clean stop: the grants go to MAP.state, the map is left empty; the
 * next start takes them back and removes the state. */
static void test_shutdown(void)
{
	uint64_t far = 4000000000000ull;
	char state[300];
	struct mirror *m, *m2;

	snprintf(state, sizeof(state), "%s.state", map);
	m = mk(map, 50);
	mirror_set(m, P("192.0.2.1"), far);
	mirror_set(m, P("2001:db8::1"), far);
	T_EQ_INT(mirror_write_now(m), 0, "write 2");
	T_EQ_INT(map_records(), 2, "2 in the map");
	T_EQ_INT(mirror_shutdown(m), 0, "shutdown");
	T_EQ_INT(map_records(), 0, "the map is emptied at shutdown");
	T_OK(access(state, F_OK) == 0, "the state file is written");
	mirror_free(m);
	m2 = mk(map, 50);
	T_EQ_INT(mirror_load(m2, 1000), 0, "nothing from the empty map");
	T_EQ_INT(mirror_count(m2), 2, "both back from the state file");
	T_EQ_INT(mirror_write_now(m2), 0, "write");
	T_EQ_INT(map_records(), 2, "in the map again");
	T_OK(access(state, F_OK) < 0, "the state file goes once the map holds its grants");
	mirror_clear(m2, 0);
	T_EQ_INT(mirror_shutdown(m2), 0, "shutdown with no grant");
	T_OK(access(state, F_OK) < 0, "no grant: no state file");
	T_EQ_INT(map_records(), 0, "empty map");
	mirror_free(m2);
}

/* Writes fail (a directory squats the temporary file's name): the map
 * stays while its grants are in force, and goes when one has ended. */
static void test_withdraw(void)
{
	char blocker[300];
	const struct mirror_stats *st;
	struct mirror *m = mk(map, 50);

	st = mirror_stats(m);
	mirror_set(m, P("192.0.2.1"), 2000);
	mirror_set(m, P("192.0.2.2"), 9000000);
	T_EQ_INT(mirror_write_now(m), 0, "write");
	snprintf(blocker, sizeof(blocker), "%s.tmp.%ld", map, (long)getpid());
	mkdir(blocker, 0755);
	mirror_set(m, P("192.0.2.3"), 9000000);
	T_EQ_INT(mirror_tick(m, 1000), -1, "the write fails");
	T_OK(st->stale_since_ms == 1000, "stale since the first failure");
	T_OK(strstr(st->error, "File exists") != NULL, "the cause: %s", st->error);
	T_OK(access(map, F_OK) == 0 && !st->map_removed, "every grant in the file in force: the map stays");
	T_EQ_INT(mirror_tick(m, 2000), -1, "192.0.2.1 ends, the write fails again");
	T_OK(access(map, F_OK) == 0 && !st->map_removed, "the map stays");
	T_OK(!*mapval("192.0.2.1"), "but the ended grant is taken out in place");
	T_OK(*mapval("192.0.2.2"), "the grant in force stays");
	T_OK(!*mapval("192.0.2.3"), "the unwritten one is not there");
	/* Not even in place (here: the file is no map any more): removed. */
	mirror_del(m, P("192.0.2.2"));
	write_file(map, "garbage", 7);
	T_EQ_INT(mirror_tick(m, 3000), -1, "a revocation, the write fails");
	T_OK(access(map, F_OK) < 0 && st->map_removed, "the map is removed");
	rmdir(blocker);
	T_EQ_INT(mirror_tick(m, 60000), 0, "writable again");
	T_OK(access(map, F_OK) == 0 && !st->map_removed, "the map is back");
	T_OK(st->stale_since_ms == 0 && !st->error[0], "and current");
	T_EQ_INT(map_records(), 1, "with the grant in force");
	T_OK(*mapval("192.0.2.3"), "the one written late");
	mirror_free(m);
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	btmap_set_fsync(false);
	snprintf(map, sizeof(map), "%s/dracd.db", dir);

	test_dirs();
	{
		struct mirror *m = mk(map, 0);
		struct stat st;

		umask(077);
		T_EQ_INT(mirror_write_now(m), 0, "write_now creates the map");
		umask(022);
		T_OK(stat(map, &st) == 0 && (st.st_mode & 07777) == 0644,
		     "map mode 0644 despite umask 077");
		T_EQ_INT(map_records(), 0, "empty map");
		T_EQ_INT(mirror_stats(m)->full_writes, 1, "a full write");
		mirror_free(m);
	}
	test_table();
	test_expiry_order();
	test_coalescing();
	test_roundtrip();
	test_keys();
	test_corrupt();
	test_thousand();
	test_model();
	test_repack();
	test_failure();
	test_shutdown();
	test_withdraw();

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return T_DONE();
}
