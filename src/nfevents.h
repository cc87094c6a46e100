/* nfevents.h - nf_tables notifications about table inet drac: the
 * mirror follows the sets through these, never by polling dumps */
#ifndef DRAC_NFEVENTS_H
#define DRAC_NFEVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "loop.h"

struct nfevents_ops {
	/* element added or refreshed (expires_ms: remaining time, 0 when
	 * the element has no timeout) or deleted; portid: the netlink port
	 * of the program that made the change (0: the kernel) */
	void (*elem)(void *arg, bool added, const struct drac_addr *a, uint64_t expires_ms,
		     uint32_t portid);
	/* a set or the whole table was deleted (flush ruleset, reload) */
	void (*gone)(void *arg);
	/* events were lost (ENOBUFS): state must be read again */
	void (*resync)(void *arg);
};

struct nfevents_stats {
	uint64_t events, elem_add, elem_del, gone, overruns;
};

/* rcvbuf: socket receive buffer in bytes; bulk changes overrun a small one */
struct nfevents *nfevents_open(struct loop *l, unsigned rcvbuf, const struct nfevents_ops *ops,
			       void *arg);
void nfevents_close(struct nfevents *ev);
const struct nfevents_stats *nfevents_stats(const struct nfevents *ev);

#endif
