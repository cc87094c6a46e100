/* peeruid.c - the owner of a local RPC caller's socket, asked of the
 * kernel with one sock_diag request (what ss(8) shows as uid) */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "peeruid.h"

static void id_set(const struct sockaddr_storage *ss, __be16 *port, __be32 *addr)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		*port = s4->sin_port;
		memcpy(addr, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		*port = s6->sin6_port;
		memcpy(addr, &s6->sin6_addr, 16);
	}
}

int peeruid_lookup(int proto, const struct sockaddr_storage *local,
		   const struct sockaddr_storage *peer, uint32_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		uint8_t b[1024];
	} ans;
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct timeval tv = { 1, 0 };
	ssize_t n;
	int fd, rc = -1;

	if (local->ss_family != peer->ss_family ||
	    (peer->ss_family != AF_INET && peer->ss_family != AF_INET6)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = 1;
	req.r.sdiag_family = peer->ss_family;
	req.r.sdiag_protocol = proto;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	/* TCP looks up the socket whose own end is src; UDP (swapped "for
	 * historical reasons", says the kernel) the one whose own end is dst. */
	if (proto == IPPROTO_TCP) {
		id_set(peer, &req.r.id.idiag_sport, req.r.id.idiag_src);
		id_set(local, &req.r.id.idiag_dport, req.r.id.idiag_dst);
	} else {
		id_set(local, &req.r.id.idiag_sport, req.r.id.idiag_src);
		id_set(peer, &req.r.id.idiag_dport, req.r.id.idiag_dst);
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		goto out;
	n = recv(fd, ans.b, sizeof(ans.b), 0);
	if (n < (ssize_t)sizeof(struct nlmsghdr) || !NLMSG_OK(&ans.nlh, (size_t)n))
		goto out;
	if (ans.nlh.nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(&ans.nlh);

		if (ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			goto out;
		if (e->error == -ENOENT) {
			rc = 0;
			goto out;
		}
		errno = -e->error;
		goto out;
	}
	if (ans.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		goto out;
	{
		const struct inet_diag_msg *m = NLMSG_DATA(&ans.nlh);

		/* A TIME_WAIT socket has no owner (reported as uid 0):
		 * treat it as not found, never as root. */
		if (m->idiag_state == TCP_TIME_WAIT) {
			rc = 0;
			goto out;
		}
		*uid = m->idiag_uid;
		rc = 1;
	}
out:
	close(fd);
	return rc;
}

int peeruid_is_local(const struct sockaddr_storage *peer)
{
	struct sockaddr_storage ss = *peer;
	socklen_t sl;
	int fd, rc;

	if (ss.ss_family == AF_INET) {
		((struct sockaddr_in *)&ss)->sin_port = 0;
		sl = sizeof(struct sockaddr_in);
	} else if (ss.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		sl = sizeof(struct sockaddr_in6);
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Only this host's own addresses can be bound (without
	 * net.ipv4.ip_nonlocal_bind, which then makes every caller local). */
	rc = bind(fd, (struct sockaddr *)&ss, sl) == 0 ? 1 : errno == EADDRNOTAVAIL ? 0 : -1;
	close(fd);
	return rc;
}
