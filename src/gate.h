/* gate.h - the daemon's core: grants go into the kernel sets, the
 * sets' events go into the mirror (and so the Postfix map), and what
 * the mirror holds comes back into the kernel after a flush or restart */
#ifndef DRAC_GATE_H
#define DRAC_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "settings.h"
#include "source.h"

struct gate_stats {
	uint64_t grants[SRC_COUNT];
	uint64_t refused;       /* loopback or trusted network */
	uint64_t commits, commit_errors;
	uint64_t restores, restored;
	uint64_t resyncs;
	uint64_t started_wall_ms;
};

struct gate;
typedef void (*gate_forward_fn)(void *arg, const struct drac_addr *a);

/* Opens the netlink sockets and loads table inet drac (with the tap
 * chains when tap).  Touches no file: the map comes with gate_start.
 * NULL + logged reason on failure. */
struct gate *gate_new(struct loop *l, const struct settings *s, bool tap, bool empty);
/* After privileges are dropped, so that every file operation in the map
 * directory is made by the daemon user: proves the directory writable,
 * brings the set and the map into agreement (empty: start with both
 * empty, like rpc.dracd -i) and writes the map.  0, or -1 logged. */
int gate_start(struct gate *g);
/* Stops; after a successful gate_start the map is emptied and its grants
 * kept in the state file (mirror_shutdown). */
void gate_free(struct gate *g);
/* New settings after SIGHUP (same pointer lifetime rules as gate_new). */
int gate_reconfigure(struct gate *g, const struct settings *s, bool tap);
/* The grant_fn for every source. */
int gate_grant(const struct drac_addr *a, enum grant_source src, void *arg);
/* Grants from the wire, the log hook and the CLI also go to remote DRAC
 * servers (split hosts) when set. */
void gate_set_forward(struct gate *g, gate_forward_fn fn, void *arg);

/* The fleet (share.c): told of every grant this host makes (its end,
 * wall ms) and of every revocation made here (drac del, drac flush, nft
 * delete element: a set element deleted by anyone but dracd itself). */
struct gate_share_ops {
	void (*granted)(void *arg, const struct drac_addr *a, uint64_t end_ms);
	void (*revoked)(void *arg, const struct drac_addr *a, uint64_t when_ms);
};
void gate_set_share(struct gate *g, const struct gate_share_ops *ops, void *arg);
/* A grant heard from the fleet, through the same checks as a local one
 * (loopback and trusted networks refused) and bounded: it ends no later
 * than now + the window (*clamped set when it asked for more).  The later
 * expiry wins.  1 queued, 0 this host already has it as long, -1 refused. */
int gate_apply_grant(struct gate *g, const struct drac_addr *a, uint64_t end_ms, bool *clamped);
/* A revocation heard from the fleet: the grant goes unless it began after
 * when_ms (a login after the revocation).  1 revoked, 0 nothing to do. */
int gate_apply_revoke(struct gate *g, const struct drac_addr *a, uint64_t when_ms);
const struct settings *gate_settings(const struct gate *g);

const struct gate_stats *gate_stats(const struct gate *g);
struct mirror *gate_mirror(const struct gate *g);
struct nfevents *gate_events(const struct gate *g);

#endif
