/* nfevents.c - listen on NFNLGRP_NFTABLES.
 *
 * Element adds, refreshes and deletes are announced; expiry by timeout
 * is not (the mirror keeps its own timer), and `nft flush ruleset` sends
 * only DELSET/DELTABLE.  Bulk changes overrun the default receive buffer,
 * so it is large, and an overrun asks the owner to resync with one dump.
 */
#include "nfevents.h" /* first: glibc's netinet/in.h before linux/in.h */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "log.h"
#include "nftset.h"

struct nfevents {
	struct loop *loop;
	struct mnl_socket *nl;
	const struct nfevents_ops *ops;
	void *arg;
	struct nfevents_stats st;
	bool warned;
};

struct elem_ctx {
	struct nfevents *ev;
	bool added;
	uint32_t portid;
};

static void on_elem(const struct drac_addr *a, uint64_t timeout, uint64_t expires, void *arg)
{
	struct elem_ctx *c = arg;

	if (c->added)
		c->ev->st.elem_add++;
	else
		c->ev->st.elem_del++;
	c->ev->ops->elem(c->ev->arg, c->added, a, expires, c->portid);
}

/* Is this DELSET/DELTABLE about our table? */
static bool about_us(const struct nlmsghdr *nlh, int type)
{
	const char *table = NULL;
	uint32_t family = 0;
	bool ours;

	if (type == NFT_MSG_DELTABLE) {
		struct nftnl_table *t = nftnl_table_alloc();

		if (!t)
			return true;
		if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
			table = nftnl_table_get_str(t, NFTNL_TABLE_NAME);
			family = nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY);
		}
		ours = table && strcmp(table, NFTSET_TABLE) == 0 && family == NFPROTO_INET;
		nftnl_table_free(t);
	} else {
		struct nftnl_set *s = nftnl_set_alloc();
		const char *name = NULL;

		if (!s)
			return true;
		if (nftnl_set_nlmsg_parse(nlh, s) == 0) {
			table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
			name = nftnl_set_get_str(s, NFTNL_SET_NAME);
			family = nftnl_set_get_u32(s, NFTNL_SET_FAMILY);
		}
		ours = table && name && strcmp(table, NFTSET_TABLE) == 0 &&
		       family == NFPROTO_INET &&
		       (strcmp(name, NFTSET_V4) == 0 || strcmp(name, NFTSET_V6) == 0);
		nftnl_set_free(s);
	}
	return ours;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nfevents *ev = data;
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	struct elem_ctx c = { ev, false, nlh->nlmsg_pid };

	ev->st.events++;
	switch (type) {
	case NFT_MSG_NEWSETELEM:
		c.added = true;
		/* fall through */
	case NFT_MSG_DELSETELEM:
		nftset_parse_elems(nlh, on_elem, &c);
		break;
	case NFT_MSG_DELSET:
	case NFT_MSG_DELTABLE:
		if (about_us(nlh, type)) {
			ev->st.gone++;
			ev->ops->gone(ev->arg);
		}
		break;
	}
	return MNL_CB_OK;
}

static void events_ready(int fd, uint32_t events, void *arg)
{
	struct nfevents *ev = arg;
	char buf[65536];
	ssize_t n;

	/* Bounded, like the tap: a bulk change must not starve the other
	 * sources; epoll calls again while data is left. */
	for (int i = 0; i < 64; i++) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ENOBUFS) {
				ev->st.overruns++;
				if (!ev->warned)
					msg_warn("nf_tables events lost (receive buffer full): "
						 "resynchronising with one dump; further overruns "
						 "are only counted");
				ev->warned = true;
				ev->ops->resync(ev->arg);
				continue;
			}
			msg_err("nf_tables event socket: %s", strerror(errno));
			return;
		}
		mnl_cb_run(buf, n, 0, 0, event_cb, ev);
	}
}

struct nfevents *nfevents_open(struct loop *l, unsigned rcvbuf, const struct nfevents_ops *ops,
			       void *arg)
{
	struct nfevents *ev = calloc(1, sizeof(*ev));
	int size = rcvbuf;

	if (!ev)
		return NULL;
	ev->loop = l;
	ev->ops = ops;
	ev->arg = arg;
	ev->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!ev->nl || mnl_socket_bind(ev->nl, 1 << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0)
		goto bad;
	if (setsockopt(mnl_socket_get_fd(ev->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(mnl_socket_get_fd(ev->nl), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (loop_add_fd(l, mnl_socket_get_fd(ev->nl), EPOLLIN, events_ready, ev) < 0)
		goto bad;
	return ev;
bad:
	msg_err("cannot listen to nf_tables events: %s", strerror(errno));
	nfevents_close(ev);
	return NULL;
}

void nfevents_close(struct nfevents *ev)
{
	if (!ev)
		return;
	if (ev->nl) {
		loop_del_fd(ev->loop, mnl_socket_get_fd(ev->nl));
		mnl_socket_close(ev->nl);
	}
	free(ev);
}

const struct nfevents_stats *nfevents_stats(const struct nfevents *ev)
{
	return &ev->st;
}
