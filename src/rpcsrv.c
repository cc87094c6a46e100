/* rpcsrv.c - DRAC RPC server: UDP and TCP in the event loop, messages
 * decoded here with bounds, callers checked against dracd.allow */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <rpc/rpc.h>

#include "xdr.h"
#include "allow.h"
#include "dracauth.h"
#include "log.h"
#include "peeruid.h"
#include "rpcsrv.h"

/* RFC 5531 numbers, named here so they cannot clash with libtirpc's. */
enum {
	RW_CALL = 0, RW_REPLY = 1,
	RW_ACCEPTED = 0, RW_DENIED = 1,
	RW_SUCCESS = 0, RW_PROG_UNAVAIL = 1, RW_PROG_MISMATCH = 2,
	RW_PROC_UNAVAIL = 3, RW_GARBAGE_ARGS = 4,
	RW_RPC_MISMATCH = 0,
	RW_MAX_AUTH = 400,
};

#define RPC_REC_MAX	1024	/* largest call: header, 2 x 400 auth, 64 args */
#define RPC_TCP_IN	4096
#define RPC_TCP_OUT	4096
#define RPC_MAX_CONNS	64
#define RPC_MAX_PER_SOURCE 16	/* a quarter: four hosts can never be crowded out */
#define RPC_ACCEPT_BATCH 64
#define RPC_BACKLOG	1024
#define RPC_IDLE_MS	60000
#define RPC_UDP_BATCH	64
#define RPC_LOG_PER_SEC	10

/* Where a call came from, for the local_users check. */
struct rpcorigin {
	int proto;			/* IPPROTO_UDP or IPPROTO_TCP */
	struct sockaddr_storage local, peer;
	bool on_lo;			/* UDP: arrived over the loopback interface */
};

struct rpcconn {
	struct rpcsrv *s;
	int fd;
	struct drac_addr peer;
	struct rpcorigin origin;
	uint64_t last;
	size_t inlen, outlen;
	struct rpcconn *next, **pprev;
	uint8_t in[RPC_TCP_IN];
	uint8_t out[RPC_TCP_OUT];
};

struct rpcsrv {
	struct loop *loop;
	char *allow_path;
	struct allowlist *allow;
	grant_fn grant;
	void *grant_arg;
	int udp[2], tcp[2];	/* [0] IPv4, [1] IPv6; -1 when absent */
	uint16_t port;
	unsigned lo_ifindex;
	bool registered;
	struct rpcconn *conns;
	unsigned nconns;
	struct loop_timer *idle;
	struct rpcsrv_stats st;
	uint64_t log_sec;
	unsigned log_n;
	uint64_t log_lost;
};


/* opaque_auth: flavor, length <= 400, body padded to 4.  Returns bytes
 * used or 0 when it does not fit. */
static size_t auth_skip(const uint8_t *p, size_t len)
{
	uint32_t n;

	if (len < 8)
		return 0;
	n = get32(p + 4);
	if (n > RW_MAX_AUTH)
		return 0;
	n = (n + 3) & ~3u;
	if (len - 8 < n)
		return 0;
	return 8 + n;
}

int rpc_call_decode(const uint8_t *buf, size_t len, struct rpc_call *c)
{
	size_t pos, n;

	memset(c, 0, sizeof(*c));
	if (len < 8)
		return RPC_DROP;
	c->xid = get32(buf);
	if (get32(buf + 4) != RW_CALL)
		return RPC_DROP;
	/* Shorter than a call header: no answer at all, so a spoofed
	 * source can never get back more bytes than it sent. */
	if (len < 40)
		return RPC_DROP;
	if (get32(buf + 8) != 2)
		return RPC_BAD_RPCVERS;
	c->prog = get32(buf + 12);
	c->vers = get32(buf + 16);
	c->proc = get32(buf + 20);
	pos = 24;
	/* Credentials and verifier are not checked (rpc.dracd trusted the
	 * source address only), but they must be well-formed. */
	if (!(n = auth_skip(buf + pos, len - pos)))
		return RPC_DROP;
	pos += n;
	if (!(n = auth_skip(buf + pos, len - pos)))
		return RPC_DROP;
	pos += n;
	if (c->prog != DRACPROG)
		return RPC_BAD_PROG;
	if (c->vers != DRACVERS && c->vers != DRACVERS6)
		return RPC_BAD_VERS;
	if (c->proc == DRACPROC_NULL)
		return RPC_CALL_OK;
	if (c->proc != DRACPROC_ADD)
		return RPC_BAD_PROC;
	len -= pos;
	buf += pos;
	if (c->vers == DRACVERS) {
		/* The uint's big-endian bytes are a.b.c.d (see dracauth.h). */
		if (len != 4)
			return RPC_GARBAGE;
		addr_from_bytes(&c->addr, AF_INET, buf);
		return RPC_CALL_OK;
	}
	if (len != 64)
		return RPC_GARBAGE;
	c->addr.family = AF_INET6;
	for (int i = 0; i < 16; i++) {
		uint32_t v = get32(buf + 4 * i);

		/* An XDR char is an int: 0..255 from unsigned-char clients,
		 * -128..-1 from signed ones.  Anything else is not a byte. */
		if (v > 0xff && v < 0xffffff80u) {
			memset(&c->addr, 0, sizeof(c->addr));
			return RPC_GARBAGE;
		}
		c->addr.a[i] = v & 0xff;
	}
	addr_unmap(&c->addr);
	return RPC_CALL_OK;
}

