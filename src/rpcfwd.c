/* rpcfwd.c - forward own grants to remote DRAC servers: non-blocking TCP
 * (or UDP) calls, retries and time limits on one loop timer, names and
 * ports looked up in the background */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xdr.h"

#include "dracauth.h"
#include "log.h"
#include "rpcfwd.h"

#define FWD_TICK_MS	50
#define FWD_RETRY_MS	250
#define FWD_GIVE_UP_MS	5000
#define FWD_MAX_PENDING	256
#define FWD_RESOLVE_RETRY_MS 30000

enum fwd_state {
	FS_RESOLVE,	/* getaddrinfo_a running */
	FS_LOOKUP,	/* asking rpcbind for the port */
	FS_READY,
	FS_LOCAL,	/* this host: skipped */
	FS_WAIT,	/* resolution failed: retry later */
};

struct fwd_pending {
	uint32_t xid;
	struct drac_addr a;
	uint64_t first, next, gap;
	bool sent;	/* TCP: written on the current connection */
};

/* TCP: every pending call fits in the output buffer at once. */
#define FWD_TCP_OUT	(FWD_MAX_PENDING * (4 + DRAC_CALL_MAX))
#define FWD_TCP_IN	(4 + 512)

struct fwd_req {	/* owned by glibc's resolver thread until done */
	struct gaicb cb;
	struct addrinfo hints;
	char name[256];
};

struct fwd_server {
	struct rpcfwd *f;
	char *name;		/* as written, for messages */
	const char *host;	/* name without "tcp:" or "udp:" */
	int proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	enum fwd_state state;
	struct fwd_req *gai;
	struct sockaddr_storage sa;	/* port 0 until known */
	int fd;				/* DRAC calls, connected */
	int rpcb_fd;			/* rpcbind lookup, connected */
	uint32_t rpcb_xid;
	uint64_t rpcb_next, rpcb_gap, retry_at;
	uint32_t xid;
	struct fwd_pending p[FWD_MAX_PENDING];
	unsigned np;
	/* TCP: fd >= 0 once connecting; calls are written when connected */
	bool connected;
	uint64_t connect_at;	/* no new connection before this */
	const char *why;	/* what the last connection said, for give-up */
	uint8_t *out;		/* FWD_TCP_OUT bytes */
	size_t outlen, inlen;
	uint8_t in[FWD_TCP_IN];
};

struct rpcfwd {
	struct loop *loop;
	struct loop_timer *tick;
	struct fwd_server *s;
	unsigned ns;
	uint16_t port;
	bool keep_local;
	int proto;
	unsigned give_up;
	struct rpcfwd_stats st;
	uint64_t log_sec;
	unsigned log_n;
};

/* Transaction ids another host cannot guess; the clock when the kernel
 * has no entropy to give yet (a reply is still matched by server too). */
static uint32_t random_xid(void)
{
	uint32_t x;

	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)loop_now() * 2654435761u ^ (uint32_t)getpid();
	return x;
}

static bool fwd_may_log(struct rpcfwd *f)
{
	uint64_t sec = loop_now() / 1000;

	if (sec != f->log_sec) {
		f->log_sec = sec;
		f->log_n = 0;
	}
	return f->log_n++ < 10;
}

static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void sa_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Loopback, or an address of this host (binding to it works). */
static bool sa_is_local(const struct sockaddr_storage *ss)
{
	struct sockaddr_storage b = *ss;
	struct drac_addr a;
	int fd, ok;

	if (ss->ss_family == AF_INET)
		addr_from_bytes(&a, AF_INET, &((struct sockaddr_in *)ss)->sin_addr);
	else
		addr_from_bytes(&a, AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr);
	addr_unmap(&a);
	if (addr_is_loopback(&a))
		return true;
	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	sa_set_port(&b, 0);
	ok = bind(fd, (struct sockaddr *)&b, sa_len(&b)) == 0;
	close(fd);
	return ok;
}

