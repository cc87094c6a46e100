/* source.h - how a grant source (wire tap, log hook, RPC, CLI) asks for a
 * grant.  The daemon supplies the function; sources never talk to
 * nftables themselves. */
#ifndef DRAC_SOURCE_H
#define DRAC_SOURCE_H

#include "addr.h"

enum grant_source {
	SRC_NFLOG,
	SRC_LOGHOOK,
	SRC_RPC,
	SRC_CLI,
	SRC_RESTORE,
	SRC_SHARE,	/* heard from the fleet (share.c) */
	SRC_COUNT
};

/* Ask for a grant of the default window.  Returns 0 when accepted for
 * commit, -1 when refused (trusted network, loopback, bad address). */
typedef int (*grant_fn)(const struct drac_addr *a, enum grant_source src, void *arg);

static inline const char *source_name(enum grant_source s)
{
	static const char *const names[] = { "nflog", "loghook", "rpc", "cli", "restore", "share" };
	return s < SRC_COUNT ? names[s] : "?";
}

#endif
