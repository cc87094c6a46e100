/* dracauth.c - DRAC client library: dracauth() and friends, with one
 * deadline for name lookup, rpcbind lookup and the call together */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xdr.h"
#include "dracauth.h"

#define PMAPPROG	100000
#define PMAPVERS	2
#define RPCBVERS	3
#define PMAPPROC_GETPORT 3
#define RPCBPROC_GETADDR 3
#define RPCB_PORT	111
#define RETRY_FIRST_MS	100
#define MAX_ADDRS	8

struct drac_client {
	int fd;		/* connected to the server's DRAC port */
	uint32_t xid;
	int proto;	/* IPPROTO_UDP or IPPROTO_TCP */
	bool used;	/* a TCP call went through: a later EOF is an idle close */
	struct sockaddr_storage sa;
};

/* ---- XDR by hand: only uints, fixed opaques and short strings ---- */


/* Call header with AUTH_NONE credentials and verifier: 40 bytes. */
static size_t call_hdr(uint8_t *b, uint32_t xid, uint32_t prog, uint32_t vers, uint32_t proc)
{
	put32(b, xid);
	put32(b + 4, 0);	/* CALL */
	put32(b + 8, 2);	/* RPC version */
	put32(b + 12, prog);
	put32(b + 16, vers);
	put32(b + 20, proc);
	memset(b + 24, 0, 16);	/* AUTH_NONE cred and verf, both empty */
	return 40;
}

size_t drac_call_encode(uint8_t *buf, size_t len, uint32_t xid, const struct drac_addr *a)
{
	size_t n;

	if (a->family == AF_INET) {
		if (len < 44)
			return 0;
		n = call_hdr(buf, xid, DRACPROG, DRACVERS, DRACPROC_ADD);
		/* a.b.c.d in order: the big-endian uint the original sends */
		memcpy(buf + n, a->a, 4);
		return n + 4;
	}
	if (a->family != AF_INET6 || len < 40 + 64)
		return 0;
	n = call_hdr(buf, xid, DRACPROG, DRACVERS6, DRACPROC_ADD);
	for (int i = 0; i < 16; i++) {
		/* char ip_addr6[16] through xdr_char: signed, as rpcgen code
		 * on the common platforms sends it */
		put32(buf + n, (uint32_t)(int32_t)(int8_t)a->a[i]);
		n += 4;
	}
	return n;
}

/* Accepted-reply header: 0 with *pos at the results, -1 not ours or
 * malformed, -2 an RPC-level error (with *why). */
static int reply_hdr(const uint8_t *b, size_t len, uint32_t xid, size_t *pos, const char **why)
{
	uint32_t n, st;

	if (len < 12 || get32(b) != xid || get32(b + 4) != 1)
		return -1;
	if (get32(b + 8) == 1) {	/* MSG_DENIED */
		if (len < 16)
			return -1;
		*why = get32(b + 12) == 0 ? "server rejected the RPC version"
					  : "server rejected the credentials";
		return -2;
	}
	if (get32(b + 8) != 0 || len < 24)
		return -1;
	n = get32(b + 16);
	if (n > 400 || len - 20 < ((n + 3) & ~3u) + 4)
		return -1;
	*pos = 20 + ((n + 3) & ~3u);
	st = get32(b + *pos);
	*pos += 4;
	switch (st) {
	case 0:
		return 0;
	case 1:
		*why = "program 900101 not available on the server";
		return -2;
	case 2:
		*why = "server does not support this DRAC version";
		return -2;
	case 3:
		*why = "server does not know procedure DRACPROC_ADD";
		return -2;
	case 4:
		*why = "server could not decode the arguments";
		return -2;
	default:
		*why = "server reports an RPC system error";
		return -2;
	}
}

int drac_reply_decode(const uint8_t *buf, size_t len, uint32_t xid,
		      uint32_t *stat, const char **why)
{
	size_t pos;
	int rc = reply_hdr(buf, len, xid, &pos, why);

	if (rc)
		return rc;
	if (len - pos != 4)
		return -1;
	*stat = get32(buf + pos);
	return 0;
}