static void fwd_close_fds(struct fwd_server *s)
{
	if (s->fd >= 0) {
		loop_del_fd(s->f->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	s->connected = false;
	s->outlen = s->inlen = 0;
	for (unsigned i = 0; i < s->np; i++)
		s->p[i].sent = false;
	if (s->rpcb_fd >= 0) {
		loop_del_fd(s->f->loop, s->rpcb_fd);
		close(s->rpcb_fd);
		s->rpcb_fd = -1;
	}
}

static void fwd_drop(struct fwd_server *s, unsigned i, const char *why)
{
	char ab[ADDR_STRLEN];

	s->f->st.failed++;
	if (s->proto == IPPROTO_TCP && s->why && !strcmp(why, "no answer"))
		why = s->why;
	if (fwd_may_log(s->f))
		msg_warn("rpc forward: %s did not add %s: %s", s->name,
			 addr_fmt(&s->p[i].a, ab, sizeof(ab)), why);
	s->p[i] = s->p[--s->np];
}

static void fwd_tcp_connect(struct fwd_server *s);
static int fwd_tcp_flush(struct fwd_server *s);
static void fwd_tcp_lost(struct fwd_server *s, const char *why);

/* TCP: the call goes out once per connection (TCP retransmits, not us);
 * no connection yet makes one, at most one attempt per retry interval. */
static void fwd_tcp_send(struct fwd_server *s, struct fwd_pending *p, uint64_t now)
{
	size_t n;

	if (s->state != FS_READY)
		return;
	if (s->fd < 0) {
		if (now >= s->connect_at)
			fwd_tcp_connect(s);
		return;
	}
	if (!s->connected || p->sent || FWD_TCP_OUT - s->outlen < 4 + DRAC_CALL_MAX)
		return;
	n = drac_call_encode(s->out + s->outlen + 4, DRAC_CALL_MAX, p->xid, &p->a);
	if (!n)
		return;
	put32(s->out + s->outlen, 0x80000000u | (uint32_t)n);
	s->outlen += 4 + n;
	p->sent = true;
	if (fwd_tcp_flush(s) < 0)
		fwd_tcp_lost(s, "connection closed by the server");
}

static void fwd_send_one(struct fwd_server *s, struct fwd_pending *p, uint64_t now)
{
	uint8_t buf[DRAC_CALL_MAX];
	size_t n = drac_call_encode(buf, sizeof(buf), p->xid, &p->a);

	p->next = now + p->gap;
	p->gap *= 2;
	if (s->proto == IPPROTO_TCP) {
		fwd_tcp_send(s, p, now);
		return;
	}
	if (s->state != FS_READY || !n)
		return;
	/* Non-blocking: a full socket buffer is a lost datagram, which the
	 * retry covers. */
	if (send(s->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == ECONNREFUSED)
		s->retry_at = 0;	/* noticed by the reader too */
}

static void fwd_lookup(struct fwd_server *s);
static void fwd_drac_ready(int fd, uint32_t events, void *arg);

/* One reply message: the pending call it answers is done. */
static void fwd_reply(struct fwd_server *s, const uint8_t *buf, size_t r)
{
	uint32_t xid, stat;
	const char *why = "";

	if (r < 4)
		return;
	xid = get32(buf);
	for (unsigned i = 0; i < s->np; i++) {
		int rc;

		if (s->p[i].xid != xid)
			continue;
		rc = drac_reply_decode(buf, r, xid, &stat, &why);
		if (rc == -1)
			break;
		if (rc == 0 && stat == ADD_SUCCESS) {
			s->f->st.acked++;
			s->p[i] = s->p[--s->np];
		} else {
			fwd_drop(s, i, rc == 0 ? drac_addstat_str(stat) : why);
		}
		break;
	}
}

/* ---- TCP: non-blocking connect, record marking, bounded buffers ---- */

static void fwd_tcp_events(struct fwd_server *s)
{
	loop_mod_fd(s->f->loop, s->fd, s->connected ? EPOLLIN | (s->outlen ? EPOLLOUT : 0)
						    : EPOLLOUT);
}

/* Write what the socket takes: 0, or -1 when the connection is dead. */
static int fwd_tcp_flush(struct fwd_server *s)
{
	while (s->outlen) {
		ssize_t w = send(s->fd, s->out, s->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
			return -1;
		memmove(s->out, s->out + w, s->outlen - w);
		s->outlen -= w;
	}
	fwd_tcp_events(s);
	return 0;
}

/* The connection ended or failed: the calls on it wait for the next one
 * (or their time limit), which is not tried before the retry interval. */
static void fwd_tcp_lost(struct fwd_server *s, const char *why)
{
	s->why = why;
	fwd_close_fds(s);
	s->connect_at = loop_now() + FWD_RETRY_MS;
}

static void fwd_tcp_ready(int fd, uint32_t events, void *arg)
{
	struct fwd_server *s = arg;

	if (!s->connected) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			if (fwd_may_log(s->f))
				msg_warn("rpc forward: %s: cannot connect: %s", s->name, strerror(err));
			fwd_tcp_lost(s, err == ECONNREFUSED ? "connection refused" :
				     "cannot connect");
			/* Nothing on that port any more: the server may
			 * have restarted elsewhere. */
			if (err == ECONNREFUSED && !s->f->port)
				fwd_lookup(s);
			return;
		}
		s->connected = true;
		s->why = NULL;
		for (unsigned i = 0; i < s->np; i++)
			fwd_tcp_send(s, &s->p[i], loop_now());
		if (s->fd >= 0)
			fwd_tcp_events(s);
		return;
	}
	if ((events & EPOLLOUT) && fwd_tcp_flush(s) < 0) {
		fwd_tcp_lost(s, "connection closed by the server");
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t r = recv(fd, s->in + s->inlen, sizeof(s->in) - s->inlen, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			/* dracd closes callers it does not allow at once,
			 * and idle ones after a minute. */
			fwd_tcp_lost(s, "connection closed by the server (is this host in "
				     "its dracd.allow?)");
			return;
		}
		s->inlen += r;
		while (s->inlen >= 4) {
			uint32_t h = get32(s->in), flen = h & 0x7fffffff;

			/* DRAC replies are one short fragment */
			if (!(h >> 31) || flen > sizeof(s->in) - 4) {
				fwd_tcp_lost(s, "malformed reply record");
				return;
			}
			if (s->inlen < 4 + flen)
				break;
			fwd_reply(s, s->in + 4, flen);
			memmove(s->in, s->in + 4 + flen, s->inlen - 4 - flen);
			s->inlen -= 4 + flen;
		}
	}
}

static void fwd_tcp_connect(struct fwd_server *s)
{
	s->connect_at = loop_now() + FWD_RETRY_MS;
	s->connected = false;
	s->outlen = s->inlen = 0;
	for (unsigned i = 0; i < s->np; i++)
		s->p[i].sent = false;
	s->fd = socket(s->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || (connect(s->fd, (struct sockaddr *)&s->sa, sa_len(&s->sa)) < 0 &&
			  errno != EINPROGRESS) ||
	    loop_add_fd(s->f->loop, s->fd, EPOLLOUT, fwd_tcp_ready, s) < 0) {
		if (fwd_may_log(s->f))
			msg_warn("rpc forward: %s: cannot connect: %s", s->name, strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		s->why = "cannot connect";
	}
}

/* The DRAC port is known: UDP sockets are ready at once, TCP connects
 * when there is something to send. */
static int fwd_port_known(struct fwd_server *s, uint16_t port)
{
	sa_set_port(&s->sa, port);
	if (s->proto == IPPROTO_TCP) {
		s->state = FS_READY;
		s->connect_at = 0;
		if (s->np)
			fwd_tcp_connect(s);
		return 0;
	}
	s->fd = socket(s->sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&s->sa, sa_len(&s->sa)) < 0 ||
	    loop_add_fd(s->f->loop, s->fd, EPOLLIN, fwd_drac_ready, s) < 0) {
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return -1;
	}
	s->state = FS_READY;
	return 0;
}

static void fwd_drac_ready(int fd, uint32_t events, void *arg)
{
	struct fwd_server *s = arg;

	for (int k = 0; k < 64; k++) {
		uint8_t buf[512];
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0) {
			if (errno == ECONNREFUSED) {
				/* Nothing on that port any more: the server
				 * restarted, ask rpcbind again. */
				if (fwd_may_log(s->f))
					msg_info("rpc forward: %s refused the DRAC port, looking it up again",
						 s->name);
				fwd_lookup(s);
			}
			return;
		}
		fwd_reply(s, buf, r);
	}
}

static void fwd_rpcb_close(struct fwd_server *s)
{
	loop_del_fd(s->f->loop, s->rpcb_fd);
	close(s->rpcb_fd);
	s->rpcb_fd = -1;
}

static void fwd_rpcb_failed(struct fwd_server *s, const char *why)
{
	if (fwd_may_log(s->f))
		msg_warn("rpc forward: %s: %s", s->name, why);
	fwd_rpcb_close(s);
	s->state = FS_WAIT;
	s->retry_at = loop_now() + 2000;
}

/* rpcbind answered: the DRAC port, or 0 for not registered. */
static void fwd_rpcb_answer(struct fwd_server *s, uint16_t port)
{
	fwd_rpcb_close(s);
	if (!port) {
		if (fwd_may_log(s->f))
			msg_warn("rpc forward: %s: program %d is not registered over %s with rpcbind",
				 s->name, DRACPROG, s->proto == IPPROTO_TCP ? "tcp" : "udp");
		s->state = FS_WAIT;
		s->retry_at = loop_now() + 2000;
		return;
	}
	if (fwd_port_known(s, port) < 0) {
		msg_warn("rpc forward: %s: cannot open a socket: %s", s->name, strerror(errno));
		s->state = FS_WAIT;
		s->retry_at = loop_now() + 2000;
		return;
	}
	msg_debug("rpc forward: %s: DRAC on port %u over %s", s->name, port,
		  s->proto == IPPROTO_TCP ? "tcp" : "udp");
	/* Send what waited for the port now, not at its next retry. */
	for (unsigned i = 0; i < s->np; i++) {
		s->p[i].gap = FWD_RETRY_MS;
		fwd_send_one(s, &s->p[i], loop_now());
	}
}

static void fwd_rpcb_ready(int fd, uint32_t events, void *arg)
{
	struct fwd_server *s = arg;
	uint8_t buf[512];
	ssize_t r;
	uint16_t port;

	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		if (drac_rpcb_decode(buf, r, s->rpcb_xid, s->sa.ss_family, &port) < 0)
			continue;
		fwd_rpcb_answer(s, port);
		return;
	}
	if (errno == ECONNREFUSED)
		fwd_rpcb_failed(s, "no rpcbind (connection refused)");
}

