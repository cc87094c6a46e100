/* policy.c - the Postfix policy service: a listener and many kept-open
 * smtpd connections on the one loop, each answered from memory.
 *
 * Every connection is non-blocking, reads at most one buffer and answers
 * at most TURN_BUDGET requests per loop turn (level-triggered, so a busy
 * client cannot starve the others), has
 * a bounded input (POLICY_MAX_REQUEST) and output buffer, and a deadline:
 * a request must arrive whole within POLICY_REQUEST_MS, an idle
 * connection lives POLICY_IDLE_MS.  At POLICY_MAX_CONNS the least
 * recently active connection is closed for a new one.  Whatever is in
 * doubt is answered DUNNO or closed; smtpd then applies
 * smtpd_policy_service_default_action, which the docs say to set DUNNO. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "log.h"
#include "mirror.h"
#include "policy.h"

#define IN_FIRST 1024	/* first input buffer; grows to POLICY_MAX_REQUEST */
#define OUT_SIZE 512	/* answers queued for a client that reads slowly */
#define ANSWER_MAX 32	/* room one answer needs */
#define ACCEPT_BUDGET 64
#define SWEEP_MS 1000
#define PAUSE_MS 100	/* out of descriptors with nothing to evict */
/* Requests one connection may have answered per loop turn.  One read of
 * 8 kB can hold 8192 one-byte requests: answering them all at once let a
 * single client hold the loop (and every smtpd) for milliseconds per
 * read, times every connection it opened. */
#define TURN_BUDGET 64

static const char ANS_OK[] = "action=OK\n\n";
static const char ANS_DUNNO[] = "action=DUNNO\n\n";

/* ---- endpoint ---- */

int policy_endpoint_parse(const char *s, struct policy_endpoint *ep, char *err, size_t errlen)
{
	memset(ep, 0, sizeof(*ep));
	if (strncmp(s, "unix:", 5) == 0) {
		const char *path = s + 5;
		struct sockaddr_un *un = (struct sockaddr_un *)&ep->sa;

		for (const char *c = path; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == '"' || *c == '\\' || *c == 0x7f) {
				snprintf(err, errlen, "unix: path with a quote, backslash or "
					 "control character");
				return -1;
			}
		if (*path != '/') {
			snprintf(err, errlen, "\"%s\": unix: needs an absolute path (Postfix's "
				 "unix:private/NAME is /var/spool/postfix/private/NAME)", s);
			return -1;
		}
		if (strlen(path) >= sizeof(un->sun_path) || strlen(path) >= sizeof(ep->path)) {
			snprintf(err, errlen, "\"%s\": socket path too long", s);
			return -1;
		}
		ep->family = AF_UNIX;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		strcpy(ep->path, path);
		ep->salen = sizeof(*un);
		return 0;
	}
	if (strncmp(s, "inet:", 5) == 0) {
		const char *h = s + 5, *colon, *hend;
		char host[INET6_ADDRSTRLEN + 1], *end;
		struct drac_addr a;
		unsigned long port;

		if (*h == '[') {
			hend = strchr(h, ']');
			if (!hend || hend[1] != ':')
				goto bad_inet;
			colon = hend + 1;
			h++;
		} else {
			colon = strrchr(h, ':');
			if (!colon)
				goto bad_inet;
			hend = colon;
		}
		if ((size_t)(hend - h) >= sizeof(host))
			goto bad_inet;
		memcpy(host, h, hend - h);
		host[hend - h] = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || *end || errno || port == 0 || port > 65535)
			goto bad_inet;
		if (addr_parse(host, &a) < 0)
			goto bad_inet;
		/* An IPv6 address only in brackets, as Postfix writes it. */
		if ((a.family == AF_INET6) != (s[5] == '['))
			goto bad_inet;
		if (a.family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ep->sa;

			in->sin_family = AF_INET;
			in->sin_port = htons(port);
			memcpy(&in->sin_addr, a.a, 4);
			ep->salen = sizeof(*in);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->sa;

			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			memcpy(&in6->sin6_addr, a.a, 16);
			ep->salen = sizeof(*in6);
		}
		ep->family = a.family;
		return 0;
bad_inet:
		snprintf(err, errlen, "\"%s\": expected inet:ADDRESS:PORT with a numeric address "
			 "(IPv6 in brackets: inet:[::1]:10040)", s);
		return -1;
	}
	snprintf(err, errlen, "\"%s\": expected unix:PATH or inet:ADDRESS:PORT", s);
	return -1;
}

