/* tapdone.c - add finished connections to inet drac done / done6.
 *
 * Finished connections are queued and sent as one batch per loop
 * iteration (tapdone_flush, after the grants are committed: this is
 * never on a login's path), without asking for acks: a lost add only
 * means the tap keeps copying that connection.  Errors come back on the
 * socket anyway and are read without blocking.  The key is the set's
 * concatenation: each field padded to 4 bytes (address, port, address,
 * port).
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

#define TAPDONE_QUEUE 128

struct tapdone {
	struct mnl_socket *nl;
	uint32_t seq;
	bool warned;
	struct tapdone_stats st;
	unsigned n;
	struct {
		uint8_t key[40];
		uint8_t len, family;
	} q[TAPDONE_QUEUE];
	char buf[TAPDONE_QUEUE * 128 + 4096];
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
	size_t al = t->family == AF_INET ? 4 : 16, k = 0;
	uint8_t *key;

	if (!td)
		return;
	if (td->n == TAPDONE_QUEUE)
		tapdone_flush(td);
	key = td->q[td->n].key;
	memset(key, 0, sizeof(td->q[0].key));
	memcpy(key + k, t->caddr, al);
	k += al;
	key[k] = t->cport >> 8, key[k + 1] = t->cport & 0xff;
	k += 4;
	memcpy(key + k, t->saddr, al);
	k += al;
	key[k] = t->sport >> 8, key[k + 1] = t->sport & 0xff;
	k += 4;
	td->q[td->n].len = (uint8_t)k;
	td->q[td->n].family = (uint8_t)t->family;
	td->n++;
}

static struct nftnl_set *set_of(struct tapdone *td, int family)
{
	struct nftnl_set *s = nftnl_set_alloc();
	unsigned i;

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFTSET_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, family == AF_INET ? TAPDONE_V4 : TAPDONE_V6);
	for (i = 0; i < td->n; i++) {
		struct nftnl_set_elem *e;

		if (td->q[i].family != family || !(e = nftnl_set_elem_alloc()))
			continue;
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, td->q[i].key, td->q[i].len);
		/* Both, or a live element's timer is not restarted. */
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, TAPDONE_TIMEOUT_MS);
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_EXPIRATION, TAPDONE_TIMEOUT_MS);
		nftnl_set_elem_add(s, e);
	}
	return s;
}

void tapdone_flush(struct tapdone *td)
{
	struct mnl_nlmsg_batch *b;
	unsigned n4 = 0;

	if (!td || !td->n)
		return;
	for (unsigned i = 0; i < td->n; i++)
		n4 += td->q[i].family == AF_INET;
	b = mnl_nlmsg_batch_start(td->buf, sizeof(td->buf));
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), td->seq++);
	mnl_nlmsg_batch_next(b);
	for (int v6 = 0; v6 < 2; v6++) {
		struct nftnl_set *s;
		struct nlmsghdr *nlh;

		if ((v6 ? td->n - n4 : n4) == 0 || !(s = set_of(td, v6 ? AF_INET6 : AF_INET)))
			continue;
		nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWSETELEM,
					    NFPROTO_INET, NLM_F_CREATE, td->seq++);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		mnl_nlmsg_batch_next(b);
		nftnl_set_free(s);
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(b), td->seq++);
	mnl_nlmsg_batch_next(b);
	if (mnl_socket_sendto(td->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		td->st.errors++;
	else
		td->st.added += td->n;
	mnl_nlmsg_batch_stop(b);
	td->n = 0;
	drain(td);
}

const struct tapdone_stats *tapdone_stats(const struct tapdone *td)
{
	return &td->st;
}
