/* nftset.h - the set engine: all talk with nf_tables about the sets
 * inet drac authed (IPv4) and authed6 (IPv6), through libnftnl/libmnl */
#ifndef DRAC_NFTSET_H
#define DRAC_NFTSET_H

#include <stdint.h>

#include "addr.h"

#define NFTSET_TABLE "drac"
#define NFTSET_V4 "authed"
#define NFTSET_V6 "authed6"

struct nftset;

static inline const char *nftset_name(int family)
{
	return family == AF_INET ? NFTSET_V4 : NFTSET_V6;
}

struct nftset *nftset_open(void);
void nftset_close(struct nftset *ns);
/* The socket's netlink port: set events that carry it are our own. */
uint32_t nftset_portid(const struct nftset *ns);

/* Queue an add-or-refresh of one element; nftset_commit sends every
 * queued element in one batch.  A live element's timer restarts. */
int nftset_queue(struct nftset *ns, const struct drac_addr *a, uint64_t timeout_ms);
size_t nftset_queued(const struct nftset *ns);
/* Returns the number committed, or -1 with errno (ENOENT: table or set
 * missing; the queue is kept so the caller can recreate and retry) and
 * a message naming what failed in err. */
int nftset_commit(struct nftset *ns, char *err, size_t errlen);
void nftset_discard(struct nftset *ns);

/* 0 removed, 1 was not there, -1 error (errno). */
int nftset_revoke(struct nftset *ns, const struct drac_addr *a);
/* Remove many at once (elements already gone are skipped); returns how
 * many were removed, or -1 out of memory. */
int nftset_revoke_many(struct nftset *ns, const struct drac_addr *a, size_t n);
/* Empty one set (AF_INET or AF_INET6). */
int nftset_flush(struct nftset *ns, int family);

/* Every element of one set: timeout and remaining time in ms (0 when
 * the element has none).  Returns the count or -1 (errno). */
typedef void (*nftset_elem_cb)(const struct drac_addr *a, uint64_t timeout_ms,
			       uint64_t expires_ms, void *arg);
int nftset_dump(struct nftset *ns, int family, nftset_elem_cb cb, void *arg);

/* Does the set exist?  1 yes, 0 no, -1 error.  A single GETSET, never a
 * dump: dumping a large set costs about the square of its size. */
int nftset_exists(struct nftset *ns, int family);

/* Parse the elements of a NEWSETELEM/DELSETELEM message (dumps and
 * events share this): returns the family of the set or -1 when the
 * message is not about our table's sets. */
struct nlmsghdr;
int nftset_parse_elems(const struct nlmsghdr *nlh, nftset_elem_cb cb, void *arg);

#endif
