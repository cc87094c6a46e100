/* tapdone.c - add finished connections to inet drac done / done6.
 *
 * One element per finished connection, sent as its own small batch
 * without asking for an ack: a finished login happens once per
 * connection, and a lost add only means the tap keeps copying that
 * connection.  Errors come back on the socket anyway and are read
 * without blocking.  The key is the set's concatenation: each field
 * padded to 4 bytes (address, port, address, port).
 */
#include "nftset.h" /* first: glibc's netinet/in.h before linux/in.h */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "log.h"
#include "tapdone.h"

struct tapdone {
	struct mnl_socket *nl;
	uint32_t seq;
	bool warned;
	struct tapdone_stats st;
	char buf[8192];
};

struct tapdone *tapdone_open(void)
{
	struct tapdone *td = calloc(1, sizeof(*td));

	if (!td)
		return NULL;
	td->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!td->nl || mnl_socket_bind(td->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		tapdone_close(td);
		errno = e;
		return NULL;
	}
	td->seq = (uint32_t)time(NULL);
	return td;
}

void tapdone_close(struct tapdone *td)
{
	if (!td)
		return;
	if (td->nl)
		mnl_socket_close(td->nl);
	free(td);
}

/* Errors of earlier adds: read what is there, never wait. */
static void drain(struct tapdone *td)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(td->nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

		for (; mnl_nlmsg_ok(h, (int)n); h = mnl_nlmsg_next(h, (int *)&n)) {
			const struct nlmsgerr *e;

			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(h);
			if (!e->error)
				continue;
			td->st.errors++;
			if (!td->warned) {
				msg_warn("cannot add to inet %s %s/%s: %s (the tap keeps copying "
					 "finished connections)", NFTSET_TABLE, TAPDONE_V4, TAPDONE_V6,
					 strerror(-e->error));
				td->warned = true;
			}
		}
	}
}

void tapdone_add(struct tapdone *td, const struct flow_tuple *t)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *nlh;
	uint8_t key[40];
	size_t al = t->family == AF_INET ? 4 : 16, k = 0;

	if (!td || !s || !e) {
		nftnl_set_free(s);
		nftnl_set_elem_free(e);
		return;
	}
	memset(key, 0, sizeof(key));
	memcpy(key + k, t->caddr, al);
	k += al;
	key[k] = t->cport >> 8, key[k + 1] = t->cport & 0xff;
	k += 4;
	memcpy(key + k, t->saddr, al);
	k += al;
	key[k] = t->sport >> 8, key[k + 1] = t->sport & 0xff;
	k += 4;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFTSET_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, t->family == AF_INET ? TAPDONE_V4 : TAPDONE_V6);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)k);
	/* Both, or a live element's timer is not restarted. */
	nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, TAPDONE_TIMEOUT_MS);
	nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_EXPIRATION, TAPDONE_TIMEOUT_MS);
	nftnl_set_elem_add(s, e);

	b = mnl_nlmsg_batch_start(td->buf, sizeof(td->buf));
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), td->seq++);
	mnl_nlmsg_batch_next(b);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWSETELEM, NFPROTO_INET,
				    NLM_F_CREATE, td->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), td->seq++);
	mnl_nlmsg_batch_next(b);
	if (mnl_socket_sendto(td->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		td->st.errors++;
	else
		td->st.added++;
	mnl_nlmsg_batch_stop(b);
	nftnl_set_free(s);
	drain(td);
}

const struct tapdone_stats *tapdone_stats(const struct tapdone *td)
{
	return &td->st;
}
