/* tool_login.c - a minimal POP3 and IMAP server for bench/login_latency.sh:
 * it times the path from writing the login's "+OK" (or tagged OK) to the
 * NEWSETELEM event that shows the client's address committed in the set.
 *
 *   tool_login [-p POP3PORT] [-i IMAPPORT] [-t TIMEOUT_MS]
 *
 * Serves one connection at a time (the client is sequential), any user
 * and password.  For each login it prints one line to stdout:
 *   pop3 4 LATENCY_NS      or      pop3 4 miss
 * The event's time is when recv() returned it: an upper bound of the
 * commit, since this process sleeps in poll() on the event socket. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "addr.h"
#include "nftset.h"

struct conn {
	int fd;
	char buf[1024];
	size_t len;
};

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

static int listen_on(int port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), off = 0, on = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		perror("tool_login: bind/listen");
		exit(1);
	}
	return fd;
}

/* One line, CRLF or LF ended, into line (NUL-terminated, cut to len).
 * 0 ok, -1 closed or timed out. */
static int read_line(struct conn *c, char *line, size_t len)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = nl - c->buf + 1, k = n < len ? n : len - 1;

			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return 0;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0; /* an overlong line: forget it */
		ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (r <= 0)
			return -1;
		c->len += r;
	}
}

static void say(struct conn *c, const char *s)
{
	size_t len = strlen(s);

	if (write(c->fd, s, len) != (ssize_t)len)
		perror("tool_login: write");
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

static void drain(int nlfd)
{
	char buf[65536];

	while (recv(nlfd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
}

/* Write the success line, then wait for the element: latency in ns, or
 * 0 when none came within timeout_ms. */
static uint64_t ok_and_wait(struct conn *c, const char *okline, int nlfd,
			    const struct drac_addr *peer, int timeout_ms)
{
	static char buf[1 << 16];
	struct match m = { peer, false };
	uint64_t t0, t1 = 0, deadline;

	drain(nlfd);
	t0 = mono_ns();
	say(c, okline);
	deadline = t0 + (uint64_t)timeout_ms * 1000000u;
	while (!m.seen) {
		struct pollfd p = { .fd = nlfd, .events = POLLIN };
		uint64_t now = mono_ns();

		if (now >= deadline)
			return 0;
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		ssize_t n = recv(nlfd, buf, sizeof(buf), MSG_DONTWAIT);

		t1 = mono_ns();
		if (n > 0)
			mnl_cb_run(buf, n, 0, 0, event_cb, &m);
	}
	return t1 - t0 ? t1 - t0 : 1;
}

static void report(const char *proto, const struct drac_addr *peer, uint64_t lat)
{
	if (lat)
		printf("%s %d %llu\n", proto, peer->family == AF_INET ? 4 : 6,
		       (unsigned long long)lat);
	else
		printf("%s %d miss\n", proto, peer->family == AF_INET ? 4 : 6);
	fflush(stdout);
}

static void serve_pop3(struct conn *c, int nlfd, const struct drac_addr *peer, int timeout_ms)
{
	char line[512];

	say(c, "+OK drac bench POP3 ready\r\n");
	while (read_line(c, line, sizeof(line)) == 0) {
		if (!strncasecmp(line, "USER ", 5)) {
			say(c, "+OK\r\n");
		} else if (!strncasecmp(line, "PASS ", 5)) {
			report("pop3", peer, ok_and_wait(c, "+OK logged in\r\n", nlfd, peer,
							 timeout_ms));
		} else if (!strncasecmp(line, "QUIT", 4)) {
			say(c, "+OK bye\r\n");
			return;
		} else {
			say(c, "-ERR unknown command\r\n");
		}
	}
}

static void serve_imap(struct conn *c, int nlfd, const struct drac_addr *peer, int timeout_ms)
{
	char line[512], tag[32], cmd[32], out[128];

	say(c, "* OK [CAPABILITY IMAP4rev1] drac bench IMAP ready\r\n");
	while (read_line(c, line, sizeof(line)) == 0) {
		if (sscanf(line, "%31s %31s", tag, cmd) != 2) {
			say(c, "* BAD syntax\r\n");
			continue;
		}
		if (!strcasecmp(cmd, "LOGIN")) {
			snprintf(out, sizeof(out), "%s OK LOGIN completed\r\n", tag);
			report("imap", peer, ok_and_wait(c, out, nlfd, peer, timeout_ms));
		} else if (!strcasecmp(cmd, "LOGOUT")) {
			snprintf(out, sizeof(out), "* BYE\r\n%s OK LOGOUT completed\r\n", tag);
			say(c, out);
			return;
		} else {
			snprintf(out, sizeof(out), "%s BAD unknown command\r\n", tag);
			say(c, out);
		}
	}
}

int main(int argc, char **argv)
{
	int pop3_port = 110, imap_port = 143, timeout_ms = 1000, opt, size = 8 << 20;
	struct mnl_socket *nl;
	struct pollfd lp[2];

	while ((opt = getopt(argc, argv, "p:i:t:")) != -1) {
		switch (opt) {
		case 'p': pop3_port = atoi(optarg); break;
		case 'i': imap_port = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: tool_login [-p POP3PORT] [-i IMAPPORT] [-t MS]\n");
			return 2;
		}
	}
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl || mnl_socket_bind(nl, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
		perror("tool_login: nf_tables events");
		return 1;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	lp[0] = (struct pollfd){ .fd = listen_on(pop3_port), .events = POLLIN };
	lp[1] = (struct pollfd){ .fd = listen_on(imap_port), .events = POLLIN };
	fprintf(stderr, "tool_login: listening on %d and %d\n", pop3_port, imap_port);
	for (;;) {
		if (poll(lp, 2, -1) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct sockaddr_in6 sa;
			socklen_t sl = sizeof(sa);
			struct timeval tv = { 5, 0 };
			struct drac_addr peer;
			struct conn c = { 0 };

			if (!(lp[i].revents & POLLIN))
				continue;
			c.fd = accept4(lp[i].fd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
			if (c.fd < 0)
				continue;
			setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			addr_from_bytes(&peer, AF_INET6, &sa.sin6_addr);
			addr_unmap(&peer);
			if (i == 0)
				serve_pop3(&c, mnl_socket_get_fd(nl), &peer, timeout_ms);
			else
				serve_imap(&c, mnl_socket_get_fd(nl), &peer, timeout_ms);
			close(c.fd);
		}
	}
}