size_t rpc_reply_encode(uint8_t *buf, size_t len, const struct rpc_call *c,
			int verdict, uint32_t result)
{
	size_t n = 0;

	if (verdict == RPC_DROP || len < RPC_REPLY_MAX)
		return 0;
	put32(buf, c->xid);
	put32(buf + 4, RW_REPLY);
	if (verdict == RPC_BAD_RPCVERS) {
		put32(buf + 8, RW_DENIED);
		put32(buf + 12, RW_RPC_MISMATCH);
		put32(buf + 16, 2);
		put32(buf + 20, 2);
		return 24;
	}
	put32(buf + 8, RW_ACCEPTED);
	put32(buf + 12, 0);	/* verifier AUTH_NONE, empty */
	put32(buf + 16, 0);
	n = 20;
	switch (verdict) {
	case RPC_CALL_OK:
		put32(buf + n, RW_SUCCESS);
		n += 4;
		if (c->proc == DRACPROC_ADD) {
			put32(buf + n, result);
			n += 4;
		}
		break;
	case RPC_BAD_PROG:
		put32(buf + n, RW_PROG_UNAVAIL);
		n += 4;
		break;
	case RPC_BAD_VERS:
		put32(buf + n, RW_PROG_MISMATCH);
		put32(buf + n + 4, DRACVERS);
		put32(buf + n + 8, DRACVERS6);
		n += 12;
		break;
	case RPC_BAD_PROC:
		put32(buf + n, RW_PROC_UNAVAIL);
		n += 4;
		break;
	case RPC_GARBAGE:
		put32(buf + n, RW_GARBAGE_ARGS);
		n += 4;
		break;
	default:
		return 0;
	}
	return n;
}

/* At most RPC_LOG_PER_SEC lines a second about callers, so a flood of
 * refused or broken calls cannot flood the log. */
