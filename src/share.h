/* share.h - the fleet: grants and revocations shared with other dracd
 * hosts through Redis (DRAC_SHARE).  See sharemsg.h for what is stored
 * and announced, README "Fleet" for the deployment.
 *
 * Every grant and revocation this host makes is written to Redis (keys
 * with a time-to-live, the later expiry wins, a revocation leaves a
 * tombstone for one window) and announced on a channel; every host
 * applies what it hears through the gate, like a local grant.  Redis
 * being away never stops or slows local granting: operations wait in a
 * bounded queue, and on every (re)connect the host pushes its queue and
 * its grants, then reads the keyspace (SCAN) to catch up. */
#ifndef DRAC_SHARE_H
#define DRAC_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gate.h"
#include "loop.h"
#include "settings.h"

struct share_stats {
	bool connected, subscribed;
	uint64_t connects, disconnects, auth_failures;
	uint64_t queued_peak, queue_overflow;
	uint64_t pushed, push_refused, push_errors, revokes_sent, read_errors;
	uint64_t received, own, applied, kept, revokes_applied, garbage, clamped, refused;
	uint64_t reconciles, reconciled, reconcile_ms;
	uint64_t lag_ms, lag_max_ms, rtt_us;
};

/* Reads the credentials file (as root, before privileges are dropped)
 * and resolves host names once; connects only at share_start.  NULL and
 * a logged reason when the settings cannot work. */
struct share *share_new(struct loop *l, struct gate *g, const struct settings *s);
/* After gate_start: the mirror holds what this host has. */
void share_start(struct share *sh);
void share_free(struct share *sh);
const struct share_stats *share_stats(const struct share *sh);
size_t share_queued(const struct share *sh);
const char *share_endpoint(const struct share *sh);
const char *share_error(const struct share *sh);

#endif