/* The TCP lookup: rpcbind answers GETADDR for the netid of the transport
 * it is asked over, so the tcp6 port must be asked over TCP.  One record
 * out once connected, one record in (into s->in: the DRAC connection is
 * closed while looking up). */
static void fwd_rpcb_tcp_ready(int fd, uint32_t events, void *arg)
{
	struct fwd_server *s = arg;
	uint16_t port;

	if (s->rpcb_gap == 0) {		/* connecting */
		uint8_t buf[4 + 64];
		int err = 0;
		socklen_t el = sizeof(err);
		size_t n = drac_rpcb_encode_proto(buf + 4, sizeof(buf) - 4, s->rpcb_xid,
						  s->sa.ss_family, DRACVERS, IPPROTO_TCP);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			fwd_rpcb_failed(s, err == ECONNREFUSED ? "no rpcbind (connection refused)" :
					"cannot reach rpcbind");
			return;
		}
		put32(buf, 0x80000000u | (uint32_t)n);
		if (send(fd, buf, 4 + n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(4 + n)) {
			fwd_rpcb_failed(s, "rpcbind closed the connection");
			return;
		}
		s->rpcb_gap = 1;
		s->inlen = 0;
		loop_mod_fd(s->f->loop, fd, EPOLLIN);
		return;
	}
	for (;;) {
		ssize_t r = recv(fd, s->in + s->inlen, sizeof(s->in) - s->inlen, MSG_DONTWAIT);
		uint32_t h, flen;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			fwd_rpcb_failed(s, "rpcbind closed the connection");
			return;
		}
		s->inlen += r;
		if (s->inlen < 4)
			continue;
		h = get32(s->in);
		flen = h & 0x7fffffff;
		if (!(h >> 31) || flen > sizeof(s->in) - 4) {
			fwd_rpcb_failed(s, "malformed answer from rpcbind");
			return;
		}
		if (s->inlen < 4 + flen)
			continue;
		if (drac_rpcb_decode(s->in + 4, flen, s->rpcb_xid, s->sa.ss_family, &port) < 0) {
			fwd_rpcb_failed(s, "malformed answer from rpcbind");
			return;
		}
		s->inlen = 0;
		fwd_rpcb_answer(s, port);
		return;
	}
}

