/* journal.h - the systemd journal as a log hook source
 *
 * Follows the local system journal from its tail (history is never
 * replayed), across journal file rotation and journald restarts, inside
 * the daemon's one event loop (sd_journal_get_fd / sd_journal_process).
 * An entry is passed on only when the trusted fields journald set
 * (logtrust.h) match the configured mail server; its MESSAGE is then
 * handed over as "TIME IDENT[_PID]: MESSAGE", the form logpat_match()
 * reads (the pid journald took from the kernel, which pairs the two
 * lines of servers such as popa3d).
 *
 * Opening needs read access to the journal files: uid 0 (even without
 * capabilities: the files are root's), or membership of the group
 * systemd-journal (or adm on Debian).  Files made later (rotation, a
 * journald restart) are opened with the daemon's credentials at that
 * time, i.e. after it dropped to DRAC_USER.
 */
#ifndef DRAC_JOURNAL_H
#define DRAC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "logtrust.h"
#include "loop.h"

struct journal_stats {
	uint64_t entries;   /* entries read that matched the trusted fields */
	uint64_t untrusted; /* entries read whose fields did not match */
	uint64_t changes;   /* journal files added or removed (rotation, restart) */
};

/* line is NULL for an entry too long to be a login line. */
typedef void (*journal_line_fn)(const char *line, size_t len, void *arg);

struct journal;

/* NULL (with the reason logged) on failure. */
struct journal *journal_open(struct loop *l, const struct logtrust_journal *match,
			     journal_line_fn fn, void *arg);
void journal_close(struct journal *j);
const struct journal_stats *journal_stats(const struct journal *j);

#endif