size_t drac_rpcb_encode(uint8_t *buf, size_t len, uint32_t xid, int family, uint32_t vers)
{
	return drac_rpcb_encode_proto(buf, len, xid, family, vers, IPPROTO_UDP);
}

size_t drac_rpcb_encode_proto(uint8_t *buf, size_t len, uint32_t xid, int family,
			      uint32_t vers, int proto)
{
	size_t n;

	if (len < 64)
		return 0;
	if (family == AF_INET) {
		/* portmap v2 GETPORT: every portmapper and rpcbind has it */
		n = call_hdr(buf, xid, PMAPPROG, PMAPVERS, PMAPPROC_GETPORT);
		put32(buf + n, DRACPROG);
		put32(buf + n + 4, vers);
		put32(buf + n + 8, proto == IPPROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP);
		put32(buf + n + 12, 0);
		return n + 16;
	}
	/* rpcbind v3 GETADDR {prog, vers, "udp6" or "tcp6", "", ""}:
	 * portmap v2 is IPv4 only */
	n = call_hdr(buf, xid, PMAPPROG, RPCBVERS, RPCBPROC_GETADDR);
	put32(buf + n, DRACPROG);
	put32(buf + n + 4, vers);
	put32(buf + n + 8, 4);
	memcpy(buf + n + 12, proto == IPPROTO_TCP ? "tcp6" : "udp6", 4);
	put32(buf + n + 16, 0);
	put32(buf + n + 20, 0);
	return n + 24;
}

int drac_rpcb_decode(const uint8_t *buf, size_t len, uint32_t xid, int family, uint16_t *port)
{
	const char *why;
	size_t pos;
	uint32_t n;
	unsigned p[2] = { 0, 0 }, k = 0;

	if (reply_hdr(buf, len, xid, &pos, &why) != 0)
		return -1;
	if (family == AF_INET) {
		if (len - pos != 4 || get32(buf + pos) > 65535)
			return -1;
		*port = get32(buf + pos);
		return 0;
	}
	if (len - pos < 4)
		return -1;
	n = get32(buf + pos);
	pos += 4;
	if (n > 128 || len - pos < ((n + 3) & ~3u))
		return -1;
	if (n == 0) {
		*port = 0;	/* not registered */
		return 0;
	}
	/* universal address "ADDR.p1.p2": the port is the last two numbers;
	 * the address part is not used (we keep talking to the host we
	 * asked, so a reply cannot send us elsewhere). */
	for (uint32_t i = n; i > 0 && k < 2; i--) {
		unsigned v = 0, mul = 1, digits = 0;
		uint32_t j = i;

		while (j > 0 && buf[pos + j - 1] >= '0' && buf[pos + j - 1] <= '9' && digits < 4) {
			v += (buf[pos + j - 1] - '0') * mul;
			mul *= 10;
			digits++;
			j--;
		}
		if (!digits || v > 255 || j == 0 || buf[pos + j - 1] != '.')
			return -1;
		p[k++] = v;
		i = j;	/* the loop's i-- steps over the dot */
	}
	if (k != 2)
		return -1;
	*port = p[1] << 8 | p[0];
	return 0;
}

const char *drac_addstat_str(uint32_t stat)
{
	switch (stat) {
	case ADD_SUCCESS:
		return "Server reports add succeeded";
	case ADD_PERM:
		return "Server reports permission denied";
	case ADD_SYSERR:
		return "Server reports system error";
	default:
		return "Server reports unknown error";
	}
}

/* ---- time, names, one UDP exchange ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t new_xid(void)
{
	uint32_t x;

	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;
	return x;
}

/* Resolve within the deadline: numeric at once, names through
 * getaddrinfo_a so a dead DNS server cannot hold the login. */
struct gai_req {
	struct gaicb cb;
	struct addrinfo hints;
	char name[256];
};