static void fwd_rpcb_send(struct fwd_server *s, uint64_t now)
{
	uint8_t buf[64];
	size_t n = drac_rpcb_encode_proto(buf, sizeof(buf), s->rpcb_xid, s->sa.ss_family,
					  DRACVERS, s->proto);

	if (s->proto == IPPROTO_TCP) {
		/* TCP retransmits; a lookup that hangs is given up */
		if (s->rpcb_next)
			fwd_rpcb_failed(s, "rpcbind did not answer");
		else
			s->rpcb_next = now + 4000;
		return;
	}
	send(s->rpcb_fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	s->rpcb_next = now + s->rpcb_gap;
	if (s->rpcb_gap < 4000)
		s->rpcb_gap *= 2;
}

/* Find the DRAC port: the fixed one, or ask the server's rpcbind. */
static void fwd_lookup(struct fwd_server *s)
{
	struct sockaddr_storage rb = s->sa;

	fwd_close_fds(s);
	if (s->f->port) {
		s->state = FS_LOOKUP;
		if (fwd_port_known(s, s->f->port) == 0)
			return;
		goto bad;
	}
	sa_set_port(&rb, 111);
	if (s->proto == IPPROTO_TCP) {
		s->rpcb_fd = socket(rb.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->rpcb_fd < 0 || (connect(s->rpcb_fd, (struct sockaddr *)&rb, sa_len(&rb)) < 0 &&
				       errno != EINPROGRESS) ||
		    loop_add_fd(s->f->loop, s->rpcb_fd, EPOLLOUT, fwd_rpcb_tcp_ready, s) < 0)
			goto bad;
		s->state = FS_LOOKUP;
		s->rpcb_xid = random_xid();
		s->rpcb_gap = 0;	/* connecting */
		s->rpcb_next = 0;
		fwd_rpcb_send(s, loop_now());
		return;
	}
	s->rpcb_fd = socket(rb.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->rpcb_fd < 0 || connect(s->rpcb_fd, (struct sockaddr *)&rb, sa_len(&rb)) < 0 ||
	    loop_add_fd(s->f->loop, s->rpcb_fd, EPOLLIN, fwd_rpcb_ready, s) < 0)
		goto bad;
	s->state = FS_LOOKUP;
	s->rpcb_xid = random_xid();
	s->rpcb_gap = FWD_RETRY_MS;
	fwd_rpcb_send(s, loop_now());
	return;
bad:
	msg_warn("rpc forward: %s: cannot open a socket: %s", s->name, strerror(errno));
	fwd_close_fds(s);
	s->state = FS_WAIT;
	s->retry_at = loop_now() + 2000;
}

static void fwd_resolved(struct fwd_server *s, struct addrinfo *res)
{
	struct addrinfo *ai;

	/* IPv4 first, as the classic protocol and allow files are. */
	for (ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET && ai->ai_addrlen <= sizeof(s->sa))
			break;
	for (ai = ai ? ai : res; ai; ai = ai->ai_next)
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    ai->ai_addrlen <= sizeof(s->sa))
			break;
	if (!ai) {
		msg_warn("rpc forward: %s has no IPv4 or IPv6 address", s->name);
		s->state = FS_WAIT;
		s->retry_at = loop_now() + FWD_RESOLVE_RETRY_MS;
		return;
	}
	memset(&s->sa, 0, sizeof(s->sa));
	memcpy(&s->sa, ai->ai_addr, ai->ai_addrlen);
	if (!s->f->keep_local && sa_is_local(&s->sa)) {
		msg_info("rpc forward: %s is this host: its grants are already here", s->name);
		s->state = FS_LOCAL;
		s->f->st.acked += s->np;	/* queued while resolving: held here */
		s->np = 0;
		return;
	}
	fwd_lookup(s);
}