static void rpcsrv_log(struct rpcsrv *s, int warn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rpcsrv_log(struct rpcsrv *s, int warn, const char *fmt, ...)
{
	uint64_t sec = loop_now() / 1000;
	char line[300];
	va_list ap;

	if (sec != s->log_sec) {
		if (s->log_lost)
			msg_warn("rpc: %llu more messages about callers suppressed",
				 (unsigned long long)s->log_lost);
		s->log_sec = sec;
		s->log_n = 0;
		s->log_lost = 0;
	}
	if (s->log_n >= RPC_LOG_PER_SEC) {
		s->log_lost++;
		return;
	}
	s->log_n++;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (warn)
		msg_warn("%s", line);
	else
		msg_info("%s", line);
}

/* Addresses that name no single host can never log in: IPv4's 0/8
 * ("this host", only a booting host's source), multicast, class E and
 * broadcast; IPv6 multicast and ::/64, which holds ::, ::1, the
 * deprecated IPv4-compatible ::a.b.c.d and the translated ::ffff:0:a.b.c.d
 * (mapped ones were unmapped by now).  No real client has them. */
static bool addr_usable(const struct drac_addr *a)
{
	static const uint8_t zero[8];

	if (a->family == AF_INET)
		return a->a[0] != 0 && a->a[0] < 224;
	return a->a[0] != 0xff && memcmp(a->a, zero, 8) != 0;
}

/* A caller on this host passes when dracd.allow names no local_users or
 * its socket's owner is one of them.  A caller is on this host when its
 * address is one of the host's (asked first, so a remote caller's port
 * can never be taken for a local socket's).  *uid: that owner, or -1. */
static bool local_user_ok(const struct rpcsrv *s, const struct rpcorigin *o,
			  const struct drac_addr *peer, long *uid)
{
	uint32_t u;

	*uid = -1;
	if (!allow_has_local_users(s->allow))
		return true;
	if (!o->on_lo && !addr_is_loopback(peer) && peeruid_is_local(&o->peer) == 0)
		return true;	/* another host */
	/* Not found: a sender that closed its UDP socket at once; an
	 * error: doubt.  Neither grants. */
	if (peeruid_lookup(o->proto, &o->local, &o->peer, &u) != 1)
		return false;
	*uid = u;
	return allow_local_user(s->allow, u);
}

/* One message in, one reply out (0: none). */
static size_t rpcsrv_dispatch(struct rpcsrv *s, const uint8_t *in, size_t len,
			      const struct drac_addr *peer, const struct rpcorigin *o,
			      uint8_t *out, size_t outlen)
{
	long uid;
	struct rpc_call c;
	int v = rpc_call_decode(in, len, &c);
	uint32_t result = ADD_SUCCESS;
	char pb[ADDR_STRLEN], ab[ADDR_STRLEN];
	struct drac_addr caller = *peer;

	s->st.calls++;
	if (v != RPC_CALL_OK) {
		s->st.malformed++;
		if (v == RPC_DROP || v == RPC_GARBAGE)
			rpcsrv_log(s, 1, "rpc: %s %u-byte message from %s",
				   v == RPC_DROP ? "dropped a malformed" : "bad arguments in a",
				   (unsigned)len, addr_fmt(&caller, pb, sizeof(pb)));
		return rpc_reply_encode(out, outlen, &c, v, 0);
	}
	if (c.proc == DRACPROC_ADD) {
		addr_fmt(&caller, pb, sizeof(pb));
		addr_fmt(&c.addr, ab, sizeof(ab));
		if (!allow_check(s->allow, &caller)) {
			s->st.refused++;
			result = ADD_PERM;
			rpcsrv_log(s, 1, "rpc: refused to add %s for %s: caller not in %s",
				   ab, pb, s->allow_path);
		} else if (!local_user_ok(s, o, peer, &uid)) {
			s->st.refused++;
			result = ADD_PERM;
			rpcsrv_log(s, 1, "rpc: refused to add %s for %s: local user %ld is not in "
				   "%s's local_users", ab, pb, uid, s->allow_path);
		} else if (!addr_usable(&c.addr)) {
			s->st.ignored++;
			result = ADD_UNKOWN;
			rpcsrv_log(s, 1, "rpc: %s asked to add %s, which is no host address", pb, ab);
		} else if (s->grant(&c.addr, SRC_RPC, s->grant_arg) == 0) {
			s->st.granted++;
			msg_debug("rpc: %s added %s", pb, ab);
		} else {
			s->st.ignored++;
			msg_debug("rpc: %s asked to add %s: declined by policy", pb, ab);
		}
	}
	return rpc_reply_encode(out, outlen, &c, RPC_CALL_OK, result);
}

static void sa_to_addr(const struct sockaddr_storage *ss, struct drac_addr *a)
{
	if (ss->ss_family == AF_INET)
		addr_from_bytes(a, AF_INET, &((const struct sockaddr_in *)ss)->sin_addr);
	else
		addr_from_bytes(a, AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* The IPv6 sockets are V6ONLY: real IPv4 callers arrive on the IPv4 ones,
 * so a mapped source (::ffff:127.0.0.1) on an IPv6 socket is forged.
 * Linux drops forged 127.0.0.1 and ::1 sources, but not these; unmapped
 * they would pass as loopback.  True when refused (counted, logged). */
static bool peer_forged(struct rpcsrv *s, const struct drac_addr *peer, const char *what)
{
	char pb[ADDR_STRLEN];

	if (!addr_is_v4mapped(peer))
		return false;
	s->st.forged++;
	rpcsrv_log(s, 1, "rpc: refused a %s from %s: an IPv4-mapped source on an IPv6 "
		   "socket is forged", what, addr_fmt(peer, pb, sizeof(pb)));
	return true;
}

/* ---- UDP ---- */

/* A datagram sent to a broadcast or multicast address, or from an
 * address that names no host, gets neither an answer nor a grant: every
 * dracd on the link would answer one forged call (a reflector that
 * multiplies), and an answer to 0.0.0.0 goes to this host's own ports.
 * DRAC clients call one server at its unicast address.  For IPv4 the
 * kernel's answer address (ipi_spec_dst) equals the destination only
 * when that is a local unicast address. */
static bool udp_unicast(struct msghdr *rm, const struct drac_addr *peer)
{
	static const uint8_t zero[16];
	struct cmsghdr *cm;

	if (memcmp(peer->a, zero, addr_len(peer)) == 0 ||
	    peer->a[0] >= (peer->family == AF_INET ? 224 : 0xff))
		return false;	/* 0.0.0.0, ::, multicast, broadcast */
	for (cm = CMSG_FIRSTHDR(rm); cm; cm = CMSG_NXTHDR(rm, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return !IN_MULTICAST(ntohl(pi.ipi_addr.s_addr)) &&
			       pi.ipi_addr.s_addr != htonl(INADDR_BROADCAST) &&
			       pi.ipi_spec_dst.s_addr == pi.ipi_addr.s_addr;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			return !IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr);
		}
	}
	return true;
}

/* The datagram's two ends and whether it came over loopback. */
static void udp_origin(const struct rpcsrv *s, struct msghdr *rm,
		       const struct sockaddr_storage *peer, struct rpcorigin *o)
{
	struct cmsghdr *cm;

	memset(o, 0, sizeof(*o));
	o->proto = IPPROTO_UDP;
	o->peer = *peer;
	o->local.ss_family = peer->ss_family;
	for (cm = CMSG_FIRSTHDR(rm); cm; cm = CMSG_NXTHDR(rm, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			struct sockaddr_in *l = (struct sockaddr_in *)&o->local;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			l->sin_addr = pi.ipi_addr;
			l->sin_port = htons(s->port);
			o->on_lo = (unsigned)pi.ipi_ifindex == s->lo_ifindex;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *l = (struct sockaddr_in6 *)&o->local;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			l->sin6_addr = pi.ipi6_addr;
			l->sin6_port = htons(s->port);
			o->on_lo = pi.ipi6_ifindex == s->lo_ifindex;
		}
	}
}

/* Build the reply's source address from the call's destination, so a
 * client on a multi-homed server gets its answer from the address it
 * asked (a connected client socket drops anything else). */
static size_t udp_reply_ctl(struct msghdr *rm, uint8_t *ctl, size_t len)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(rm); cm; cm = CMSG_NXTHDR(rm, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    len >= CMSG_SPACE(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			struct cmsghdr *o = (struct cmsghdr *)ctl;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			pi.ipi_ifindex = 0;
			pi.ipi_addr.s_addr = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		    len >= CMSG_SPACE(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			struct cmsghdr *o = (struct cmsghdr *)ctl;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			if (IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr))
				return 0;
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
	}
	return 0;
}

static void rpcsrv_udp_ready(int fd, uint32_t events, void *arg)
{
	struct rpcsrv *s = arg;

	for (int i = 0; i < RPC_UDP_BATCH; i++) {
		uint8_t in[RPC_REC_MAX + 1], out[RPC_REPLY_MAX];
		union {
			struct cmsghdr h;
			uint8_t b[256];
		} rc, sc;
		struct sockaddr_storage ss;
		struct iovec iov = { in, sizeof(in) }, oiov;
		struct msghdr rm = {
			.msg_name = &ss, .msg_namelen = sizeof(ss),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = rc.b, .msg_controllen = sizeof(rc.b),
		}, sm;
		struct drac_addr peer;
		struct rpcorigin o;
		ssize_t r = recvmsg(fd, &rm, MSG_DONTWAIT);
		size_t n;

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNREFUSED) {
				s->st.errors++;
				rpcsrv_log(s, 1, "rpc: udp receive: %s", strerror(errno));
			}
			return;
		}
		if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
			continue;
		sa_to_addr(&ss, &peer);
		if (peer_forged(s, &peer, "datagram"))
			continue;	/* no reply: it would go to the forged address */
		if (!udp_unicast(&rm, &peer)) {
			char pb[ADDR_STRLEN];

			s->st.not_unicast++;
			rpcsrv_log(s, 1, "rpc: dropped a datagram from %s: to a broadcast or "
				   "multicast address, or from no host",
				   addr_fmt(&peer, pb, sizeof(pb)));
			continue;
		}
		if (rm.msg_flags & MSG_TRUNC)
			r = sizeof(in); /* longer than any DRAC call: decode refuses */
		udp_origin(s, &rm, &ss, &o);
		n = rpcsrv_dispatch(s, in, r, &peer, &o, out, sizeof(out));
		if (!n)
			continue;
		oiov.iov_base = out;
		oiov.iov_len = n;
		memset(&sm, 0, sizeof(sm));
		sm.msg_name = &ss;
		sm.msg_namelen = rm.msg_namelen;
		sm.msg_iov = &oiov;
		sm.msg_iovlen = 1;
		memset(sc.b, 0, sizeof(sc.b));
		sm.msg_control = sc.b;
		sm.msg_controllen = udp_reply_ctl(&rm, sc.b, sizeof(sc.b));
		if (!sm.msg_controllen)
			sm.msg_control = NULL;
		if (sendmsg(fd, &sm, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			s->st.errors++;
			rpcsrv_log(s, 1, "rpc: udp reply to %s: %s",
				   addr_fmt(&peer, (char[ADDR_STRLEN]){ 0 }, ADDR_STRLEN),
				   strerror(errno));
		}
	}
}

/* ---- TCP: record marking (RFC 5531 section 11), bounded buffers ---- */

static void conn_close(struct rpcconn *c)
{
	struct rpcsrv *s = c->s;

	loop_del_fd(s->loop, c->fd);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	s->nconns--;
	free(c);
}

/* Send what we can; 0 or -1 when the connection is dead. */
static int conn_flush(struct rpcconn *c)
{
	while (c->outlen) {
		ssize_t w = send(c->fd, c->out, c->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -1;
		memmove(c->out, c->out + w, c->outlen - w);
		c->outlen -= w;
	}
	return 0;
}

/* Answer every complete record in c->in while there is room for the
 * answers.  -1 on a protocol violation. */
static int conn_records(struct rpcconn *c)
{
	struct rpcsrv *s = c->s;
	size_t pos = 0;

	for (;;) {
		uint8_t rec[RPC_REC_MAX];
		size_t rlen = 0, p = pos, n;
		bool last = false;

		if (sizeof(c->out) - c->outlen < RPC_REPLY_MAX + 4)
			break;	/* the peer does not read: wait for room */
		while (!last) {
			uint32_t h, flen;

			if (c->inlen - p < 4)
				goto incomplete;
			h = get32(c->in + p);
			last = h >> 31;
			flen = h & 0x7fffffff;
			if (flen > RPC_REC_MAX - rlen) {
				s->st.calls++;
				s->st.malformed++;
				rpcsrv_log(s, 1, "rpc: tcp record over %d bytes from %s",
					   RPC_REC_MAX, addr_fmt(&c->peer, (char[ADDR_STRLEN]){ 0 },
								 ADDR_STRLEN));
				return -1;
			}
			if (c->inlen - p - 4 < flen)
				goto incomplete;
			memcpy(rec + rlen, c->in + p + 4, flen);
			rlen += flen;
			p += 4 + flen;
		}
		pos = p;
		n = rpcsrv_dispatch(s, rec, rlen, &c->peer, &c->origin, c->out + c->outlen + 4,
				    sizeof(c->out) - c->outlen - 4);
		if (n) {
			put32(c->out + c->outlen, 0x80000000u | n);
			c->outlen += 4 + n;
		}
	}
incomplete:
	memmove(c->in, c->in + pos, c->inlen - pos);
	c->inlen -= pos;
	/* A full buffer without one whole record can never make progress
	 * (many empty fragments): a protocol violation. */
	if (c->inlen == sizeof(c->in) && sizeof(c->out) - c->outlen >= RPC_REPLY_MAX + 4) {
		s->st.malformed++;
		return -1;
	}
	return 0;
}

static void conn_update(struct rpcconn *c)
{
	uint32_t ev = 0;

	if (c->inlen < sizeof(c->in) && sizeof(c->out) - c->outlen >= RPC_REPLY_MAX + 4)
		ev |= EPOLLIN;
	if (c->outlen)
		ev |= EPOLLOUT;
	loop_mod_fd(c->s->loop, c->fd, ev);
}

static void rpcsrv_conn_ready(int fd, uint32_t events, void *arg)
{
	struct rpcconn *c = arg;

	c->last = loop_now();
	if (events & EPOLLOUT) {
		if (conn_flush(c) < 0)
			goto dead;
		if (conn_records(c) < 0)
			goto dead;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			ssize_t r;

			if (c->inlen == sizeof(c->in))
				break;
			r = recv(fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (r <= 0)
				goto dead;	/* EOF or reset: nothing more to answer */
			c->inlen += r;
			if (conn_records(c) < 0)
				goto dead;
		}
	}
	/* Calls read while the answers piled up wait in c->in; once sent
	 * answers make room, answer them, or a full c->in with an empty
	 * c->out would watch for nothing and stall until the idle close
	 * (a forwarder's burst of pipelined calls did). */
	for (;;) {
		size_t before = c->inlen;

		if (conn_flush(c) < 0 || conn_records(c) < 0)
			goto dead;
		if (c->inlen == before)
			break;
	}
	if (conn_flush(c) < 0)
		goto dead;
	conn_update(c);
	return;
dead:
	conn_close(c);
}

/* One source for the connection caps: an IPv4 address, or an IPv6 /64,
 * since one host holds a whole /64 and could otherwise use a fresh
 * address for every connection and never reach its share. */
static bool conn_same_source(const struct drac_addr *a, const struct drac_addr *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->a, b->a, a->family == AF_INET6 ? 8 : addr_len(a)) == 0;
}

/* Room for one more connection from peer.  A source over its share loses
 * its own idlest connection; a full table loses the idlest connection of
 * the source holding the most, so one busy (or flooding) allowed host
 * never pushes another host's connection out. */
static void conn_make_room(struct rpcsrv *s, const struct drac_addr *peer)
{
	struct rpcconn *c, *old = NULL, *mine = NULL;
	unsigned nmine = 0, most = 0;
	char pb[ADDR_STRLEN];

	for (c = s->conns; c; c = c->next) {
		if (!conn_same_source(&c->peer, peer))
			continue;
		nmine++;
		if (!mine || c->last < mine->last)
			mine = c;
	}
	if (nmine >= RPC_MAX_PER_SOURCE) {
		old = mine;
	} else if (s->nconns >= RPC_MAX_CONNS) {
		for (c = s->conns; c; c = c->next) {
			unsigned n = 0;

			for (struct rpcconn *d = s->conns; d; d = d->next)
				n += conn_same_source(&d->peer, &c->peer);
			if (n > most || (n == most && c->last < old->last)) {
				most = n;
				old = c;
			}
		}
	}
	if (!old)
		return;
	s->st.evicted++;
	rpcsrv_log(s, 1, "rpc: tcp connections full: closing the idlest of %s",
		   addr_fmt(&old->peer, pb, sizeof(pb)));
	conn_close(old);
}

static void rpcsrv_accept(int fd, uint32_t events, void *arg)
{
	struct rpcsrv *s = arg;

	for (int i = 0; i < RPC_ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct drac_addr peer;
		struct rpcconn *c;
		char pb[ADDR_STRLEN];
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED) {
				s->st.errors++;
				rpcsrv_log(s, 1, "rpc: accept: %s", strerror(errno));
			}
			return;
		}
		sa_to_addr(&ss, &peer);
		if (peer_forged(s, &peer, "connection")) {
			close(cfd);
			continue;
		}
		/* A caller that may not add anything gets no connection, so
		 * a refused host's flood holds no slot (the null procedure
		 * still answers it over UDP). */
		if (!allow_check(s->allow, &peer)) {
			s->st.conn_refused++;
			rpcsrv_log(s, 1, "rpc: refused a tcp connection from %s: not in %s",
				   addr_fmt(&peer, pb, sizeof(pb)), s->allow_path);
			close(cfd);
			continue;
		}
		conn_make_room(s, &peer);
		if (!(c = calloc(1, sizeof(*c)))) {
			s->st.errors++;
			close(cfd);
			continue;
		}
		c->s = s;
		c->fd = cfd;
		c->last = loop_now();
		c->peer = peer;
		c->origin.proto = IPPROTO_TCP;
		c->origin.peer = ss;
		sl = sizeof(c->origin.local);
		if (getsockname(cfd, (struct sockaddr *)&c->origin.local, &sl) < 0)
			c->origin.local.ss_family = AF_UNSPEC;	/* lookup fails: no grant */
		if (loop_add_fd(s->loop, cfd, EPOLLIN, rpcsrv_conn_ready, c) < 0) {
			s->st.errors++;
			close(cfd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (c->next)
			c->next->pprev = &c->next;
		c->pprev = &s->conns;
		s->conns = c;
		s->nconns++;
	}
}

static void rpcsrv_idle(void *arg)
{
	struct rpcsrv *s = arg;
	uint64_t now = loop_now();
	struct rpcconn *c, *n;

	for (c = s->conns; c; c = n) {
		n = c->next;
		if (now - c->last > RPC_IDLE_MS)
			conn_close(c);
	}
	loop_timer_after(s->idle, RPC_IDLE_MS / 4);
}

/* ---- sockets and rpcbind ---- */

static int sock_bind(int family, int type, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		/* Separate IPv4 and IPv6 sockets, so each can answer from the
		 * address it was asked on (IP_PKTINFO / IPV6_PKTINFO). */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
		if (type == SOCK_DGRAM)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
		if (type == SOCK_DGRAM)
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	}
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, RPC_BACKLOG) < 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void rpcsrv_close_socks(struct rpcsrv *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->udp[i] >= 0) {
			loop_del_fd(s->loop, s->udp[i]);
			close(s->udp[i]);
		}
		if (s->tcp[i] >= 0) {
			loop_del_fd(s->loop, s->tcp[i]);
			close(s->tcp[i]);
		}
		s->udp[i] = s->tcp[i] = -1;
	}
}

