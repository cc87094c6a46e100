/* rconn.c - a Redis connection on the loop (see rconn.h).
 *
 * Non-blocking connect, an output buffer written when the socket takes
 * it, and a FIFO of reply callbacks: Redis answers commands in order, so
 * the oldest pending callback owns the next reply.  Callbacks may close
 * the connection; the object then lives until the callback returns. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "rconn.h"

struct pending {
	rconn_reply_fn fn;
	void *priv;
};

struct rconn {
	struct loop *loop;
	int fd;
	bool connecting, closed, in_cb;
	rconn_event_fn ev;
	void *ev_arg;
	rconn_reply_fn push;
	void *push_priv;
	redisReader *reader;
	redisReplyObjectFunctions fns;
	size_t reply_bytes; /* of the reply being built */
	char *out;
	size_t out_len, out_cap, out_off;
	struct pending *q; /* ring */
	size_t q_head, q_n, q_cap;
};

static redisReplyObjectFunctions default_fns;

/* The reader's own builders, with bounds on the reply being built: a
 * server announcing a billion elements, or sending bulk strings for ever
 * into one array, gets an error (the reader says "Out of memory" and we
 * close), not the memory. */
static bool over(const redisReadTask *t, size_t bytes)
{
	struct rconn *c = t->privdata;

	c->reply_bytes += bytes + 32; /* an object's own size, roughly */
	return c->reply_bytes > RCONN_MAX_REPLY;
}

static void *bounded_array(const redisReadTask *t, int elements)
{
	if (elements < 0 || elements > RCONN_MAX_ELEMENTS || over(t, (size_t)elements * 8))
		return NULL;
	return default_fns.createArray(t, elements);
}

static void *bounded_string(const redisReadTask *t, char *str, size_t len)
{
	return over(t, len) ? NULL : default_fns.createString(t, str, len);
}

static void *bounded_integer(const redisReadTask *t, long long v)
{
	return over(t, 0) ? NULL : default_fns.createInteger(t, v);
}

static void *bounded_nil(const redisReadTask *t)
{
	return over(t, 0) ? NULL : default_fns.createNil(t);
}

static void on_io(int fd, uint32_t events, void *arg);

static void set_events(struct rconn *c)
{
	uint32_t ev = EPOLLIN;

	if (c->connecting || c->out_len > c->out_off)
		ev |= EPOLLOUT;
	loop_mod_fd(c->loop, c->fd, ev);
}

static void destroy(struct rconn *c)
{
	/* Every waiting caller hears that no reply will come. */
	while (c->q_n) {
		struct pending p = c->q[c->q_head];

		c->q_head = (c->q_head + 1) % c->q_cap;
		c->q_n--;
		if (p.fn)
			p.fn(c, NULL, p.priv);
	}
	if (c->fd >= 0) {
		loop_del_fd(c->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	if (c->reader)
		redisReaderFree(c->reader);
	c->reader = NULL;
	free(c->out);
	c->out = NULL;
	free(c->q);
	c->q = NULL;
	if (!c->in_cb)
		free(c);
}

void rconn_close(struct rconn *c)
{
	if (!c || c->closed)
		return;
	c->closed = true;
	destroy(c);
}

/* The connection ends by itself: tell the owner (after the callers). */
static void end(struct rconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void end(struct rconn *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	bool in_cb = c->in_cb;

	if (c->closed)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->closed = true;
	c->in_cb = true; /* keep c while the owner hears of it */
	destroy(c);
	c->ev(c, why, c->ev_arg);
	c->in_cb = in_cb;
	if (!in_cb)
		free(c);
}

struct rconn *rconn_open(struct loop *l, const char *host, uint16_t port, rconn_event_fn ev,
			 void *arg)
{
	struct rconn *c = calloc(1, sizeof(*c));
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	struct drac_addr a;
	int rc;

	if (!c)
		return NULL;
	c->loop = l;
	c->ev = ev;
	c->ev_arg = arg;
	c->fd = -1;
	if (port == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		if (strlen(host) >= sizeof(un->sun_path)) {
			errno = ENAMETOOLONG;
			goto bad;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, host);
		sl = sizeof(*un);
	} else if (addr_parse(host, &a) == 0 && a.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a.a, 4);
		sl = sizeof(*in);
	} else if (addr_parse(host, &a) == 0) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a.a, 16);
		sl = sizeof(*in6);
	} else {
		errno = EINVAL;
		goto bad;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto bad;
	if (port) {
		/* A server gone without a word (a partition) is noticed by
		 * the owner's PINGs; keepalive is the last resort. */
		int on = 1, idle = 10, intvl = 3, cnt = 3;

		setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	if (!(c->reader = redisReaderCreate()))
		goto bad;
	default_fns = *c->reader->fn;
	c->fns = default_fns;
	c->fns.createArray = bounded_array;
	c->fns.createString = bounded_string;
	c->fns.createInteger = bounded_integer;
	c->fns.createNil = bounded_nil;
	c->reader->fn = &c->fns;
	c->reader->privdata = c;
	rc = connect(c->fd, (struct sockaddr *)&ss, sl);
	if (rc < 0 && errno != EINPROGRESS && errno != EAGAIN)
		goto bad;
	c->connecting = true;
	if (loop_add_fd(l, c->fd, EPOLLIN | EPOLLOUT, on_io, c) < 0)
		goto bad;
	return c;
bad:
	rc = errno;
	if (c->fd >= 0)
		close(c->fd);
	if (c->reader)
		redisReaderFree(c->reader);
	free(c);
	errno = rc;
	return NULL;
}

void rconn_set_push(struct rconn *c, rconn_reply_fn fn, void *priv)
{
	c->push = fn;
	c->push_priv = priv;
}

static int append(struct rconn *c, int argc, const char **argv, const size_t *argvlen)
{
	char *cmd;
	int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);

	if (len < 0)
		return -1;
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + (size_t)len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *n;

		while (cap < c->out_len + (size_t)len)
			cap *= 2;
		if (!(n = realloc(c->out, cap))) {
			free(cmd);
			return -1;
		}
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, cmd, (size_t)len);
	c->out_len += (size_t)len;
	free(cmd);
	if (!c->connecting)
		set_events(c);
	return 0;
}