static void fwd_resolve(struct fwd_server *s)
{
	struct drac_addr a;
	struct gaicb *list[1];

	if (addr_parse(s->host, &a) == 0) {
		struct addrinfo ai = { .ai_family = a.family };
		struct sockaddr_storage ss = { .ss_family = a.family };

		if (a.family == AF_INET)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, a.a, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, a.a, 16);
		ai.ai_addr = (struct sockaddr *)&ss;
		ai.ai_addrlen = sa_len(&ss);
		fwd_resolved(s, &ai);
		return;
	}
	s->gai = calloc(1, sizeof(*s->gai));
	if (!s->gai)
		goto bad;
	snprintf(s->gai->name, sizeof(s->gai->name), "%s", s->host);
	s->gai->hints.ai_family = AF_UNSPEC;
	s->gai->hints.ai_socktype = SOCK_DGRAM;
	s->gai->cb.ar_name = s->gai->name;
	s->gai->cb.ar_request = &s->gai->hints;
	list[0] = &s->gai->cb;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
		free(s->gai);
		s->gai = NULL;
		goto bad;
	}
	s->state = FS_RESOLVE;
	return;
bad:
	s->state = FS_WAIT;
	s->retry_at = loop_now() + FWD_RESOLVE_RETRY_MS;
}

