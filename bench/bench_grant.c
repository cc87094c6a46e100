/* bench_grant.c - grants per second into the kernel set: one element per
 * batch (a login at a time) and many per batch (restores, floods).
 * Run inside a private network namespace (bench/run does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "nftset.h"
#include "ruleset.h"
#include "settings.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void addr_n(struct drac_addr *a, unsigned i, int v6)
{
	memset(a, 0, sizeof(*a));
	if (v6) {
		a->family = AF_INET6;
		a->a[0] = 0x20, a->a[1] = 0x01, a->a[2] = 0x0d, a->a[3] = 0xb8;
		a->a[12] = i >> 24, a->a[13] = i >> 16, a->a[14] = i >> 8, a->a[15] = i;
	} else {
		a->family = AF_INET;
		a->a[0] = 10 + (i >> 24), a->a[1] = i >> 16, a->a[2] = i >> 8, a->a[3] = i;
	}
}

static double run(struct nftset *ns, unsigned n, unsigned per_batch, int v6, unsigned offset)
{
	char err[512];
	double t0 = now_s();

	for (unsigned i = 0; i < n; i++) {
		struct drac_addr a;

		addr_n(&a, offset + i, v6);
		nftset_queue(ns, &a, 600000);
		if (nftset_queued(ns) >= per_batch && nftset_commit(ns, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_grant: %s\n", err);
			exit(1);
		}
	}
	if (nftset_commit(ns, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_grant: %s\n", err);
		exit(1);
	}
	return n / (now_s() - t0);
}

int main(int argc, char **argv)
{
	struct settings s;
	struct nftset *ns;
	char err[512];
	unsigned n = argc > 1 ? atoi(argv[1]) : 100000;

	settings_defaults(&s);
	if (ruleset_apply(&s, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_grant: %s\n", err);
		return 1;
	}
	ns = nftset_open();
	if (!ns)
		return 1;
	printf("grants/s, one per batch (IPv4, %u new):   %9.0f\n", n / 4, run(ns, n / 4, 1, 0, 0));
	printf("grants/s, one per batch (refresh, %u):    %9.0f\n", n / 4, run(ns, n / 4, 1, 0, 0));
	printf("grants/s, 256 per batch (IPv4, %u new):   %9.0f\n", n, run(ns, n, 256, 0, 1 << 20));
	printf("grants/s, 256 per batch (IPv6, %u new):   %9.0f\n", n, run(ns, n, 256, 1, 0));
	printf("grants/s, one batch of 10000 (IPv4):       %9.0f\n", run(ns, 10000, 10000, 0, 2 << 20));
	nftset_close(ns);
	return 0;
}
