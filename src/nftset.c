/* nftset.c - add, refresh, remove and list set elements over netlink.
 *
 * Grants are queued and sent as one batch per loop iteration: the kernel
 * handles a whole batch inside sendto(), so batching is what makes bulk
 * restores and floods of logins cheap.  Every element carries both a
 * timeout and an expiration: on this kernel re-adding a live element
 * refreshes its timer only with the expiration attribute present.
 * NLM_F_EXCL is never used; a failed batch is expensive and aborts all.
 */
#include "nftset.h" /* first: glibc's netinet/in.h before linux/in.h */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "log.h"

/* Elements per NEWSETELEM message and per batch: a batch of 2048
 * elements is about 100 KB, under the default netlink send buffer
 * (212 KB; a larger sendto fails EMSGSIZE). */
#define ELEMS_PER_MSG 256
#define ELEMS_PER_BATCH 2048
#define MSGS_PER_BATCH (ELEMS_PER_BATCH / ELEMS_PER_MSG + 2)
#define BATCH_BUF (ELEMS_PER_BATCH * 96 + 65536)

struct pending {
	struct drac_addr a;
	uint64_t timeout_ms;
};

struct nftset {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *buf;
	struct pending *q;
	size_t nq, qcap;
};

struct nftset *nftset_open(void)
{
	struct nftset *ns = calloc(1, sizeof(*ns));
	int big = 4 << 20;

	if (!ns)
		return NULL;
	ns->buf = malloc(BATCH_BUF);
	ns->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!ns->buf || !ns->nl || mnl_socket_bind(ns->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		nftset_close(ns);
		errno = e;
		return NULL;
	}
	/* Room for the acks of a large batch. */
	setsockopt(mnl_socket_get_fd(ns->nl), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	ns->portid = mnl_socket_get_portid(ns->nl);
	ns->seq = time(NULL);
	return ns;
}

void nftset_close(struct nftset *ns)
{
	if (!ns)
		return;
	if (ns->nl)
		mnl_socket_close(ns->nl);
	free(ns->buf);
	free(ns->q);
	free(ns);
}

int nftset_queue(struct nftset *ns, const struct drac_addr *a, uint64_t timeout_ms)
{
	if (ns->nq == ns->qcap) {
		size_t cap = ns->qcap ? ns->qcap * 2 : 64;
		struct pending *p = realloc(ns->q, cap * sizeof(*p));

		if (!p)
			return -1;
		ns->q = p;
		ns->qcap = cap;
	}
	ns->q[ns->nq].a = *a;
	ns->q[ns->nq].timeout_ms = timeout_ms;
	ns->nq++;
	return 0;
}

size_t nftset_queued(const struct nftset *ns)
{
	return ns->nq;
}

void nftset_discard(struct nftset *ns)
{
	ns->nq = 0;
}

static struct nftnl_set *set_for(int family)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFTSET_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, nftset_name(family));
	return s;
}

static int elem_add(struct nftnl_set *s, const struct drac_addr *a, uint64_t timeout_ms)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -1;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, a->a, addr_len(a));
	if (timeout_ms) {
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_EXPIRATION, timeout_ms);
	}
	nftnl_set_elem_add(s, e);
	return 0;
}

/* What one message of a batch carried, to name it in an error. */
struct sent {
	uint32_t seq;
	int family;
	size_t first, count; /* range in the queue */
};

/* Read the acks of a batch.  The kernel processed it inside sendto(), so
 * everything is already queued: read without blocking until empty. */
static int batch_acks(struct nftset *ns, const struct sent *sent, size_t nsent,
		      const struct sent **failed)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int err = 0;
	ssize_t n;

	*failed = NULL;
	while ((n = recv(mnl_socket_get_fd(ns->nl), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		int len = n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error == 0 || err)
				continue;
			err = -e->error;
			for (size_t i = 0; i < nsent; i++)
				if (sent[i].seq == nlh->nlmsg_seq)
					*failed = &sent[i];
		}
	}
	return err;
}

