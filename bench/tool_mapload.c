/* tool_mapload.c - "set change -> Postfix map visible" under load, for
 * bench/map_load.sh.  Runs beside a dracd (in its network namespace) that
 * mirrors inet drac authed into MAP.
 *
 *   tool_mapload -m MAP.db [-p PRELOAD] [-r RATE] [-s SECONDS] [-w WAIT_S] [-x]
 *
 * 1. Preloads PRELOAD elements (198.18.0.0 + i, timeout 1 h) into the set,
 *    1,000 per batch, and waits until the map holds all of them.
 * 2. Then RATE times a second for SECONDS adds one new address (one
 *    element per batch, as a login does) and polls btmap_get on the map
 *    file every millisecond until the key is there: the delay from the
 *    commit returning to the key being readable in the file Postfix opens.
 * -s 0 does only step 1; -x only step 2 (new addresses after PRELOAD).
 * Prints result lines; samples not visible within 5 s count as missing. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "btmap.h"
#include "log.h"
#include "nftset.h"

#define BATCH 1000
#define GIVE_UP_NS 5000000000ull

struct pending {
	char key[ADDR_STRLEN];
	uint64_t t;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void nth(uint32_t i, struct drac_addr *a, char *key)
{
	uint32_t v = 0xc6120000u + i; /* 198.18.0.0/15, benchmarking space */

	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->a[0] = v >> 24;
	a->a[1] = v >> 16;
	a->a[2] = v >> 8;
	a->a[3] = v;
	addr_fmt(a, key, ADDR_STRLEN);
}

static void commit_or_die(struct nftset *ns)
{
	char err[512];

	if (nftset_commit(ns, err, sizeof(err)) < 0) {
		fprintf(stderr, "tool_mapload: %s\n", err);
		exit(1);
	}
}

static int count_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static double pct_ms(const uint64_t *v, size_t n, double p)
{
	return n ? v[(size_t)(p * (n - 1))] / 1e6 : 0;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / 1000000000u, .tv_nsec = t % 1000000000u };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

int main(int argc, char **argv)
{
	const char *map = NULL;
	unsigned preload = 100000, rate = 100, secs = 60, wait_s = 60;
	char key[ADDR_STRLEN], first[ADDR_STRLEN], last[ADDR_STRLEN], val[64];
	struct drac_addr a;
	struct nftset *ns;
	uint64_t t0, t1;
	bool skip_preload = false;
	int opt;

	while ((opt = getopt(argc, argv, "m:p:r:s:w:x")) != -1) {
		switch (opt) {
		case 'm': map = optarg; break;
		case 'p': preload = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': secs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': wait_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'x': skip_preload = true; break;
		default:
			goto usage;
		}
	}
	if (!map || !rate || preload > 120000 || (uint64_t)rate * secs > 10000) {
usage:
		fprintf(stderr, "usage: tool_mapload -m MAP.db [-p PRELOAD<=120000] [-r RATE] "
				"[-s SECONDS] [-w WAIT_S] [-x]  (RATE*SECONDS <= 10000)\n");
		return 2;
	}
	log_init("tool_mapload", LOG_TO_STDERR, 0);
	ns = nftset_open();
	if (!ns) {
		perror("tool_mapload: nftset_open");
		return 1;
	}

	/* 1. preload */
	if (skip_preload)
		goto steady;
	t0 = mono_ns();
	for (uint32_t i = 0; i < preload; i++) {
		nth(i, &a, key);
		if (nftset_queue(ns, &a, 3600000) < 0) {
			perror("tool_mapload: nftset_queue");
			return 1;
		}
		if (nftset_queued(ns) >= BATCH)
			commit_or_die(ns);
	}
	commit_or_die(ns);
	t1 = mono_ns();
	nth(0, &a, first);
	nth(preload ? preload - 1 : 0, &a, last);
	while (preload && (btmap_get(map, first, val, sizeof(val)) != 1 ||
			   btmap_get(map, last, val, sizeof(val)) != 1)) {
		if (mono_ns() - t1 > (uint64_t)wait_s * 1000000000u) {
			printf("preload: the map did not show %s and %s within %u s\n", first, last,
			       wait_s);
			return 1;
		}
		usleep(20000);
	}
	long n = btmap_walk(map, false, count_cb, NULL);

	printf("preload: %u elements committed in %.3f s (%u per batch); map shows them "
	       "%.3f s after the last commit; map holds %ld keys\n", preload, (t1 - t0) / 1e9,
	       BATCH, (mono_ns() - t1) / 1e9, n);
	fflush(stdout);
	if (!secs)
		return 0;
steady:;
	/* 2. steady grants */
	size_t total = (size_t)rate * secs, done = 0, np = 0, nl = 0, missing = 0;
	struct pending *pend = calloc(total, sizeof(*pend));
	uint64_t *lat = calloc(total, sizeof(*lat)), period = 1000000000u / rate;
	uint64_t start = mono_ns(), next = start, polls = 0, poll_ns = 0;

	if (!pend || !lat)
		return 1;
	while (done < total || np) {
		uint64_t now = mono_ns();

		if (done < total && now >= next) {
			nth(preload + done, &a, pend[np].key);
			nftset_queue(ns, &a, 3600000);
			commit_or_die(ns);
			pend[np++].t = mono_ns();
			done++;
			next += period;
		}
		for (size_t k = 0; k < np;) {
			uint64_t p0 = mono_ns();
			int r = btmap_get(map, pend[k].key, val, sizeof(val));
			uint64_t p1 = mono_ns();

			polls++;
			poll_ns += p1 - p0;
			if (r == 1 || p1 - pend[k].t > GIVE_UP_NS) {
				if (r == 1)
					lat[nl++] = p1 - pend[k].t;
				else
					missing++;
				pend[k] = pend[--np];
				continue;
			}
			k++;
		}
		now = mono_ns();
		uint64_t wake = now + 1000000;

		if (done < total && next < wake)
			wake = next;
		sleep_until(wake);
	}
	qsort(lat, nl, sizeof(*lat), cmp_u64);
	printf("steady: %zu grants at %u/s over %.1f s on a %u-entry set\n", done, rate,
	       (mono_ns() - start) / 1e9, preload);
	printf("set change -> map visible: n=%zu median %.1f ms p90 %.1f ms p99 %.1f ms "
	       "max %.1f ms; missing after 5 s %zu; floor p99 < 100 ms: %s\n", nl,
	       pct_ms(lat, nl, 0.5), pct_ms(lat, nl, 0.9), pct_ms(lat, nl, 0.99),
	       nl ? lat[nl - 1] / 1e6 : 0, missing,
	       nl && pct_ms(lat, nl, 0.99) < 100 && !missing ? "met" : "NOT met");
	printf("(one btmap_get on the map: %.0f us on average over %llu polls)\n",
	       polls ? poll_ns / 1e3 / polls : 0, (unsigned long long)polls);
	nftset_close(ns);
	return 0;
}