/* ---- the request parser ---- */

static bool name_ok(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

size_t policy_parse(const char *buf, size_t len, struct policy_request *r)
{
	bool bad = false, have_req = false;
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *eq;
		size_t ll;

		if (!nl)
			return 0;
		ll = nl - line;
		pos += ll + 1;
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			r->valid = !bad && have_req;
			if (!r->valid) {
				r->has_client = false;
				memset(&r->client, 0, sizeof(r->client));
			}
			return pos;
		}
		if (bad)
			continue; /* still find the end, to stay in step */
		eq = memchr(line, '=', ll);
		if (!eq || memchr(line, '\0', ll) || !name_ok(line, eq - line)) {
			bad = true;
			continue;
		}
		size_t nl_len = eq - line, vl = ll - nl_len - 1;
		const char *v = eq + 1;

		if (nl_len == 7 && memcmp(line, "request", 7) == 0) {
			if (have_req || vl != 19 || memcmp(v, "smtpd_access_policy", 19) != 0)
				bad = true;
			have_req = true;
		} else if (nl_len == 14 && memcmp(line, "client_address", 14) == 0) {
			/* Twice is ambiguous: which one would Postfix mean? */
			if (r->has_client || addr_parse_n(v, vl, &r->client) < 0)
				bad = true;
			else
				addr_unmap(&r->client);
			r->has_client = true;
		}
	}
	return 0;
}

bool policy_mirror_granted(const struct mirror *m, const struct drac_addr *a, uint64_t now_ms)
{
	uint64_t expiry;

	return m && mirror_get(m, a, &expiry) && expiry > now_ms;
}

/* ---- the service ---- */

struct pconn {
	struct policy *p;
	int fd;
	char *in;
	size_t inlen, incap;
	char out[OUT_SIZE];
	size_t outlen;
	uint64_t since_ms;	/* accepted, or first byte of the pending request */
	uint64_t last_ms;	/* last byte read */
	bool answered;		/* at least one request answered */
	bool want_out;		/* waiting for EPOLLOUT, not reading */
	bool more;		/* the budget ran out: requests may wait in the input */
	struct pconn *prev, *next; /* least recently active first */
};

struct policy {
	struct loop *loop;
	struct policy_endpoint ep;
	char name[sizeof(((struct policy_endpoint *)0)->path) + 8 + INET6_ADDRSTRLEN];
	int lfd;
	dev_t dev;
	ino_t ino;
	policy_lookup_fn lookup;
	void *lookup_arg;
	struct pconn *head, *tail;
	struct loop_timer *sweep, *resume, *more;
	unsigned request_ms, idle_ms;
	struct policy_stats st;
};

static void lru_unlink(struct policy *p, struct pconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		p->tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_append(struct policy *p, struct pconn *c)
{
	c->prev = p->tail;
	c->next = NULL;
	if (p->tail)
		p->tail->next = c;
	else
		p->head = c;
	p->tail = c;
}

static void conn_close(struct pconn *c)
{
	struct policy *p = c->p;

	lru_unlink(p, c);
	loop_del_fd(p->loop, c->fd);
	close(c->fd);
	free(c->in);
	free(c);
	p->st.connections--;
}

/* 0, or -1 when the connection is gone (closed here). */
static int conn_flush(struct pconn *c)
{
	while (c->outlen) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out) {
				c->want_out = true;
				loop_mod_fd(c->p->loop, c->fd, EPOLLOUT);
			}
			return 0;
		}
		if (n <= 0) {
			conn_close(c);
			return -1;
		}
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
	if (c->want_out) {
		c->want_out = false;
		loop_mod_fd(c->p->loop, c->fd, EPOLLIN);
	}
	return 0;
}

static void conn_answer(struct pconn *c, bool ok)
{
	const char *a = ok ? ANS_OK : ANS_DUNNO;
	size_t n = ok ? sizeof(ANS_OK) - 1 : sizeof(ANS_DUNNO) - 1;

	memcpy(c->out + c->outlen, a, n);
	c->outlen += n;
	if (ok)
		c->p->st.ok++;
	else
		c->p->st.dunno++;
}