static int resolve(const char *server, uint64_t deadline, struct sockaddr_storage *out,
		   int max, const char **why)
{
	struct drac_addr a;
	struct gai_req *r;
	struct gaicb *list[1];
	struct addrinfo *ai;
	int n = 0, e;

	if (!server || !*server || strlen(server) >= sizeof(r->name)) {
		*why = "bad server name";
		return -1;
	}
	if (addr_parse(server, &a) == 0) {
		memset(out, 0, sizeof(*out));
		if (a.family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)out;

			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, a.a, 4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, a.a, 16);
		}
		return 1;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		*why = "out of memory";
		return -1;
	}
	snprintf(r->name, sizeof(r->name), "%s", server);
	r->hints.ai_family = AF_UNSPEC;
	r->hints.ai_socktype = SOCK_DGRAM;
	r->hints.ai_flags = AI_ADDRCONFIG;
	r->cb.ar_name = r->name;
	r->cb.ar_request = &r->hints;
	list[0] = &r->cb;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
		free(r);
		*why = "cannot start the server name lookup";
		return -1;
	}
	for (;;) {
		uint64_t now = now_ms();
		struct timespec ts;

		e = gai_error(&r->cb);
		if (e != EAI_INPROGRESS)
			break;
		if (now >= deadline) {
			/* Still running in glibc's thread: it owns r until
			 * done, so r leaks unless the cancel works. */
			if (gai_cancel(&r->cb) == EAI_CANCELED)
				free(r);
			*why = "server name lookup timed out";
			return -1;
		}
		ts.tv_sec = (deadline - now) / 1000;
		ts.tv_nsec = (deadline - now) % 1000 * 1000000;
		gai_suspend((const struct gaicb *const *)list, 1, &ts);
	}
	if (e != 0) {
		free(r);
		*why = "cannot resolve the server name";
		return -1;
	}
	/* IPv4 first: a classic dracd.allow lists 127.0.0.1 only, and
	 * "localhost" usually resolves to ::1 first. */
	for (int pass = 0; pass < 2; pass++) {
		for (ai = r->cb.ar_result; ai && n < max; ai = ai->ai_next) {
			if (ai->ai_family != (pass ? AF_INET6 : AF_INET) ||
			    ai->ai_addrlen > sizeof(*out))
				continue;
			memset(&out[n], 0, sizeof(*out));
			memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
			n++;
		}
	}
	freeaddrinfo(r->cb.ar_result);
	free(r);
	if (!n)
		*why = "the server name has no IPv4 or IPv6 address";
	return n ? n : -1;
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void sa_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

typedef int (*match_fn)(const uint8_t *buf, size_t len, void *ctx);

/* Send req on the connected socket fd and wait for a reply that match()
 * takes (0 done, -1 not it, -2 done with an error), resending with a
 * doubling interval until the deadline.  0, -1 timeout, -2 error or
 * refused (ICMP), -3 match error. */