static int commit_range(struct nftset *ns, size_t from, size_t to, char *err, size_t errlen)
{
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(ns->buf, BATCH_BUF);
	struct sent sent[MSGS_PER_BATCH * 2];
	size_t nsent = 0;
	const struct sent *failed;
	int e;

	nftnl_batch_begin(mnl_nlmsg_batch_current(b), ns->seq++);
	mnl_nlmsg_batch_next(b);
	/* One pass per family keeps each message to one set. */
	for (int fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;
		size_t i = from;

		while (i < to) {
			struct nftnl_set *s = set_for(family);
			struct nlmsghdr *nlh;
			size_t first = SIZE_MAX, count = 0;

			if (!s)
				goto nomem;
			for (; i < to && count < ELEMS_PER_MSG; i++) {
				if (ns->q[i].a.family != family)
					continue;
				if (elem_add(s, &ns->q[i].a, ns->q[i].timeout_ms) < 0) {
					nftnl_set_free(s);
					goto nomem;
				}
				if (first == SIZE_MAX)
					first = i;
				count++;
			}
			if (count) {
				nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b),
							    NFT_MSG_NEWSETELEM, NFPROTO_INET,
							    NLM_F_CREATE | NLM_F_ACK, ns->seq);
				nftnl_set_elems_nlmsg_build_payload(nlh, s);
				mnl_nlmsg_batch_next(b);
				sent[nsent++] = (struct sent){ ns->seq++, family, first, count };
			}
			nftnl_set_free(s);
		}
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(b), ns->seq++);
	mnl_nlmsg_batch_next(b);
	if (mnl_socket_sendto(ns->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot send batch to nf_tables: %s", strerror(e));
		mnl_nlmsg_batch_stop(b);
		errno = e;
		return -1;
	}
	mnl_nlmsg_batch_stop(b);
	e = batch_acks(ns, sent, nsent, &failed);
	if (e) {
		char a[ADDR_STRLEN];

		if (failed)
			snprintf(err, errlen, "cannot add %s%s to inet %s %s: %s",
				 addr_fmt(&ns->q[failed->first].a, a, sizeof(a)),
				 failed->count > 1 ? " and others" : "", NFTSET_TABLE,
				 nftset_name(failed->family), strerror(e));
		else
			snprintf(err, errlen, "nf_tables batch failed: %s", strerror(e));
		errno = e;
		return -1;
	}
	return 0;
nomem:
	mnl_nlmsg_batch_stop(b);
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return -1;
}

int nftset_commit(struct nftset *ns, char *err, size_t errlen)
{
	size_t chunk = ELEMS_PER_BATCH, done;
	int n = ns->nq;

	if (!ns->nq)
		return 0;
	for (done = 0; done < ns->nq; done += chunk) {
		size_t to = done + chunk < ns->nq ? done + chunk : ns->nq;

		if (commit_range(ns, done, to, err, errlen) < 0) {
			int e = errno;

			/* Keep what did not go through for a retry. */
			memmove(ns->q, ns->q + done, (ns->nq - done) * sizeof(*ns->q));
			ns->nq -= done;
			errno = e;
			return -1;
		}
	}
	ns->nq = 0;
	return n;
}

