/* bench_map.c - the mirror's map writes: full rebuild and memory at
 * 1,000,000 entries, load time, and change -> visible latency for
 * incremental writes at 100 changes/s on a 100,000-entry map.
 *
 * usage: bench_map [-n FULL_ENTRIES] [-i INC_ENTRIES] [-r CHANGES_PER_S]
 *                  [-s SECONDS] [-d DIR] [-F]   (-F: no fdatasync) */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "btmap.h"
#include "log.h"
#include "mirror.h"

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* kB from /proc/self/status: "VmRSS" or "VmHWM". */
static long proc_kb(const char *field)
{
	char line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	fclose(f);
	return v;
}

static void machine(void)
{
	char line[512], model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(model, sizeof(model), "%s", c + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	printf("machine: nproc %ld, cpu %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

/* The i-th test address: three IPv4 to one IPv6, spread over the space. */
static void nth_addr(uint64_t i, struct drac_addr *a)
{
	uint64_t h = (i + 1) * 0x9e3779b97f4a7c15ull;

	memset(a, 0, sizeof(*a));
	if (i % 4 == 3) {
		a->family = AF_INET6;
		a->a[0] = 0x20;
		a->a[1] = 0x01;
		a->a[2] = 0x0d;
		a->a[3] = 0xb8;
		for (int k = 8; k < 16; k++)
			a->a[k] = (uint8_t)(h >> ((k - 8) * 8));
		a->a[8] = (uint8_t)(i >> 32); /* keep them distinct */
		a->a[15] = (uint8_t)i;
		a->a[14] = (uint8_t)(i >> 8);
		a->a[13] = (uint8_t)(i >> 16);
		a->a[12] = (uint8_t)(i >> 24);
	} else {
		uint32_t v = (uint32_t)(i * 2654435761u); /* a bijection on 32 bits */

		a->family = AF_INET;
		a->a[0] = v >> 24;
		a->a[1] = v >> 16;
		a->a[2] = v >> 8;
		a->a[3] = v;
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p * (n - 1) + 0.5);

	return n ? v[k < n ? k : n - 1] : 0;
}

static struct mirror *mk(const char *map)
{
	struct mirror_config cfg = { .map_path = map, .min_write_interval_ms = 50 };
	struct mirror *m = mirror_new(&cfg);

	if (!m)
		exit(1);
	return m;
}

static void bench_full(const char *map, uint64_t n)
{
	uint64_t now = wall_ms(), t0, runs[3];
	long rss0 = proc_kb("VmRSS"), rss1;
	struct mirror *m, *m2;
	struct drac_addr a;
	struct stat st;
	int loaded;

	unlink(map);
	m = mk(map);
	t0 = mono_us();
	for (uint64_t i = 0; i < n; i++) {
		nth_addr(i, &a);
		mirror_set(m, &a, now + 1800000 + i % 1000);
	}
	t0 = mono_us() - t0;
	rss1 = proc_kb("VmRSS");
	printf("table: %zu entries inserted in %.3f s; RSS %+.1f MB (%.1f bytes/entry)\n",
	       mirror_count(m), t0 / 1e6, (rss1 - rss0) / 1024.0,
	       (rss1 - rss0) * 1024.0 / (n ? n : 1));
	for (int r = 0; r < 3; r++) {
		t0 = mono_us();
		if (mirror_write_now(m) < 0)
			exit(1);
		runs[r] = mono_us() - t0;
	}
	qsort(runs, 3, sizeof(runs[0]), cmp_u64);
	stat(map, &st);
	printf("full rebuild of %zu entries: min %.3f s, median %.3f s, max %.3f s "
	       "(file %.1f MB, peak RSS %.1f MB)\n", mirror_count(m), runs[0] / 1e6,
	       runs[1] / 1e6, runs[2] / 1e6, st.st_size / 1e6, proc_kb("VmHWM") / 1024.0);

	m2 = mk(map);
	t0 = mono_us();
	loaded = mirror_load(m2, now);
	t0 = mono_us() - t0;
	printf("load (verify + read) of %d entries: %.3f s\n", loaded, t0 / 1e6);
	mirror_free(m2);
	mirror_free(m);
}

/* Changes arrive at a steady rate in real time; each one's latency runs
 * from the change until the write that carries it is renamed in place. */
static void bench_incremental(const char *map, uint64_t n, unsigned rate, unsigned secs)
{
	uint64_t base = wall_ms() + 3600000, next_id = n, t0, start, next_change;
	size_t total = (size_t)rate * secs, done = 0, npend = 0, nlat = 0, nw = 0;
	uint64_t *pend = calloc(total + 1, sizeof(*pend));
	uint64_t *lat = calloc(total + 1, sizeof(*lat));
	uint64_t *wus = calloc(total + 1, sizeof(*wus));
	uint64_t period_us = 1000000 / (rate ? rate : 1), seed = 42;
	const struct mirror_stats *st;
	struct drac_addr a;
	struct mirror *m;
	uint64_t writes;

	if (!pend || !lat || !wus)
		exit(1);
	unlink(map);
	m = mk(map);
	st = mirror_stats(m);
	for (uint64_t i = 0; i < n; i++) {
		nth_addr(i, &a);
		mirror_set(m, &a, base + i);
	}
	t0 = mono_us();
	mirror_write_now(m);
	printf("incremental: %zu-entry map written whole in %.3f s\n", mirror_count(m),
	       (mono_us() - t0) / 1e6);
	mirror_tick(m, wall_ms());
	writes = st->writes;

	start = next_change = mono_us();
	while (done < total || npend) {
		uint64_t now_us = mono_us(), wake, dl, nowms;

		if (done < total && now_us >= next_change) {
			/* 40% new logins, 30% refreshes, 30% deletions. */
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			unsigned kind = (seed >> 33) % 10;
			uint64_t victim = (seed >> 20) % next_id;

			if (kind < 4) {
				nth_addr(next_id++, &a);
				mirror_set(m, &a, base + 7200000);
			} else if (kind < 7) {
				nth_addr(victim, &a);
				mirror_set(m, &a, base + 7200000 + done * 1000);
			} else {
				nth_addr(victim, &a);
				/* Deleting an absent address changes nothing. */
				if (!mirror_get(m, &a, NULL))
					now_us = 0;
				mirror_del(m, &a);
			}
			if (now_us)
				pend[npend++] = now_us;
			done++;
			next_change += period_us;
		}
		mirror_tick(m, wall_ms());
		if (st->writes != writes) {
			uint64_t t = mono_us();

			writes = st->writes;
			wus[nw++] = st->last_write_us;
			for (size_t k = 0; k < npend; k++)
				lat[nlat++] = t - pend[k];
			npend = 0;
		}
		now_us = mono_us();
		nowms = wall_ms();
		wake = done < total ? next_change : now_us + 1000;
		dl = mirror_next_deadline(m);
		if (dl != UINT64_MAX) {
			uint64_t at = dl <= nowms ? now_us : now_us + (dl - nowms) * 1000;

			if (at < wake)
				wake = at;
		}
		if (wake > now_us) {
			struct timespec ts = { .tv_sec = (wake - now_us) / 1000000,
					       .tv_nsec = (wake - now_us) % 1000000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	qsort(wus, nw, sizeof(*wus), cmp_u64);
	printf("incremental at %zu entries, %u changes/s for %.1f s: %zu changes in %zu writes "
	       "(%" PRIu64 " incremental, %" PRIu64 " full)\n", mirror_count(m), rate,
	       (mono_us() - start) / 1e6, nlat, nw, st->incremental_writes,
	       st->full_writes);
	printf("  change -> renamed in place: median %.1f ms, p99 %.1f ms, max %.1f ms\n",
	       pct(lat, nlat, 0.5) / 1e3, pct(lat, nlat, 0.99) / 1e3,
	       nlat ? lat[nlat - 1] / 1e3 : 0);
	printf("  write duration:             median %.1f ms, p99 %.1f ms, max %.1f ms\n",
	       pct(wus, nw, 0.5) / 1e3, pct(wus, nw, 0.99) / 1e3, nw ? wus[nw - 1] / 1e3 : 0);
	mirror_free(m);
	free(pend);
	free(lat);
	free(wus);
}

int main(int argc, char **argv)
{
	char dir[512] = "", map[600];
	unsigned long full_n = 1000000, inc_n = 100000, rate = 100, secs = 10;
	bool nosync = false;
	int c;

	while ((c = getopt(argc, argv, "n:i:r:s:d:F")) != -1) {
		switch (c) {
		case 'n': full_n = strtoul(optarg, NULL, 10); break;
		case 'i': inc_n = strtoul(optarg, NULL, 10); break;
		case 'r': rate = strtoul(optarg, NULL, 10); break;
		case 's': secs = strtoul(optarg, NULL, 10); break;
		case 'd': snprintf(dir, sizeof(dir), "%s", optarg); break;
		case 'F': nosync = true; break;
		default:
			fprintf(stderr, "usage: %s [-n FULL] [-i INC] [-r RATE] [-s SECS] [-d DIR] [-F]\n",
				argv[0]);
			return 2;
		}
	}
	log_init("bench_map", LOG_TO_STDERR, 0);
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/var/tmp/bench_map.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	snprintf(map, sizeof(map), "%s/dracd.db", dir);
	btmap_set_fsync(!nosync);
	machine();
	printf("map %s, fdatasync before rename: %s\n", map, nosync ? "no" : "yes");
	if (full_n)
		bench_full(map, full_n);
	if (inc_n && rate && secs)
		bench_incremental(map, inc_n, rate, secs);
	unlink(map);
	snprintf(map, sizeof(map), "%s/dracd.db.lock", dir);
	unlink(map);
	rmdir(dir);
	return 0;
}