/* Answers every complete request in the input while there is room for
 * the answers.  0, or -1 when the connection is gone (closed here). */
static int conn_process(struct pconn *c)
{
	struct policy *p = c->p;
	struct policy_request r;
	size_t used = 0;
	unsigned budget = TURN_BUDGET;

	c->more = false;
again:
	while (budget && c->outlen + ANSWER_MAX <= sizeof(c->out) &&
	       (used = policy_parse(c->in, c->inlen, &r)) > 0) {
		budget--;
		bool ok = false;
		char buf[ADDR_STRLEN];

		p->st.requests++;
		if (!r.valid || !r.has_client)
			p->st.malformed++;
		else
			ok = p->lookup(&r.client, p->lookup_arg);
		if (r.valid && r.has_client)
			msg_debug("policy: %s %s", addr_fmt(&r.client, buf, sizeof(buf)),
				  ok ? "OK" : "DUNNO");
		conn_answer(c, ok);
		c->answered = true;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
		c->since_ms = loop_now();
	}
	if (budget && c->inlen >= POLICY_MAX_REQUEST && c->outlen + ANSWER_MAX <= sizeof(c->out)) {
		/* No end in sight: answer what smtpd would assume anyway and
		 * hang up, since the rest of the stream cannot be framed. */
		p->st.requests++;
		p->st.oversized++;
		msg_debug("policy service %s: a request over %d bytes; connection closed",
			  p->name, POLICY_MAX_REQUEST);
		conn_answer(c, false);
		if (conn_flush(c) == 0)
			conn_close(c);
		return -1;
	}
	if (conn_flush(c) < 0)
		return -1;
	/* The answers filled the output and went out: more pipelined
	 * requests may wait in the input, with no read to come for them. */
	if (used && !c->want_out && budget)
		goto again;
	if (!budget) {
		/* The rest in a later turn, after the others had theirs
		 * (1 ms: a timer due now would run again in this turn). */
		c->more = true;
		loop_timer_after(p->more, 1);
	}
	return 0;
}

static void conn_ready(int fd, uint32_t events, void *arg)
{
	struct pconn *c = arg;
	struct policy *p = c->p;
	ssize_t n;
	bool newline;

	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if (c->more && !c->want_out) {
		/* Answer what waits before reading more (the input may be
		 * full of it); the socket stays readable. */
		conn_process(c);
		return;
	}
	if (c->want_out) {
		/* Not reading until the answers are out: backpressure. */
		if (events & (EPOLLOUT | EPOLLHUP) && conn_flush(c) == 0 && !c->want_out)
			conn_process(c); /* what waited in the input meanwhile */
		return;
	}
	if (c->inlen == c->incap) {
		size_t cap = c->incap ? c->incap * 2 : IN_FIRST;
		char *b;

		if (cap > POLICY_MAX_REQUEST)
			cap = POLICY_MAX_REQUEST;
		b = realloc(c->in, cap);
		if (!b) {
			msg_err("policy service %s: out of memory for a connection", p->name);
			conn_close(c);
			return;
		}
		c->in = b;
		c->incap = cap;
	}
	/* One read per loop turn: fairness between clients. */
	n = recv(fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c); /* smtpd went away, or an error */
		return;
	}
	c->last_ms = loop_now();
	if (c->inlen == 0)
		c->since_ms = c->last_ms;
	lru_unlink(p, c);
	lru_append(p, c);
	/* Only a new newline can complete a request. */
	newline = memchr(c->in + c->inlen, '\n', n) != NULL;
	c->inlen += n;
	if (newline || c->inlen >= POLICY_MAX_REQUEST)
		conn_process(c);
}

static void policy_sweep(void *arg)
{
	struct policy *p = arg;
	uint64_t now = loop_now();

	for (struct pconn *c = p->head, *next; c; c = next) {
		uint64_t deadline;

		next = c->next;
		if (c->inlen || c->want_out || !c->answered)
			deadline = c->since_ms + p->request_ms;
		else
			deadline = c->last_ms + p->idle_ms;
		if (now >= deadline) {
			p->st.timeouts++;
			conn_close(c);
		}
	}
	loop_timer_after(p->sweep, SWEEP_MS);
}