/* Every socket on one port, so rpcbind's one answer per transport (and
 * portmap's port-only answer) is right for either family.  IPv6 first:
 * with port 0 it picks a port that IPv4 then must share.  A host without
 * IPv6 runs IPv4 only. */
static int rpcsrv_open_socks(struct rpcsrv *s, uint16_t want, bool udp)
{
	static const struct { int family, type; } order[4] = {
		{ AF_INET6, SOCK_DGRAM }, { AF_INET, SOCK_DGRAM },
		{ AF_INET, SOCK_STREAM }, { AF_INET6, SOCK_STREAM },
	};

	for (int tries = 0; tries < 20; tries++) {
		uint16_t port = want;
		bool v6 = true;
		int e = 0, k;

		for (k = 0; k < 4; k++) {
			bool six = order[k].family == AF_INET6;
			int *fd = order[k].type == SOCK_DGRAM ? &s->udp[six] : &s->tcp[six];

			if ((order[k].type == SOCK_DGRAM && !udp) || (six && !v6))
				continue;
			*fd = sock_bind(order[k].family, order[k].type, port);
			if (*fd < 0) {
				e = errno;
				if (six && e != EADDRINUSE) {
					/* IPv6 absent or half-present: IPv4 only. */
					if (s->udp[1] >= 0)
						close(s->udp[1]);
					s->udp[1] = -1;
					v6 = false;
					continue;
				}
				break;
			}
			if (!port)
				port = sock_port(*fd);
		}
		if (k == 4) {
			s->port = port;
			return 0;
		}
		rpcsrv_close_socks(s);
		if (e != EADDRINUSE || want) {
			msg_err("rpc: cannot open the RPC sockets on port %u: %s", want,
				strerror(e));
			return -1;
		}
	}
	msg_err("rpc: no free port for every RPC socket together");
	return -1;
}