static int exchange(int fd, const uint8_t *req, size_t reqlen, uint64_t deadline,
		    match_fn match, void *ctx, const char **why)
{
	uint64_t next = 0, gap = RETRY_FIRST_MS;

	for (;;) {
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t until;
		int rc;

		if (now >= deadline) {
			*why = "no answer (timed out)";
			return -1;
		}
		if (now >= next) {
			if (send(fd, req, reqlen, MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
			    errno != EINTR) {
				*why = errno == ECONNREFUSED ? "connection refused"
							     : "cannot send the request";
				return -2;
			}
			next = now + gap;
			gap *= 2;
		}
		until = next < deadline ? next : deadline;
		rc = poll(&pfd, 1, (int)(until - now));
		if (rc < 0 && errno != EINTR) {
			*why = "poll failed";
			return -2;
		}
		while (rc > 0) {
			uint8_t buf[512];
			ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			int m;

			if (r < 0) {
				if (errno == ECONNREFUSED) {
					*why = "connection refused";
					return -2;
				}
				break;
			}
			m = match(buf, r, ctx);
			if (m == 0)
				return 0;
			if (m == -2)
				return -3;
		}
	}
}

struct rpcb_ctx {
	uint32_t xid;
	int family;
	uint16_t port;
};

static int rpcb_match(const uint8_t *buf, size_t len, void *ctx)
{
	struct rpcb_ctx *c = ctx;

	return drac_rpcb_decode(buf, len, c->xid, c->family, &c->port) == 0 ? 0 : -1;
}

struct call_ctx {
	uint32_t xid;
	uint32_t stat;
	const char *why;
	int rpcerr;
};

static int call_match(const uint8_t *buf, size_t len, void *ctx)
{
	struct call_ctx *c = ctx;
	int rc = drac_reply_decode(buf, len, c->xid, &c->stat, &c->why);

	if (rc == -2)
		c->rpcerr = 1;
	return rc;
}

static int udp_socket(const struct sockaddr_storage *ss)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, sa_len(ss)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- TCP: one record out, one record in (RFC 5531 section 11) ---- */

static int tcp_connect(const struct sockaddr_storage *ss, uint64_t deadline, const char **why)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t el = sizeof(err);

	if (fd < 0) {
		*why = "cannot open a socket";
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, sa_len(ss)) < 0 && errno != EINPROGRESS) {
		err = errno;
		goto bad;
	}
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int rc;

		if (now >= deadline) {
			*why = "no answer (connect timed out)";
			close(fd);
			return -1;
		}
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc > 0)
			break;
		if (rc < 0 && errno != EINTR) {
			err = errno;
			goto bad;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (!err)
		return fd;
bad:
	*why = err == ECONNREFUSED ? "connection refused" : "cannot reach the server";
	close(fd);
	return -1;
}

/* Wait for fd to be ready for events until the deadline: 0, or -1. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = events };
		int rc;

		if (now >= deadline)
			return -1;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* The call as one record, then records in until match() takes one.
 * 0 done, -1 timeout, -2 error, -3 match error, -4 the server closed the
 * connection without answering. */
static int tcp_exchange(int fd, const uint8_t *req, size_t reqlen, uint64_t deadline,
			match_fn match, void *ctx, const char **why)
{
	uint8_t out[4 + DRAC_CALL_MAX], in[4 + 512];
	size_t off = 0, got = 0;

	if (reqlen > DRAC_CALL_MAX) {
		*why = "request too long";
		return -2;
	}
	put32(out, 0x80000000u | (uint32_t)reqlen);
	memcpy(out + 4, req, reqlen);
	while (off < 4 + reqlen) {
		ssize_t n = send(fd, out + off, 4 + reqlen - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0) {
				*why = "no answer (timed out)";
				return -1;
			}
		} else {
			*why = "connection closed by the server";
			return -4;
		}
	}
	for (;;) {
		ssize_t n;

		if (got >= 4) {
			uint32_t h = get32(in), flen = h & 0x7fffffff;

			/* DRAC replies are a few dozen bytes in one fragment */
			if (!(h >> 31) || flen > sizeof(in) - 4) {
				*why = "malformed reply record";
				return -2;
			}
			if (got >= 4 + flen) {
				int m = match(in + 4, flen, ctx);

				if (m == 0)
					return 0;
				if (m == -2)
					return -3;
				memmove(in, in + 4 + flen, got - 4 - flen);
				got -= 4 + flen;
				continue;
			}
		}
		n = recv(fd, in + got, sizeof(in) - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			*why = "connection closed by the server (is this host in its dracd.allow?)";
			return -4;
		}
		if (wait_fd(fd, POLLIN, deadline) < 0) {
			*why = "no answer (timed out)";
			return -1;
		}
	}
}