static bool fwd_busy(struct rpcfwd *f)
{
	for (unsigned i = 0; i < f->ns; i++) {
		struct fwd_server *s = &f->s[i];

		if (s->np || s->state == FS_RESOLVE || s->state == FS_LOOKUP ||
		    s->state == FS_WAIT)
			return true;
	}
	return false;
}

static void fwd_tick(void *arg)
{
	struct rpcfwd *f = arg;
	uint64_t now = loop_now();

	for (unsigned i = 0; i < f->ns; i++) {
		struct fwd_server *s = &f->s[i];

		switch (s->state) {
		case FS_RESOLVE: {
			int e = gai_error(&s->gai->cb);

			if (e == EAI_INPROGRESS)
				break;
			if (e == 0) {
				fwd_resolved(s, s->gai->cb.ar_result);
				freeaddrinfo(s->gai->cb.ar_result);
			} else {
				msg_warn("rpc forward: cannot resolve %s: %s", s->name, gai_strerror(e));
				s->state = FS_WAIT;
				s->retry_at = now + FWD_RESOLVE_RETRY_MS;
			}
			free(s->gai);
			s->gai = NULL;
			break;
		}
		case FS_LOOKUP:
			if (now >= s->rpcb_next)
				fwd_rpcb_send(s, now);
			break;
		case FS_WAIT:
			if (now >= s->retry_at) {
				if (s->sa.ss_family)
					fwd_lookup(s);
				else
					fwd_resolve(s);
			}
			break;
		default:
			break;
		}
		for (unsigned k = 0; k < s->np;) {
			struct fwd_pending *p = &s->p[k];

			if (now - p->first >= f->give_up) {
				fwd_drop(s, k, s->state == FS_READY ? "no answer" :
					 "server not reachable (no address or port)");
				/* A silent server may have moved to another
				 * port without an ICMP error: ask again. */
				if (s->state == FS_READY && !f->port)
					fwd_lookup(s);
				continue;
			}
			if (now >= p->next)
				fwd_send_one(s, p, now);
			k++;
		}
	}
	if (fwd_busy(f))
		loop_timer_after(f->tick, FWD_TICK_MS);
}

