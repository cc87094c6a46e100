/* tool_share.c - helpers for bench/share.sh (the fleet benchmark), run
 * inside one host's network namespace:
 *
 *   tool_share watch
 *       every NEWSETELEM of inet drac authed/authed6 seen on nf_tables'
 *       event group, one line each: "MONOTONIC_NS ADDRESS" (line
 *       buffered; the time is when recv() returned the event, an upper
 *       bound of the commit).  Runs until killed.
 *   tool_share count
 *       the elements of authed6 now (one dump).
 *       (A dump of a large set is slow, about the square of its size:
 *       0.5 s for 100,000 elements; for the final check only.)
 *   tool_share get CONTROL PATH
 *       one number of dracd's status (PATH as drac status prints it,
 *       e.g. share.applied, map.entries), read from its control socket;
 *       -1 when dracd does not answer.
 *   tool_share wait CONTROL PATH N T0_NS TIMEOUT_MS
 *       poll that number every 10 ms until it is at least N; prints
 *       "MS VALUE": milliseconds from T0_NS (CLOCK_REALTIME ns, as
 *       date +%s%N prints it) to the poll that saw it (exit 1 on
 *       timeout).  map.entries is dracd's mirror of the set, which
 *       follows the kernel's own NEWSETELEM events.
 *   tool_share feed FILE N TAG [CONTROL WINDOW SERVERS]
 *       append N Dovecot login lines (log_path format) for the addresses
 *       2001:db8::TAG:HI:LO (i = HI * 65536 + LO, 0 <= i < N) to FILE,
 *       which dracd follows (DRAC_LOGHOOK_FILE).  Without CONTROL: all at
 *       once, in a few large writes.  With CONTROL (dracd's control
 *       socket): paced so that the DRAC RPC forwarder never has more than
 *       WINDOW calls in flight to all its SERVERS together (its limit is
 *       256 per server, beyond which it drops; the status has no
 *       per-server figure, and one server may answer faster than the
 *       other): lines are written in blocks of 64 as long as
 *       (lines + 64) * SERVERS - forward.acked - forward.failed stays
 *       <= WINDOW.  Prints "MS" (wall time of the feed).
 *   tool_share nftbatch FILE N TAG
 *       write an nft -f script that adds the same N addresses to
 *       authed6 (one transaction) to FILE.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nftset.h" /* first: glibc's netinet/in.h before linux/in.h */

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "control.h"
#include "statusdoc.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void on_elem(const struct drac_addr *a, uint64_t timeout, uint64_t expires, void *arg)
{
	char buf[ADDR_STRLEN];

	printf("%llu %s\n", (unsigned long long)*(uint64_t *)arg, addr_fmt(a, buf, sizeof(buf)));
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSETELEM)
		nftset_parse_elems(nlh, on_elem, data);
	return MNL_CB_OK;
}

static int watch(void)
{
	static char buf[1 << 16];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	int size = 16 << 20;

	if (!nl || mnl_socket_bind(nl, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		perror("tool_share watch");
		return 1;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("watching\n");
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), 0);
		uint64_t t = clock_ns(CLOCK_MONOTONIC);

		if (n < 0) {
			if (errno == ENOBUFS) {
				printf("overrun\n");
				continue;
			}
			if (errno == EINTR)
				continue;
			perror("tool_share watch: recv");
			return 1;
		}
		mnl_cb_run(buf, n, 0, 0, event_cb, &t);
	}
}

static int count6(void)
{
	struct nftset *ns = nftset_open();
	int n;

	if (!ns)
		return -1;
	n = nftset_dump(ns, AF_INET6, NULL, NULL);
	nftset_close(ns);
	return n;
}

struct key {
	const char *path;
	unsigned long long v;
	bool seen;
};

static void key_cb(const char *path, const char *value, size_t len, void *arg)
{
	struct key *k = arg;

	if (strcmp(path, k->path) == 0) {
		k->v = strtoull(value, NULL, 10);
		k->seen = true;
	}
}

/* A number of dracd's status document; -1 when dracd does not answer. */
static long long status_value(const char *control, const char *path)
{
	static char doc[16384];
	struct key k = { path, 0, false };
	ssize_t n = control_query(control, doc, sizeof(doc));

	if (n <= 0 || statusdoc_walk(doc, n, key_cb, &k) < 0 || !k.seen)
		return -1;
	return (long long)k.v;
}

static int wait_for(const char *control, const char *path, long long want, uint64_t t0,
		    long timeout_ms)
{
	for (;;) {
		long long v = status_value(control, path);
		uint64_t now = clock_ns(CLOCK_REALTIME);
		long ms = (long)((int64_t)(now - t0) / 1000000);

		if (v >= want || ms > timeout_ms) {
			printf("%ld %lld\n", ms, v);
			return v >= want ? 0 : 1;
		}
		usleep(10000);
	}
}