const char *drac_server_split(const char *server, int *proto)
{
	if (server && strncmp(server, "tcp:", 4) == 0) {
		*proto = IPPROTO_TCP;
		return server + 4;
	}
	if (server && strncmp(server, "udp:", 4) == 0) {
		*proto = IPPROTO_UDP;
		return server + 4;
	}
	return server;
}

/* Per-thread message buffer for texts that name a reason. */
static __thread char errbuf[160];

static char *errtext(const char *stage, const char *why)
{
	snprintf(errbuf, sizeof(errbuf), "%s: %s", stage, why);
	return errbuf;
}

struct drac_client *drac_client_open(const char *server, uint16_t port,
				     unsigned timeout_ms, int *rcp, char **errmsg)
{
	return drac_client_open_proto(server, port, IPPROTO_UDP, timeout_ms, rcp, errmsg);
}

struct drac_client *drac_client_open_proto(const char *server, uint16_t port, int proto,
					   unsigned timeout_ms, int *rcp, char **errmsg)
{
	struct sockaddr_storage addrs[MAX_ADDRS];
	uint64_t deadline = now_ms() + (timeout_ms ? timeout_ms : DRACAUTH_TIMEOUT_MS);
	const char *why = "no address", *host = drac_server_split(server, &proto);
	int n, rc = -1;

	n = resolve(host, deadline, addrs, MAX_ADDRS, &why);
	for (int i = 0; i < n; i++) {
		struct drac_client *c;
		uint16_t p = port;
		int fd;

		if (!p) {
			uint8_t req[64];
			struct rpcb_ctx rc_ = { .xid = new_xid(), .family = addrs[i].ss_family };
			size_t len = drac_rpcb_encode_proto(req, sizeof(req), rc_.xid,
							    addrs[i].ss_family, DRACVERS, proto);
			int e;

			sa_port(&addrs[i], RPCB_PORT);
			/* Ask over the call's own transport: rpcbind answers
			 * GETADDR for the netid it was asked on (udp6 over
			 * UDP, whatever the request names). */
			if (proto == IPPROTO_TCP) {
				fd = tcp_connect(&addrs[i], deadline, &why);
				if (fd < 0) {
					if (!strcmp(why, "connection refused"))
						continue;	/* no rpcbind here: next */
					why = "rpcbind on the server did not answer";
					break;
				}
				e = tcp_exchange(fd, req, len, deadline, rpcb_match, &rc_, &why);
				if (e == -4)
					e = -2;
			} else {
				fd = udp_socket(&addrs[i]);
				if (fd < 0) {
					why = "cannot reach the server";
					continue;
				}
				e = exchange(fd, req, len, deadline, rpcb_match, &rc_, &why);
			}
			close(fd);
			if (e == -2)
				continue;	/* no rpcbind at this address: next */
			if (e < 0) {
				why = "rpcbind on the server did not answer (timed out)";
				break;
			}
			if (!rc_.port) {
				why = proto == IPPROTO_TCP ?
					"program 900101 is not registered over TCP with rpcbind on the server" :
					"program 900101 is not registered over UDP with rpcbind on the "
					"server (TCP only? try tcp:SERVER)";
				continue;
			}
			p = rc_.port;
		}
		sa_port(&addrs[i], p);
		if (proto == IPPROTO_TCP) {
			fd = tcp_connect(&addrs[i], deadline, &why);
			if (fd < 0)
				continue;
		} else {
			fd = udp_socket(&addrs[i]);
			if (fd < 0) {
				why = "cannot reach the server";
				continue;
			}
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			why = "out of memory";
			break;
		}
		c->fd = fd;
		c->xid = new_xid();
		c->proto = proto;
		c->sa = addrs[i];
		if (rcp)
			*rcp = 0;
		return c;
	}
	if (rcp)
		*rcp = rc;
	if (errmsg)
		*errmsg = errtext(server ? server : "(null)", why);
	return NULL;
}