int rconn_command(struct rconn *c, rconn_reply_fn fn, void *priv, int argc, const char **argv,
		  const size_t *argvlen)
{
	if (c->closed || c->q_n >= RCONN_MAX_PENDING)
		return -1;
	if (c->q_n == c->q_cap) {
		size_t cap = c->q_cap ? c->q_cap * 2 : 64;
		struct pending *n = malloc(cap * sizeof(*n));

		if (!n)
			return -1;
		for (size_t i = 0; i < c->q_n; i++)
			n[i] = c->q[(c->q_head + i) % c->q_cap];
		free(c->q);
		c->q = n;
		c->q_head = 0;
		c->q_cap = cap;
	}
	if (append(c, argc, argv, argvlen) < 0)
		return -1;
	c->q[(c->q_head + c->q_n) % c->q_cap] = (struct pending){ fn, priv };
	c->q_n++;
	return 0;
}

int rconn_send(struct rconn *c, int argc, const char **argv, const size_t *argvlen)
{
	return c->closed ? -1 : append(c, argc, argv, argvlen);
}

size_t rconn_pending(const struct rconn *c)
{
	return c->q_n;
}

static void flush_out(struct rconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			end(c, "write: %s", strerror(errno));
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	set_events(c);
}

/* Hand every complete reply to its owner. */
static void dispatch(struct rconn *c)
{
	for (;;) {
		void *reply = NULL;

		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
			end(c, "protocol error: %s", c->reader->errstr);
			return;
		}
		if (!reply)
			return;
		c->reply_bytes = 0;
		if (c->q_n) {
			struct pending p = c->q[c->q_head];

			c->q_head = (c->q_head + 1) % c->q_cap;
			c->q_n--;
			if (p.fn)
				p.fn(c, reply, p.priv);
		} else if (c->push) {
			c->push(c, reply, c->push_priv);
		} else {
			freeReplyObject(reply);
			end(c, "a reply to no command");
			return;
		}
		freeReplyObject(reply);
		if (c->closed)
			return;
	}
}

static void on_io(int fd, uint32_t events, void *arg)
{
	struct rconn *c = arg;

	c->in_cb = true;
	if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			end(c, "connect: %s", strerror(err));
			goto out;
		}
		c->connecting = false;
		set_events(c);
		c->ev(c, NULL, c->ev_arg);
		if (c->closed)
			goto out;
	}
	if (!c->connecting && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		char buf[65536];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0) {
			end(c, "closed by the server");
			goto out;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			end(c, "read: %s", strerror(errno));
			goto out;
		}
		if (n > 0) {
			if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) {
				end(c, "protocol error: %s", c->reader->errstr);
				goto out;
			}
			dispatch(c);
			if (c->closed)
				goto out;
			if (c->reader->len - c->reader->pos > RCONN_MAX_BUFFERED) {
				end(c, "a reply over %u bytes", RCONN_MAX_BUFFERED);
				goto out;
			}
		}
	}
	if (!c->connecting && !c->closed && (events & EPOLLOUT))
		flush_out(c);
out:
	c->in_cb = false;
	if (c->closed)
		free(c);
}