/* netid for rpcbind, and the socket that serves it */
static const char *const rpc_netids[4] = { "udp", "tcp", "udp6", "tcp6" };

static int rpcsrv_netid_fd(const struct rpcsrv *s, int i)
{
	return i & 1 ? s->tcp[i >> 1] : s->udp[i >> 1];
}

static void rpcsrv_unregister(struct rpcsrv *s)
{
	if (!s->registered)
		return;
	rpcb_unset(DRACPROG, DRACVERS, NULL);
	rpcb_unset(DRACPROG, DRACVERS6, NULL);
	s->registered = false;
}

static int rpcsrv_register(struct rpcsrv *s)
{
	/* A stale registration (a daemon that died) would make rpcb_set
	 * fail; rpc.dracd cleared it the same way. */
	rpcb_unset(DRACPROG, DRACVERS, NULL);
	rpcb_unset(DRACPROG, DRACVERS6, NULL);
	s->registered = true;
	for (int i = 0; i < 4; i++) {
		struct netconfig *nc;
		struct sockaddr_storage ss;
		struct netbuf nb;

		/* Only what is served: without UDP sockets no udp netid, so
		 * no client is told to call over UDP. */
		if (rpcsrv_netid_fd(s, i) < 0)
			continue;
		nc = getnetconfigent(rpc_netids[i]);
		if (!nc) {
			msg_err("rpc: netid %s missing from /etc/netconfig", rpc_netids[i]);
			goto bad;
		}
		memset(&ss, 0, sizeof(ss));
		if (i < 2) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons(s->port);
			nb.len = nb.maxlen = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(s->port);
			nb.len = nb.maxlen = sizeof(*s6);
		}
		nb.buf = &ss;
		for (unsigned v = DRACVERS; v <= DRACVERS6; v++) {
			if (!rpcb_set(DRACPROG, v, nc, &nb)) {
				msg_err("rpc: cannot register program %d version %u over %s "
					"with rpcbind (is rpcbind running?)", DRACPROG, v,
					rpc_netids[i]);
				freenetconfigent(nc);
				goto bad;
			}
		}
		freenetconfigent(nc);
	}
	return 0;