/* One message outside a batch sequence: DELSETELEM needs a batch too. */
static int simple_batch(struct nftset *ns, uint16_t type, struct nftnl_set *s)
{
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(ns->buf, BATCH_BUF);
	struct nlmsghdr *nlh;
	struct sent sent;
	const struct sent *failed;
	int e;

	nftnl_batch_begin(mnl_nlmsg_batch_current(b), ns->seq++);
	mnl_nlmsg_batch_next(b);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), type, NFPROTO_INET, NLM_F_ACK,
				    ns->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	mnl_nlmsg_batch_next(b);
	sent = (struct sent){ ns->seq++, 0, 0, 0 };
	nftnl_batch_end(mnl_nlmsg_batch_current(b), ns->seq++);
	mnl_nlmsg_batch_next(b);
	if (mnl_socket_sendto(ns->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
		e = errno;
		mnl_nlmsg_batch_stop(b);
		errno = e;
		return -1;
	}
	mnl_nlmsg_batch_stop(b);
	e = batch_acks(ns, &sent, 1, &failed);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

int nftset_revoke(struct nftset *ns, const struct drac_addr *a)
{
	struct nftnl_set *s = set_for(a->family);
	int rc;

	if (!s || elem_add(s, a, 0) < 0) {
		nftnl_set_free(s);
		errno = ENOMEM;
		return -1;
	}
	rc = simple_batch(ns, NFT_MSG_DELSETELEM, s);
	nftnl_set_free(s);
	if (rc < 0 && errno == ENOENT) {
		/* ENOENT means no element, or no set: tell them apart by
		 * whether the set exists (one GETSET, never a dump). */
		if (nftset_exists(ns, a->family) == 1)
			return 1;
		errno = ENOENT;
	}
	return rc;
}

int nftset_revoke_many(struct nftset *ns, const struct drac_addr *a, size_t n)
{
	int done = 0;

	/* One transaction per family and ELEMS_PER_MSG; one element that
	 * is gone (it timed out) fails the whole transaction, and then
	 * each goes on its own. */
	for (int fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;

		for (size_t i = 0; i < n;) {
			struct nftnl_set *s = set_for(family);
			size_t first = i, count = 0;

			if (!s)
				return -1;
			for (; i < n && count < ELEMS_PER_MSG; i++)
				if (a[i].family == family && elem_add(s, &a[i], 0) == 0)
					count++;
			if (count && simple_batch(ns, NFT_MSG_DELSETELEM, s) == 0) {
				done += (int)count;
			} else if (count) {
				for (size_t j = first; j < i; j++)
					if (a[j].family == family && nftset_revoke(ns, &a[j]) == 0)
						done++;
			}
			nftnl_set_free(s);
		}
	}
	return done;
}

int nftset_flush(struct nftset *ns, int family)
{
	struct nftnl_set *s = set_for(family);
	int rc;

	if (!s)
		return -1;
	/* DELSETELEM without elements empties the whole set. */
	rc = simple_batch(ns, NFT_MSG_DELSETELEM, s);
	nftnl_set_free(s);
	return rc;
}

/* A dump counts what it hands on to the caller's callback. */
struct parse_ctx {
	nftset_elem_cb cb;
	void *arg;
	int count;
};

int nftset_parse_elems(const struct nlmsghdr *nlh, nftset_elem_cb cb, void *arg)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *e;
	const char *table, *name;
	int family;

	if (!s)
		return -1;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
		goto not_ours;
	table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
	name = nftnl_set_get_str(s, NFTNL_SET_NAME);
	if (!table || !name || strcmp(table, NFTSET_TABLE) != 0 ||
	    nftnl_set_get_u32(s, NFTNL_SET_FAMILY) != NFPROTO_INET)
		goto not_ours;
	if (strcmp(name, NFTSET_V4) == 0)
		family = AF_INET;
	else if (strcmp(name, NFTSET_V6) == 0)
		family = AF_INET6;
	else
		goto not_ours;
	it = nftnl_set_elems_iter_create(s);
	/* _next() returns the current element, then advances */
	while (it && (e = nftnl_set_elems_iter_next(it))) {
		struct drac_addr a;
		uint32_t klen = 0;
		const void *key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
		uint64_t timeout = 0, expires = 0;

		if (!key || klen != (family == AF_INET ? 4u : 16u))
			continue;
		addr_from_bytes(&a, family, key);
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_TIMEOUT))
			timeout = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT);
		if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
			expires = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
		if (cb)
			cb(&a, timeout, expires, arg);
	}
	if (it)
		nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return family;
not_ours:
	nftnl_set_free(s);
	return -1;
}

static void count_elem(const struct drac_addr *a, uint64_t t, uint64_t e, void *arg)
{
	struct parse_ctx *c = arg;

	c->count++;
	if (c->cb)
		c->cb(a, t, e, c->arg);
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	nftset_parse_elems(nlh, count_elem, data);
	return MNL_CB_OK;
}

int nftset_dump(struct nftset *ns, int family, nftset_elem_cb cb, void *arg)
{
	struct parse_ctx c = { cb, arg, 0 };
	char buf[32768];
	struct nftnl_set *s = set_for(family);
	struct nlmsghdr *nlh;
	uint32_t seq = ns->seq++;
	ssize_t n;
	int rc;

	if (!s)
		return -1;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
				    seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(ns->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while ((n = mnl_socket_recvfrom(ns->nl, buf, sizeof(buf))) > 0) {
		rc = mnl_cb_run(buf, n, seq, ns->portid, dump_cb, &c);
		if (rc < 0)
			return -1;
		if (rc == MNL_CB_STOP)
			break;
	}
	return n < 0 ? -1 : c.count;
}

int nftset_exists(struct nftset *ns, int family)
{
	char buf[8192];
	struct nftnl_set *s = set_for(family);
	struct nlmsghdr *nlh;
	uint32_t seq = ns->seq++;
	ssize_t n;
	int rc;

	if (!s)
		return -1;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_ACK, seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(ns->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(ns->nl, buf, sizeof(buf));
		if (n < 0)
			return -1;
		rc = mnl_cb_run(buf, n, seq, ns->portid, NULL, NULL);
	} while (rc == MNL_CB_OK); /* the set, then the ack */
	if (rc < 0)
		return errno == ENOENT ? 0 : -1;
	return 1;
}

uint32_t nftset_portid(const struct nftset *ns)
{
	return ns->portid;
}