void rpcfwd_send(struct rpcfwd *f, const struct drac_addr *a)
{
	uint64_t now = loop_now();

	if (!f)
		return;
	for (unsigned i = 0; i < f->ns; i++) {
		struct fwd_server *s = &f->s[i];
		struct fwd_pending *p;
		unsigned k;

		if (s->state == FS_LOCAL)
			continue;
		for (k = 0; k < s->np; k++)
			if (addr_eq(&s->p[k].a, a))
				break;
		if (k < s->np)
			continue;	/* already on its way: one answer covers both */
		f->st.sent++;
		if (s->np == FWD_MAX_PENDING) {
			char ab[ADDR_STRLEN];

			f->st.failed++;
			if (fwd_may_log(f))
				msg_warn("rpc forward: %s: %d additions waiting, dropping %s",
					 s->name, FWD_MAX_PENDING, addr_fmt(a, ab, sizeof(ab)));
			continue;
		}
		p = &s->p[s->np++];
		p->xid = ++s->xid;
		p->a = *a;
		p->first = now;
		p->gap = FWD_RETRY_MS;
		p->sent = false;
		fwd_send_one(s, p, now);
	}
	if (fwd_busy(f))
		loop_timer_after(f->tick, FWD_TICK_MS);
}

struct rpcfwd *rpcfwd_new_opts(struct loop *l, const struct rpcfwd_opts *o)
{
	struct rpcfwd *f = calloc(1, sizeof(*f));
	const char *path = o->conf_path ? o->conf_path : DRACAUTH_CONF;
	char **names = NULL, err[512];
	int n;

	if (!f)
		goto oom;
	f->loop = l;
	f->port = o->port;
	f->keep_local = o->keep_local;
	f->proto = o->proto ? o->proto : IPPROTO_TCP;
	f->give_up = o->give_up_ms ? o->give_up_ms : FWD_GIVE_UP_MS;
	n = drac_conf_load(path, &names, err, sizeof(err));
	if (n < 0) {
		msg_err("rpc forward: %s", err);
		free(f);
		return NULL;
	}
	f->tick = loop_timer_new(l, fwd_tick, f);
	f->s = calloc(n ? n : 1, sizeof(*f->s));
	if (!f->tick || !f->s)
		goto oom;
	for (int i = 0; i < n; i++) {
		struct fwd_server *s = &f->s[i];

		s->f = f;
		s->fd = s->rpcb_fd = -1;
		s->name = names[i];
		names[i] = NULL;
		s->proto = f->proto;
		s->host = drac_server_split(s->name, &s->proto);
		if (s->proto == IPPROTO_TCP && !(s->out = malloc(FWD_TCP_OUT))) {
			free(s->name);
			goto oom;
		}
		s->xid = random_xid();
		f->ns++;
		fwd_resolve(s);
	}
	free(names);
	if (fwd_busy(f))
		loop_timer_after(f->tick, FWD_TICK_MS);
	return f;
oom:
	msg_err("rpc forward: out of memory");
	drac_conf_free(names);
	rpcfwd_free(f);
	return NULL;
}

struct rpcfwd *rpcfwd_new(struct loop *l, const char *conf_path)
{
	struct rpcfwd_opts o = { .conf_path = conf_path };

	return rpcfwd_new_opts(l, &o);
}

void rpcfwd_free(struct rpcfwd *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->ns; i++) {
		struct fwd_server *s = &f->s[i];

		fwd_close_fds(s);
		if (s->gai) {
			/* glibc's thread may still write into it */
			if (gai_cancel(&s->gai->cb) == EAI_CANCELED)
				free(s->gai);
			else if (gai_error(&s->gai->cb) != EAI_INPROGRESS) {
				if (gai_error(&s->gai->cb) == 0)
					freeaddrinfo(s->gai->cb.ar_result);
				free(s->gai);
			}
		}
		free(s->name);
		free(s->out);
	}
	free(f->s);
	loop_timer_free(f->tick);
	free(f);
}

const struct rpcfwd_stats *rpcfwd_stats(const struct rpcfwd *f)
{
	return &f->st;
}

unsigned rpcfwd_servers(const struct rpcfwd *f)
{
	unsigned n = 0;

	for (unsigned i = 0; f && i < f->ns; i++)
		n += f->s[i].state != FS_LOCAL;
	return n;
}

unsigned rpcfwd_pending(const struct rpcfwd *f)
{
	unsigned n = 0;

	for (unsigned i = 0; f && i < f->ns; i++)
		n += f->s[i].np;
	return n;
}
