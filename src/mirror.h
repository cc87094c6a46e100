/* mirror.h - the mirror's data side: address -> expiry table, written out
 * as the Postfix btree map (btree:/etc/dracd/dracd).
 *
 * The netlink side calls mirror_set/del/clear for every change it sees in
 * the nftables sets; the loop calls mirror_tick when it wakes (also after
 * such changes) and sleeps at most until mirror_next_deadline().  All times
 * are wall-clock milliseconds since the epoch.  Not thread-safe: one loop
 * owns it.
 *
 * The file is MAP (0644) with one record per entry: key = the address in
 * addr_fmt's lowercase compressed form + NUL, value = expiry in whole
 * seconds since the epoch as decimal digits + NUL, exactly what postmap
 * writes.  Writes go to MAP.tmp.PID and are rename()d over MAP; writers
 * serialise on flock(MAP.lock).
 *
 * Fail closed: Postfix never reads the values, so a map nobody updates
 * grants for good.  A clean stop (mirror_shutdown) moves the grants to
 * MAP.state, dracd's own copy that Postfix never reads, and leaves an
 * empty map; the next start loads both.  A write that fails while the
 * file on disk still holds a grant that has ended takes it out of the
 * file in place (no new page needed), else removes the map (Postfix then
 * answers 451, not 250), else holds the map's flock so lookups wait. */
#ifndef DRAC_MIRROR_H
#define DRAC_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct mirror_config {
	const char *map_path;		/* "/etc/dracd/dracd.db" */
	unsigned min_write_interval_ms; /* coalescing; 0 means the default, 50 */
	bool no_probe;			/* dracd --clear-map: must work on a full disk */
};

#define MIRROR_WRITE_INTERVAL_MS 50

struct mirror_stats {
	uint64_t writes, full_writes, incremental_writes, write_errors, expired;
	uint64_t last_write_wall_ms;
	uint64_t last_write_us; /* how long the last write took */
	uint64_t stale_since_ms; /* wall ms of the first failed write of the
				  * current streak; 0 while the map is current */
	bool map_removed;	/* unlinked: it granted past an expiry and
				 * could not be rewritten */
	char error[320];	/* the last write failure (real cause), or "" */
};

/* NULL (logged) when the map's directory is missing or unsafe (writable by
 * group or others without being a sticky root-owned directory), when this
 * process cannot create, rename and remove a file there (a probe,
 * MAP.tmp.probe.PID), or the lock file MAP.lock cannot be opened.  Does
 * not touch the map itself.  Call it with the privileges the writes will
 * have (after dropping root): every file operation in the map directory
 * is made as that user. */
struct mirror *mirror_new(const struct mirror_config *cfg);
void mirror_free(struct mirror *m);

/* Element added or refreshed; expiry_ms = wall-clock ms since the epoch. */
void mirror_set(struct mirror *m, const struct drac_addr *a, uint64_t expiry_ms);
void mirror_del(struct mirror *m, const struct drac_addr *a);
/* AF_INET, AF_INET6, or 0 for all. */
void mirror_clear(struct mirror *m, int family);

/* Load entries from the existing map file (after a restart); addresses
 * already in the table keep the table's expiry (it is the newer word).
 * Values come back as whole seconds (expiry_ms rounded down to 1000).
 * Returns the number loaded, -1 when
 * the file is missing or corrupt (logged; the caller rebuilds, and the next
 * write is a full one).  Expired entries are skipped (and removed from the
 * file by the next write), as are records that are not ADDR -> digits. */
int mirror_load(struct mirror *m, uint64_t now_ms);
/* MAP.state: where a stopped dracd keeps the grants it took out of the
 * map.  mirror_load reads it too (not counted in its return value); the
 * first mirror_write_now that succeeds removes it. */
const char *mirror_state_path(const struct mirror *m);
/* A clean stop: expire what is due, save the table to MAP.state, write an
 * empty map (or remove the map when that fails).  0, or -1 when the map
 * could not be emptied (logged; it was removed if at all possible). */
int mirror_shutdown(struct mirror *m);

/* Call when the loop wakes: expires entries whose expiry <= now, writes the
 * map if dirty and the coalescing interval allows (the first change after a
 * quiet period is written at once; maps over 1 MB wait at least 4 times as
 * long as their last write took, at most 5 s, so writing stays under a
 * quarter of the time).  0, or -1 when the write failed (logged once per
 * failure streak, retried with backoff up to 5 s). */
int mirror_tick(struct mirror *m, uint64_t now_ms);
/* When tick is next needed: min(next expiry, pending write); may be in the
 * past (tick now); UINT64_MAX if nothing is pending. */
uint64_t mirror_next_deadline(const struct mirror *m);
/* Force a full write of the table now, e.g. at start so the map exists
 * (empty if need be): call mirror_load first, or the old entries are gone.
 * Waits for the writer lock and removes leftover MAP.tmp.* files of
 * crashed writers.  0 or -1 (logged). */
int mirror_write_now(struct mirror *m);

size_t mirror_count(const struct mirror *m);
/* The expiry get and foreach report is never later than the monotonic
 * clock allows: each entry also remembers its end on CLOCK_MONOTONIC,
 * so when the wall clock steps back a grant still ends after its window
 * (then the expiry reported is 0, or now + what is left). */
bool mirror_get(const struct mirror *m, const struct drac_addr *a, uint64_t *expiry_ms);
/* In no particular order; cb must not change the table. */
void mirror_foreach(const struct mirror *m,
		    void (*cb)(const struct drac_addr *a, uint64_t expiry_ms, void *arg),
		    void *arg);
const struct mirror_stats *mirror_stats(const struct mirror *m);

#endif