bad:
	rpcsrv_unregister(s);
	return -1;
}

/* Is anything listening on rpcbind's local socket?  rpcb_set() without
 * rpcbind falls back to network transports and may wait for long. */
static bool rpcbind_alive(void)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	const char *paths[] = { "/run/rpcbind.sock", "/var/run/rpcbind.sock" };

	for (size_t i = 0; i < 2; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		if (fd < 0)
			return false;
		snprintf(su.sun_path, sizeof(su.sun_path), "%s", paths[i]);
		ok = connect(fd, (struct sockaddr *)&su, sizeof(su)) == 0;
		close(fd);
		if (ok)
			return true;
	}
	return false;
}

struct rpcsrv *rpcsrv_new_opts(struct loop *l, const struct rpcsrv_opts *o,
			       grant_fn grant, void *grant_arg)
{
	struct rpcsrv *s = calloc(1, sizeof(*s));
	char err[512];

	if (!s) {
		msg_err("rpc: out of memory");
		return NULL;
	}
	s->loop = l;
	s->grant = grant;
	s->grant_arg = grant_arg;
	s->udp[0] = s->udp[1] = s->tcp[0] = s->tcp[1] = -1;
	s->lo_ifindex = if_nametoindex("lo");
	s->allow_path = strdup(o->allow_path ? o->allow_path : ALLOW_PATH);
	if (!s->allow_path)
		goto bad;
	if (allow_load(s->allow_path, &s->allow, err, sizeof(err)) < 0) {
		msg_err("rpc: %s", err);
		goto bad;
	}
	if (allow_defaulted(s->allow))
		msg_info("rpc: %s missing: only loopback callers may add addresses",
			 s->allow_path);
	if (rpcsrv_open_socks(s, o->port, !o->no_udp) < 0)
		goto bad;
	for (int i = 0; i < 2; i++) {
		if ((s->udp[i] >= 0 && loop_add_fd(l, s->udp[i], EPOLLIN, rpcsrv_udp_ready, s) < 0) ||
		    (s->tcp[i] >= 0 && loop_add_fd(l, s->tcp[i], EPOLLIN, rpcsrv_accept, s) < 0)) {
			msg_err("rpc: cannot watch the RPC sockets: %s", strerror(errno));
			goto bad;
		}
	}
	s->idle = loop_timer_new(l, rpcsrv_idle, s);
	if (!s->idle)
		goto bad;
	loop_timer_after(s->idle, RPC_IDLE_MS / 4);
	if (!o->no_rpcbind) {
		if (!rpcbind_alive()) {
			msg_err("rpc: rpcbind is not running (no /run/rpcbind.sock): "
				"cannot register program %d", DRACPROG);
			goto bad;
		}
		if (rpcsrv_register(s) < 0)
			goto bad;
	}
	msg_info("rpc: DRAC program %d versions 1 and 2 on port %u (%s%s)%s",
		 DRACPROG, s->port, o->no_udp ? "tcp only" : "udp, tcp",
		 s->tcp[1] >= 0 ? ", IPv4 and IPv6" : ", IPv4 only",
		 o->no_rpcbind ? ", not registered" : "");
	return s;
bad:
	rpcsrv_free(s);
	return NULL;
}