/* Connections whose budget ran out in an earlier turn. */
static void policy_more(void *arg)
{
	struct policy *p = arg;

	for (struct pconn *c = p->head, *next; c; c = next) {
		next = c->next; /* conn_process may close c, and only c */
		if (c->more && !c->want_out)
			conn_process(c);
	}
}

static void policy_resume(void *arg)
{
	struct policy *p = arg;

	loop_mod_fd(p->loop, p->lfd, EPOLLIN);
}

static void policy_accept(int fd, uint32_t events, void *arg)
{
	struct policy *p = arg;

	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct pconn *c;

		if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && p->head) {
			/* Out of descriptors: the least recently active
			 * connection makes room, as at the cap. */
			p->st.evicted++;
			conn_close(p->head);
			cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		}
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
				/* Level-triggered: without a pause this spins. */
				msg_warn("policy service %s: cannot accept: %s", p->name,
					 strerror(errno));
				loop_mod_fd(p->loop, p->lfd, 0);
				loop_timer_after(p->resume, PAUSE_MS);
			}
			return;
		}
		if (p->st.connections >= POLICY_MAX_CONNS) {
			p->st.evicted++;
			conn_close(p->head);
		}
		c = calloc(1, sizeof(*c));
		if (!c || loop_add_fd(p->loop, cfd, EPOLLIN, conn_ready, c) < 0) {
			msg_err("policy service %s: cannot take a connection: %s", p->name,
				strerror(errno ? errno : ENOMEM));
			free(c);
			close(cfd);
			return;
		}
		c->p = p;
		c->fd = cfd;
		c->since_ms = c->last_ms = loop_now();
		lru_append(p, c);
		p->st.accepted++;
		p->st.connections++;
	}
}

/* Whether a process accepts connections on the unix socket ep names. */
static bool socket_is_live(const struct policy_endpoint *ep)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc, e;

	if (fd < 0)
		return false;
	rc = connect(fd, (const struct sockaddr *)&ep->sa, ep->salen);
	e = errno;
	close(fd);
	/* EAGAIN: a listener whose backlog is full. */
	return rc == 0 || e == EAGAIN || e == EINPROGRESS;
}

static int policy_listen(struct policy *p)
{
	struct policy_endpoint *ep = &p->ep;
	int one = 1;

	p->lfd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->lfd < 0)
		return -1;
	if (ep->family == AF_UNIX) {
		struct stat st;
		mode_t old;
		int rc;

		/* A socket left by a dracd that was killed goes; anything
		 * else at that name is not ours to remove.  Both calls act
		 * on the name itself, never through a symlink. */
		if (lstat(ep->path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				errno = ENOTSOCK; /* "not a socket": there is a file */
				return -1;
			}
			/* A socket someone still listens on (another dracd,
			 * another policy server, one of Postfix's own) is not
			 * stale: taking its name would cut its clients off. */
			if (socket_is_live(ep)) {
				errno = EADDRINUSE;
				return -1;
			}
			if (unlink(ep->path) < 0)
				return -1;
		}
		/* The mode comes from the umask at bind: no chmod by name in
		 * a directory smtpd's user can write. */
		old = umask(0111);
		rc = bind(p->lfd, (struct sockaddr *)&ep->sa, ep->salen);
		umask(old);
		if (rc < 0)
			return -1;
		if (lstat(ep->path, &st) == 0) {
			p->dev = st.st_dev;
			p->ino = st.st_ino;
		}
	} else {
		setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ep->family == AF_INET6)
			setsockopt(p->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(p->lfd, (struct sockaddr *)&ep->sa, ep->salen) < 0)
			return -1;
	}
	if (listen(p->lfd, SOMAXCONN) < 0)
		return -1;
	return loop_add_fd(p->loop, p->lfd, EPOLLIN, policy_accept, p);
}

/* smtpd believes whatever listens at the path.  In a directory anyone
 * may write (even a sticky one such as /tmp), anyone could put a socket
 * of theirs at the name while dracd is not running, answer OK to every
 * client, and keep it: dracd leaves a live socket alone. */
