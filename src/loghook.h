/* loghook.h - the log hook: grants for TLS logins (POP3S, IMAPS, STLS)
 * read from mail server log lines
 *
 * Four sources, all in the daemon's one event loop, never blocking:
 *
 * socket_path  a unix datagram socket it creates (mode 0660; a stale
 *              socket is replaced, any other file is left alone) for a
 *              syslog daemon to forward to.  Only datagrams whose
 *              sender's uid (SCM_CREDENTIALS, vouched for by the kernel)
 *              is in uids count; others are counted as untrusted.
 *              Behind a forwarder that uid is the forwarder's: it says
 *              nothing about who wrote the message.  One datagram is one
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
 *              Truncation (copytruncate): read again from offset 0,
 *              noticed by the size or, when the file grew again past
 *              our offset, by the bytes before the offset changing.
 *              inotify on the directory and on the open file itself
 *              (so a late write to a renamed file is read at once),
 *              plus a stat every second in case inotify misses
 *              something (or is unavailable).  Lines are ignored (counted
 *              as untrusted) while the file or its directory may be
 *              written by others: o+w, or an owner other than root,
 *              dracd's user or one of uids.
 * journal      the systemd journal (journal.h): entries whose trusted
 *              fields match (logtrust.h syntax, e.g.
 *              "dovecot.service _UID=0").
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
	const char *journal;     /* DRAC_LOGHOOK_JOURNAL match, or NULL */
	const char *uids;        /* DRAC_LOGHOOK_UIDS for the socket; NULL: default */
};

/* Only root may feed the socket unless told otherwise: Dovecot's log
 * process and Debian's rsyslog both send as root. */
#define LOGHOOK_UIDS_DEFAULT "0"

struct loghook_stats {
	uint64_t lines;       /* complete lines (or datagrams) looked at */
	uint64_t matched;     /* login lines recognised */
	uint64_t granted;     /* grant() accepted */
	uint64_t refused;     /* grant() refused (trusted, loopback...) */
	uint64_t overlong;    /* lines dropped for length */
	uint64_t read_errors;
	uint64_t rotations;   /* renames and truncations of the followed file */
	uint64_t untrusted;   /* datagrams from other uids, journal entries of others */
	uint64_t journal_entries; /* journal entries of the mail server */
};

struct loghook;

/* NULL (with the reason logged) on failure. */
struct loghook *loghook_new(struct loop *l, const struct loghook_config *cfg,
			    grant_fn grant, void *grant_arg);
void loghook_free(struct loghook *h);
const struct loghook_stats *loghook_stats(const struct loghook *h);

#endif