struct rpcsrv *rpcsrv_new(struct loop *l, const char *allow_path, grant_fn grant, void *grant_arg)
{
	struct rpcsrv_opts o = { .allow_path = allow_path };

	return rpcsrv_new_opts(l, &o, grant, grant_arg);
}

void rpcsrv_free(struct rpcsrv *s)
{
	if (!s)
		return;
	rpcsrv_unregister(s);
	while (s->conns)
		conn_close(s->conns);
	rpcsrv_close_socks(s);
	loop_timer_free(s->idle);
	allow_free(s->allow);
	free(s->allow_path);
	free(s);
}

int rpcsrv_reload(struct rpcsrv *s)
{
	struct allowlist *n;
	char err[512];

	if (allow_load(s->allow_path, &n, err, sizeof(err)) < 0) {
		msg_err("rpc: %s; keeping the previous list", err);
		return -1;
	}
	allow_free(s->allow);
	s->allow = n;
	msg_info("rpc: %s: %zu entries%s", s->allow_path, allow_count(n),
		 allow_defaulted(n) ? " (file missing: loopback only)" : "");
	return 0;
}

const struct rpcsrv_stats *rpcsrv_stats(const struct rpcsrv *s)
{
	return &s->st;
}

uint16_t rpcsrv_port(const struct rpcsrv *s)
{
	return s->port;
}