int drac_client_add(struct drac_client *c, const struct drac_addr *a,
		    unsigned timeout_ms, char **errmsg)
{
	uint8_t req[DRAC_CALL_MAX];
	uint64_t deadline = now_ms() + (timeout_ms ? timeout_ms : DRACAUTH_TIMEOUT_MS);
	struct call_ctx cc = { .xid = ++c->xid };
	size_t len = drac_call_encode(req, sizeof(req), cc.xid, a);
	const char *why = "?";
	int e;

	if (!len) {
		if (errmsg)
			*errmsg = "not an IPv4 or IPv6 address";
		return -2;
	}
	if (c->proto != IPPROTO_TCP) {
		e = exchange(c->fd, req, len, deadline, call_match, &cc, &why);
	} else {
		e = tcp_exchange(c->fd, req, len, deadline, call_match, &cc, &why);
		/* A kept connection (dracconn) that the server closed while
		 * idle: connect again once. */
		if (e == -4 && c->used) {
			int fd = tcp_connect(&c->sa, deadline, &why);

			if (fd >= 0) {
				close(c->fd);
				c->fd = fd;
				e = tcp_exchange(c->fd, req, len, deadline, call_match, &cc, &why);
			}
		}
		if (e == 0)
			c->used = true;
		else if (e == -4)
			e = -2;
	}
	if (e == -3) {
		if (errmsg)
			*errmsg = errtext("call failed", cc.why);
		return -2;
	}
	if (e < 0) {
		if (errmsg)
			*errmsg = errtext("call failed", why);
		return -2;
	}
	if (errmsg)
		*errmsg = (char *)drac_addstat_str(cc.stat);
	return cc.stat == ADD_SUCCESS ? 0 : cc.stat <= ADD_UNKOWN ? (int)cc.stat : ADD_UNKOWN;
}

