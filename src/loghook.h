/* loghook.h - the log hook: grants for TLS logins (POP3S, IMAPS, STLS)
 * read from mail server log lines
 *
 * Three sources, all in the daemon's one event loop, never blocking:
 *
 * socket_path  a unix datagram socket it creates (mode 0660; a stale
 *              socket is replaced, any other file is left alone) for a
 *              syslog daemon to forward to.  One datagram is one
 *              message (that is how syslog(3) and every forwarder send
 *              them); a newline inside a datagram never starts a new
 *              line, because a server that logged a raw newline from a
 *              user name would otherwise let the name forge a line.
 * file_path    a log file followed like `tail -F`: from its end at
 *              start-up (history is not replayed: old lines carry no
 *              year or zone to tell how old they are, and earlier grants
 *              come back from the daemon's own state), then every line
 *              appended.  Rotation by rename: the old file is drained,
 *              the new one read from its start, and the old one is still
 *              read for a few seconds for writers that reopen late.
 *              Truncation (copytruncate): read again from offset 0.
 *              inotify on the directory, plus a stat every second in
 *              case inotify misses something (or is unavailable).
 * use_stdin    standard input until end of file (journalctl -f | ...).
 *
 * Lines longer than LOGPAT_MAX_LINE are dropped (counted as overlong)
 * and reading resumes after the next newline.  A line is only matched
 * once its newline arrived: a partial line at the end of a file waits
 * for the rest, and one left at end of input is dropped.
 */
#ifndef DRAC_LOGHOOK_H
#define DRAC_LOGHOOK_H

#include <stdint.h>

#include "loop.h"
#include "source.h"

struct loghook_config {
	const char *socket_path; /* unix datagram socket to create, or NULL */
	const char *file_path;   /* file to follow, or NULL */
	int use_stdin;
};

struct loghook_stats {
	uint64_t lines;       /* complete lines (or datagrams) looked at */
	uint64_t matched;     /* login lines recognised */
	uint64_t granted;     /* grant() accepted */
	uint64_t refused;     /* grant() refused (trusted, loopback...) */
	uint64_t overlong;    /* lines dropped for length */
	uint64_t read_errors;
	uint64_t rotations;   /* renames and truncations of the followed file */
};

struct loghook;

/* NULL (with the reason logged) on failure. */
struct loghook *loghook_new(struct loop *l, const struct loghook_config *cfg,
			    grant_fn grant, void *grant_arg);
void loghook_free(struct loghook *h);
const struct loghook_stats *loghook_stats(const struct loghook *h);

#endif