static bool dir_safe(const char *endpoint, const char *path)
{
	char dir[sizeof(((struct policy_endpoint *)0)->path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return true;
	slash[slash == dir ? 1 : 0] = '\0';
	if (stat(dir, &st) < 0 || !(st.st_mode & S_IWOTH))
		return true; /* a missing directory: bind says so */
	msg_err("policy service %s: refusing directory %s: writable by everyone (mode %04o); "
		"anyone could put a socket there that Postfix would believe",
		endpoint, dir, (unsigned)(st.st_mode & 07777));
	return false;
}

struct policy *policy_new(struct loop *l, const char *endpoint, policy_lookup_fn fn, void *arg)
{
	struct policy *p = calloc(1, sizeof(*p));
	char err[256];

	if (!p) {
		msg_err("policy service %s: out of memory", endpoint);
		return NULL;
	}
	p->loop = l;
	p->lfd = -1;
	p->lookup = fn;
	p->lookup_arg = arg;
	p->request_ms = POLICY_REQUEST_MS;
	p->idle_ms = POLICY_IDLE_MS;
	snprintf(p->name, sizeof(p->name), "%s", endpoint);
	if (policy_endpoint_parse(endpoint, &p->ep, err, sizeof(err)) < 0) {
		msg_err("policy service: %s", err);
		free(p);
		return NULL;
	}
	if (p->ep.family == AF_UNIX && !dir_safe(endpoint, p->ep.path)) {
		free(p);
		return NULL;
	}
	p->sweep = loop_timer_new(l, policy_sweep, p);
	p->resume = loop_timer_new(l, policy_resume, p);
	p->more = loop_timer_new(l, policy_more, p);
	if (!p->sweep || !p->resume || !p->more)
		goto bad;
	if (policy_listen(p) < 0)
		goto bad;
	loop_timer_after(p->sweep, SWEEP_MS);
	if (p->ep.family != AF_UNIX) {
		struct drac_addr a;

		addr_from_bytes(&a, p->ep.family,
				p->ep.family == AF_INET
					? (const void *)&((struct sockaddr_in *)&p->ep.sa)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)&p->ep.sa)->sin6_addr);
		if (!addr_is_loopback(&a))
			msg_warn("policy service %s: not a loopback address; whoever reaches it "
				 "learns which addresses may relay", endpoint);
		/* smtpd believes whatever answers there: while dracd is not
		 * running, a local user's process on an unprivileged port
		 * could answer OK to every client (an open relay). */
		unsigned port = ntohs(p->ep.family == AF_INET
					      ? ((struct sockaddr_in *)&p->ep.sa)->sin_port
					      : ((struct sockaddr_in6 *)&p->ep.sa)->sin6_port);

		if (port >= 1024)
			msg_warn("policy service %s: port %u can be bound by any local user "
				 "while dracd is not running, and Postfix would believe their "
				 "answers; use a port below 1024 or a unix: socket only Postfix "
				 "reaches", endpoint, port);
	}
	msg_info("policy service on %s", endpoint);
	return p;
bad:
	msg_err("cannot create policy service %s: %s", endpoint, strerror(errno));
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->ino)
		unlink(p->ep.path);
	loop_timer_free(p->sweep);
	loop_timer_free(p->resume);
	loop_timer_free(p->more);
	free(p);
	return NULL;
}

void policy_free(struct policy *p)
{
	struct stat st;

	if (!p)
		return;
	while (p->head)
		conn_close(p->head);
	loop_del_fd(p->loop, p->lfd);
	close(p->lfd);
	/* Only the socket this service made: a successor's stays. */
	if (p->ep.family == AF_UNIX && lstat(p->ep.path, &st) == 0 && st.st_dev == p->dev &&
	    st.st_ino == p->ino)
		unlink(p->ep.path);
	loop_timer_free(p->sweep);
	loop_timer_free(p->resume);
	loop_timer_free(p->more);
	free(p);
}

void policy_set_deadlines(struct policy *p, unsigned request_ms, unsigned idle_ms)
{
	p->request_ms = request_ms;
	p->idle_ms = idle_ms;
}

const struct policy_stats *policy_stats(const struct policy *p)
{
	return &p->st;
}

const char *policy_endpoint_name(const struct policy *p)
{
	return p->name;
}