static int fmt_line(char *line, size_t len, const char *tag, long i)
{
	return snprintf(line, len,
			"Dec  2 12:00:00 pop3-login: Info: Login: user=<demo>, method=PLAIN, "
			"rip=2001:db8::%s:%lx:%lx, lip=192.0.2.1, mpid=%ld, session=<b%ld>\n",
			tag, i >> 16, i & 0xffff, 1000 + i % 30000, i);
}

struct fwd {
	unsigned long long sent, acked, failed;
};

static void fwd_cb(const char *path, const char *value, size_t len, void *arg)
{
	struct fwd *f = arg;
	unsigned long long v = strtoull(value, NULL, 10);

	if (strcmp(path, "forward.sent") == 0)
		f->sent = v;
	else if (strcmp(path, "forward.acked") == 0)
		f->acked = v;
	else if (strcmp(path, "forward.failed") == 0)
		f->failed = v;
}

static int fwd_query(const char *control, struct fwd *f)
{
	static char doc[16384];
	ssize_t n = control_query(control, doc, sizeof(doc));

	memset(f, 0, sizeof(*f));
	if (n <= 0 || statusdoc_walk(doc, n, fwd_cb, f) < 0)
		return -1;
	return 0;
}

static int feed(const char *file, long n, const char *tag, const char *control, long window,
		int servers)
{
	static char block[1 << 20];
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0644);
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	long i = 0;
	struct fwd base = { 0 }, f;

	if (fd < 0) {
		perror(file);
		return 1;
	}
	if (control && fwd_query(control, &base) < 0) {
		fprintf(stderr, "tool_share feed: no status on %s\n", control);
		return 1;
	}
	while (i < n) {
		size_t len = 0;
		long lim = n;

		if (control) {
			for (;;) {
				if (fwd_query(control, &f) < 0) {
					fprintf(stderr, "tool_share feed: no status on %s\n", control);
					return 1;
				}
				long done = (long)(f.acked - base.acked + f.failed - base.failed);

				/* after the next block, at most WINDOW in
				 * all: no server can have more, however
				 * unevenly they answer */
				if ((i + 64) * servers - done <= window)
					break;
				usleep(200);
			}
			lim = i + 64 < n ? i + 64 : n;
		}
		while (i < lim && len + 256 < sizeof(block)) {
			len += fmt_line(block + len, sizeof(block) - len, tag, i);
			i++;
		}
		if (write(fd, block, len) != (ssize_t)len) {
			perror("tool_share feed: write");
			return 1;
		}
	}
	close(fd);
	printf("%llu\n", (unsigned long long)((clock_ns(CLOCK_MONOTONIC) - t0) / 1000000));
	return 0;
}

static int nftbatch(const char *file, long n, const char *tag)
{
	FILE *f = fopen(file, "w");

	if (!f) {
		perror(file);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		if (i % 1000 == 0)
			fprintf(f, "%sadd element inet drac authed6 { ", i ? " }\n" : "");
		else
			fputs(", ", f);
		fprintf(f, "2001:db8::%s:%lx:%lx", tag, i >> 16, i & 0xffff);
	}
	if (n)
		fputs(" }\n", f);
	return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "watch") == 0)
		return watch();
	if (argc >= 2 && strcmp(argv[1], "count") == 0) {
		int n = count6();

		printf("%d\n", n);
		return n < 0;
	}
	if (argc == 7 && strcmp(argv[1], "wait") == 0)
		return wait_for(argv[2], argv[3], atoll(argv[4]), strtoull(argv[5], NULL, 10),
				atol(argv[6]));
	if (argc == 4 && strcmp(argv[1], "get") == 0) {
		printf("%lld\n", status_value(argv[2], argv[3]));
		return 0;
	}
	if ((argc == 5 || argc == 8) && strcmp(argv[1], "feed") == 0)
		return feed(argv[2], atol(argv[3]), argv[4], argc == 8 ? argv[5] : NULL,
			    argc == 8 ? atol(argv[6]) : 0, argc == 8 ? atoi(argv[7]) : 1);
	if (argc == 5 && strcmp(argv[1], "nftbatch") == 0)
		return nftbatch(argv[2], atol(argv[3]), argv[4]);
	fprintf(stderr, "usage: tool_share watch | count | get CONTROL PATH |\n"
			"       wait CONTROL PATH N T0_NS TIMEOUT_MS |\n"
			"       feed FILE N TAG [CONTROL WINDOW SERVERS] | nftbatch FILE N TAG\n");
	return 2;
}
