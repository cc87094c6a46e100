/* tool_logline.c - grant latency of the log hook: append a Dovecot login
 * line (its log_path format) to the file dracd follows, or send Dovecot's
 * syslog message to the systemd journal (identifier "dovecot", as
 * Dovecot's log process does), and time it until the NEWSETELEM for that
 * line's address arrives on nf_tables' event group (an upper bound of
 * the commit).  Each line names a new address.
 *
 *   tool_logline LOGFILE [COUNT]
 *   tool_logline --journal [COUNT]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "nftset.h" /* first: glibc's netinet/in.h before linux/in.h */

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

struct match {
	const struct drac_addr *want;
	bool seen;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void on_elem(const struct drac_addr *a, uint64_t timeout, uint64_t expires, void *arg)
{
	struct match *m = arg;

	if (addr_eq(a, m->want))
		m->seen = true;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSETELEM)
		nftset_parse_elems(nlh, on_elem, data);
	return MNL_CB_OK;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	struct mnl_socket *nl;
	int n = argc > 2 ? atoi(argv[2]) : 1000, fd, got = 0, size = 8 << 20;
	uint64_t *lat;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: tool_logline LOGFILE [COUNT]\n");
		return 2;
	}
	bool journal = strcmp(argv[1], "--journal") == 0;

	lat = calloc(n, sizeof(*lat));
	fd = journal ? 0 : open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!lat || fd < 0 || !nl ||
	    mnl_socket_bind(nl, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		perror("tool_logline");
		return 1;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	for (int i = 0; i < n; i++) {
		char line[256], ip[32];
		struct drac_addr a;
		struct match m = { &a, false };
		uint64_t t0, deadline;
		int len;

		snprintf(ip, sizeof(ip), "10.77.%d.%d", (i >> 8) & 255, i & 255);
		addr_parse(ip, &a);
		len = snprintf(line, sizeof(line),
			       "Nov 27 21:27:55 pop3-login: Info: Login: user=<demo>, method=PLAIN, "
			       "rip=%s, lip=192.0.2.1, mpid=%d, TLS, session=<bench%d>\n",
			       ip, 1000 + i, i);
		t0 = mono_ns();
		if (journal) {
			/* the message alone: journald adds the time */
			const char *msg = strstr(line, "pop3-login: ");
			int r = sd_journal_send("MESSAGE=%.*s", (int)(line + len - 1 - msg), msg,
						"SYSLOG_IDENTIFIER=dovecot", "PRIORITY=6", NULL);

			if (r < 0) {
				fprintf(stderr, "tool_logline: sd_journal_send: %s\n", strerror(-r));
				return 1;
			}
		} else if (write(fd, line, len) != len) {
			perror("tool_logline: write");
			return 1;
		}
		deadline = t0 + 1000000000u;
		while (!m.seen && mono_ns() < deadline) {
			struct pollfd p = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
			ssize_t r;

			if (poll(&p, 1, 100) <= 0)
				continue;
			r = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0)
				mnl_cb_run(buf, r, 0, 0, event_cb, &m);
		}
		if (m.seen)
			lat[got++] = mono_ns() - t0;
	}
	qsort(lat, got, sizeof(*lat), cmp);
	if (!got) {
		printf("log hook grant latency: no grant seen\n");
		return 1;
	}
	printf("log hook grant latency (%s -> NEWSETELEM): n=%d of %d, median %llu us, "
	       "p90 %llu us, p99 %llu us, max %llu us\n",
	       journal ? "sd_journal_send" : "line appended", got, n,
	       (unsigned long long)lat[got / 2] / 1000, (unsigned long long)lat[got * 9 / 10] / 1000,
	       (unsigned long long)lat[got * 99 / 100] / 1000, (unsigned long long)lat[got - 1] / 1000);
	return 0;
}