void drac_client_close(struct drac_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

/* ---- the classic API ---- */

int dracauth_addr(const char *server, const struct drac_addr *a,
		  unsigned timeout_ms, char **errmsg)
{
	return dracauth_addr_proto(server, a, IPPROTO_UDP, timeout_ms, errmsg);
}

int dracauth_addr_proto(const char *server, const struct drac_addr *a, int proto,
			unsigned timeout_ms, char **errmsg)
{
	uint64_t start = now_ms(), used;
	unsigned t = timeout_ms ? timeout_ms : DRACAUTH_TIMEOUT_MS;
	struct drac_client *c;
	int rc;

	c = drac_client_open_proto(server, 0, proto, t, &rc, errmsg);
	if (!c)
		return rc;
	used = now_ms() - start;
	rc = drac_client_add(c, a, used < t ? t - used : 1, errmsg);
	drac_client_close(c);
	return rc;
}

int dracauth(char *server, unsigned long userip, char **errmsg)
{
	struct drac_addr a;
	uint32_t v = (uint32_t)userip;	/* an in_addr_t: its bytes are a.b.c.d */

	addr_from_bytes(&a, AF_INET, &v);
	return dracauth_addr(server, &a, DRACAUTH_TIMEOUT_MS, errmsg);
}

int dracauth6(const char *server, const struct in6_addr *addr, char **errmsg)
{
	struct drac_addr a;

	addr_from_bytes(&a, AF_INET6, addr);
	return dracauth_addr(server, &a, DRACAUTH_TIMEOUT_MS, errmsg);
}

static struct drac_client *conn4, *conn6;

static int conn_open(struct drac_client **cp, char *server, char **errmsg)
{
	int rc;

	drac_client_close(*cp);
	*cp = drac_client_open(server, 0, DRACAUTH_TIMEOUT_MS, &rc, errmsg);
	if (!*cp)
		return -1;
	if (errmsg)
		*errmsg = "Connect succeeded";
	return 0;
}

static int conn_close(struct drac_client **cp, char **errmsg)
{
	if (!*cp) {
		if (errmsg)
			*errmsg = "Not connected";
		return -1;
	}
	drac_client_close(*cp);
	*cp = NULL;
	if (errmsg)
		*errmsg = "Disconnect succeeded";
	return 0;
}

int dracconn(char *server, char **errmsg)
{
	return conn_open(&conn4, server, errmsg);
}

int dracconn6(char *server, char **errmsg)
{
	return conn_open(&conn6, server, errmsg);
}

int dracsend(unsigned long userip, char **errmsg)
{
	struct drac_addr a;
	uint32_t v = (uint32_t)userip;

	if (!conn4) {
		if (errmsg)
			*errmsg = "Not connected";
		return -1;
	}
	addr_from_bytes(&a, AF_INET, &v);
	return drac_client_add(conn4, &a, DRACAUTH_TIMEOUT_MS, errmsg);
}

int dracsend6(unsigned char userip6[16], char **errmsg)
{
	struct drac_addr a;

	if (!conn6) {
		if (errmsg)
			*errmsg = "Not connected";
		return -1;
	}
	addr_from_bytes(&a, AF_INET6, userip6);
	return drac_client_add(conn6, &a, DRACAUTH_TIMEOUT_MS, errmsg);
}

int dracdisc(char **errmsg)
{
	return conn_close(&conn4, errmsg);
}

int dracdisc6(char **errmsg)
{
	return conn_close(&conn6, errmsg);
}

/* ---- dracd.conf ---- */

#define CONF_MAX_FILE	65536
#define CONF_MAX_NAME	253

void drac_conf_free(char **servers)
{
	if (!servers)
		return;
	for (char **p = servers; *p; p++)
		free(*p);
	free(servers);
}

static bool name_ok(const char *s, size_t n)
{
	if (n > 4 && (strncmp(s, "tcp:", 4) == 0 || strncmp(s, "udp:", 4) == 0)) {
		s += 4;
		n -= 4;
	}
	if (n == 0 || n > CONF_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_:%", s[i]))
			return false;
	return s[0] != '-';
}

int drac_conf_parse(const char *buf, size_t len, const char *name, char ***servers,
		    char *err, size_t errlen)
{
	char **v = calloc(1, sizeof(*v));
	size_t n = 0, pos = 0;
	unsigned lineno = 0;

	if (!v)
		goto oom;
	while (pos < len) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - s) : len - pos, i = 0, w, wl;
		char **nv;

		lineno++;
		pos += l + (nl ? 1 : 0);
		while (i < l && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == l || s[i] == '#')
			continue;
		w = i;
		while (i < l && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
			i++;
		wl = i - w;
		while (i < l && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i < l && s[i] != '#') {
			snprintf(err, errlen, "%s:%u: one server name per line", name, lineno);
			goto bad;
		}
		if (!name_ok(s + w, wl)) {
			snprintf(err, errlen, "%s:%u: \"%.*s\" is not a host name or address",
				 name, lineno, (int)(wl > 64 ? 64 : wl), s + w);
			goto bad;
		}
		if (n >= 64) {
			snprintf(err, errlen, "%s:%u: more than 64 servers", name, lineno);
			goto bad;
		}
		nv = realloc(v, (n + 2) * sizeof(*v));
		if (!nv)
			goto oom;
		v = nv;
		if (!(v[n] = strndup(s + w, wl)))
			goto oom;
		v[++n] = NULL;
	}
	*servers = v;
	return (int)n;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
bad:
	drac_conf_free(v);
	return -1;
}

int drac_conf_load(const char *path, char ***servers, char *err, size_t errlen)
{
	char buf[CONF_MAX_FILE + 1];
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	if (fd < 0 && errno == ENOENT)
		return drac_conf_parse("localhost\n", 10, path, servers, err, errlen);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += r;
		if (len == sizeof(buf)) {
			snprintf(err, errlen, "%s: larger than %d bytes", path, CONF_MAX_FILE);
			close(fd);
			return -1;
		}
	}
	close(fd);
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "%s: NUL byte in file", path);
		return -1;
	}
	return drac_conf_parse(buf, len, path, servers, err, errlen);
}
