/* journal.c - read the mail server's entries from the systemd journal */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "journal.h"
#include "log.h"
#include "logpat.h"

/* Entries handled per loop turn: a burst must not starve other sources. */
#define ENTRY_BUDGET 512
/* journald writes entries into its mmap()ed file at once but tells
 * inotify readers only from a coalescing timer: 250-500 ms later with
 * systemd 252 (measured: median 390 ms).  The mapping shows new entries
 * immediately, so a short tick that only asks sd_journal_next() keeps a
 * login's grant within milliseconds (about 100 cheap calls a second);
 * inotify still reports new and removed files (rotation, restarts). */
#define TICK_MS 10
#define RETRY_MS 1000

struct journal {
	struct loop *loop;
	sd_journal *j;
	int fd;
	struct logtrust_journal match;
	journal_line_fn fn;
	void *arg;
	struct loop_timer *tick, *kick;
	uint64_t since_us; /* CLOCK_REALTIME when we started following */
	char *cursor;      /* the last entry read, to go on from after reopening */
	int at_cursor;     /* just reopened: the first entry may be that one */
	int empty;         /* no journal file yet: open again now and then */
	unsigned idle_ticks;
	struct journal_stats st;
	char line[LOGPAT_MAX_LINE + 1];
};

static void journal_detach(struct journal *jn);
static int journal_attach(struct journal *jn, int from_tail, int quiet);
static int journal_empty(sd_journal *j);

/* The value of FIELD in the current entry, or NULL. */
static const char *field_get(sd_journal *j, const char *field, size_t *len)
{
	const void *d;
	size_t n, fl = strlen(field);

	if (sd_journal_get_data(j, field, &d, &n) < 0 || n <= fl || ((const char *)d)[fl] != '=')
		return NULL;
	*len = n - fl - 1;
	return (const char *)d + fl + 1;
}

/* Checked here again, not only by sd_journal_add_match(): this test is
 * the one that decides, whatever the library's matching does. */
static int entry_trusted(struct journal *jn)
{
	for (unsigned alt = 0; alt < jn->match.alts; alt++) {
		int ok = 1;

		for (size_t i = 0; ok && i < jn->match.n; i++) {
			const struct logtrust_term *t = &jn->match.t[i];
			const char *v;
			size_t n;
			int any = 0;

			if (t->alt != alt)
				continue;
			/* same field within an alternative: any of its values */
			for (size_t k = 0; k < i; k++)
				if (jn->match.t[k].alt == alt && jn->match.t[k].field == t->field)
					goto next_term;
			v = field_get(jn->j, t->field, &n);
			for (size_t k = i; v && k < jn->match.n; k++) {
				const struct logtrust_term *u = &jn->match.t[k];

				if (u->alt == alt && u->field == t->field &&
				    strlen(u->value) == n && memcmp(u->value, v, n) == 0)
					any = 1;
			}
			ok = any;
next_term:;
		}
		if (ok)
			return 1;
	}
	return 0;
}

static void entry_handle(struct journal *jn)
{
	const char *msg, *id, *pid;
	size_t mlen, idlen, pidlen = 0;
	uint64_t usec = 0;
	time_t secs;
	struct tm tm;
	int n;

	if (!entry_trusted(jn)) {
		jn->st.untrusted++;
		return;
	}
	jn->st.entries++;
	msg = field_get(jn->j, "MESSAGE", &mlen);
	if (!msg)
		return;
	/* The identifier picks the server's grammar; the trusted fields
	 * above already said who wrote the entry. */
	if (!(id = field_get(jn->j, "SYSLOG_IDENTIFIER", &idlen)) &&
	    !(id = field_get(jn->j, "_COMM", &idlen)))
		return;
	/* The sender's process id as the kernel gave it (not SYSLOG_PID,
	 * which the sender writes): servers that log a session's address
	 * and its login in two lines of one process are paired by it. */
	if (!(pid = field_get(jn->j, "_PID", &pidlen)) || pidlen > 10)
		pidlen = 0;
	for (size_t k = 0; k < pidlen; k++)
		if (pid[k] < '0' || pid[k] > '9')
			pidlen = 0; /* (the data is not NUL-terminated) */
	sd_journal_get_realtime_usec(jn->j, &usec);
	secs = (time_t)(usec / 1000000);
	gmtime_r(&secs, &tm);
	n = snprintf(jn->line, sizeof(jn->line), "%04d-%02d-%02dT%02d:%02d:%02dZ %.*s%s%.*s%s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, (int)(idlen > 64 ? 64 : idlen), id, pidlen ? "[" : "",
		     (int)pidlen, pidlen ? pid : "", pidlen ? "]" : "");
	if (n < 0 || (size_t)n + mlen > LOGPAT_MAX_LINE) {
		jn->fn(NULL, 0, jn->arg); /* too long for any login line */
		return;
	}
	memcpy(jn->line + n, msg, mlen);
	jn->fn(jn->line, (size_t)n + mlen, jn->arg);
}

static void journal_drain(struct journal *jn)
{
	int r = 0, i;

	if (!jn->j)
		return;
	for (i = 0; i < ENTRY_BUDGET && (r = sd_journal_next(jn->j)) > 0; i++) {
		if (jn->at_cursor) {
			/* seek_cursor puts us before that entry, not after */
			jn->at_cursor = 0;
			if (jn->cursor && sd_journal_test_cursor(jn->j, jn->cursor) > 0)
				continue;
		}
		entry_handle(jn);
	}
	/* Where we are, for reopening after the files went away: once
	 * per turn, not per entry. */
	if (i > 0) {
		char *c;

		if (sd_journal_get_cursor(jn->j, &c) >= 0) {
			free(jn->cursor);
			jn->cursor = c;
		}
	}
	if (r < 0)
		msg_warn("loghook: reading the journal: %s", strerror(-r));
	else if (i == ENTRY_BUDGET)
		loop_timer_after(jn->kick, 0);
}

static void journal_process(struct journal *jn)
{
	int r;

	if (!jn->j)
		return;
	r = sd_journal_process(jn->j);
	if (r == SD_JOURNAL_INVALIDATE) {
		/* Files added or removed: rotation, vacuum, a journald
		 * restart, or the move from /run to /var/log/journal
		 * (journalctl --flush), which sd-journal does not follow
		 * when /var/log/journal did not exist when it was opened:
		 * every later login would be missed.  Open the journal
		 * again, at the entry after the last one read, so nothing
		 * is read twice or missed. */
		jn->st.changes++;
		msg_debug("loghook: journal files changed, opening it again");
		journal_detach(jn);
		if (journal_attach(jn, 0, 0) < 0 || journal_empty(jn->j)) {
			msg_warn("loghook: no journal files readable now, trying again every %d ms",
				 RETRY_MS);
			jn->empty = 1;
			jn->idle_ticks = 0;
			return;
		}
	} else if (r < 0) {
		msg_warn("loghook: journal: %s", strerror(-r));
	}
	journal_drain(jn);
}

static void journal_retry(struct journal *jn);

static void journal_ready(int fd, uint32_t events, void *arg)
{
	journal_process(arg);
}

static void journal_tick(void *arg)
{
	struct journal *jn = arg;
	uint64_t t = (uint64_t)-1, ms = TICK_MS;

	if (jn->empty)
		journal_retry(jn);
	journal_process(jn);
	/* sd-journal asks for an earlier wake-up when it cannot rely on
	 * inotify (e.g. a directory it could not watch yet). */
	if (jn->j && sd_journal_get_timeout(jn->j, &t) >= 0 && t != (uint64_t)-1) {
		struct timespec now;
		uint64_t now_us;

		clock_gettime(CLOCK_MONOTONIC, &now);
		now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
		ms = t <= now_us ? 0 : (t - now_us + 999) / 1000;
		if (ms > TICK_MS)
			ms = TICK_MS;
	}
	loop_timer_after(jn->tick, ms);
}

static void journal_kick(void *arg)
{
	journal_drain(arg);
}

static int add_matches(struct journal *jn)
{
	char buf[LOGTRUST_MAX_VALUE + 32];
	int r;

	for (unsigned alt = 0; alt < jn->match.alts; alt++) {
		if (alt > 0 && (r = sd_journal_add_disjunction(jn->j)) < 0)
			return r;
		for (size_t i = 0; i < jn->match.n; i++) {
			const struct logtrust_term *t = &jn->match.t[i];

			if (t->alt != alt)
				continue;
			snprintf(buf, sizeof(buf), "%s=%s", t->field, t->value);
			if ((r = sd_journal_add_match(jn->j, buf, 0)) < 0)
				return r;
		}
	}
	return 0;
}

static int journal_empty(sd_journal *j)
{
	return !sd_journal_has_runtime_files(j) && !sd_journal_has_persistent_files(j);
}

static void journal_detach(struct journal *jn)
{
	if (jn->fd >= 0)
		loop_del_fd(jn->loop, jn->fd);
	jn->fd = -1;
	if (jn->j)
		sd_journal_close(jn->j);
	jn->j = NULL;
}

/* Open the journal and position it: at its tail, or (files appeared
 * only after we started) at the time we started.  0, or -1 with the
 * reason logged unless quiet. */
static int journal_attach(struct journal *jn, int from_tail, int quiet)
{
	int r, fd;

	/* The system journal only: a user's own journal holds nothing a
	 * system mail server wrote. */
	r = sd_journal_open(&jn->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	if (r < 0) {
		jn->j = NULL;
		if (!quiet)
			msg_err("loghook: cannot open the systemd journal: %s", strerror(-r));
		return -1;
	}
	/* The descriptor first, so no change after the seek is missed. */
	fd = sd_journal_get_fd(jn->j);
	if (fd < 0) {
		if (!quiet)
			msg_err("loghook: cannot watch the systemd journal: %s", strerror(-fd));
		goto bad;
	}
	if ((r = add_matches(jn)) < 0) {
		if (!quiet)
			msg_err("loghook: journal match: %s", strerror(-r));
		goto bad;
	}
	/* From the tail: the last entry is history, the next one is new.
	 * Opened again: after the last entry read, or (none read yet)
	 * from the time we started. */
	jn->at_cursor = 0;
	if (from_tail) {
		r = sd_journal_seek_tail(jn->j);
	} else if (jn->cursor) {
		r = sd_journal_seek_cursor(jn->j, jn->cursor);
		jn->at_cursor = 1;
	} else {
		r = sd_journal_seek_realtime_usec(jn->j, jn->since_us);
	}
	if (r < 0 || (from_tail && (r = sd_journal_previous(jn->j)) < 0)) {
		if (!quiet)
			msg_err("loghook: cannot seek in the journal: %s", strerror(-r));
		goto bad;
	}
	if (from_tail && r == 0) {
		/* No matching entry in history: sd-journal stays "at the
		 * tail", where sd_journal_next() finds nothing, not even the
		 * entries written later (a login right after start was
		 * missed).  A time is a position it moves on from. */
		r = sd_journal_seek_realtime_usec(jn->j, jn->since_us);
		if (r < 0) {
			if (!quiet)
				msg_err("loghook: cannot seek in the journal: %s", strerror(-r));
			goto bad;
		}
	} else if (from_tail && r > 0) {
		char *c;

		/* the last entry of history: reopening goes on after it */
		if (sd_journal_get_cursor(jn->j, &c) >= 0) {
			free(jn->cursor);
			jn->cursor = c;
		}
	}
	if (loop_add_fd(jn->loop, fd, (uint32_t)sd_journal_get_events(jn->j), journal_ready,
			jn) < 0) {
		if (!quiet)
			msg_err("loghook: cannot watch the systemd journal");
		goto bad;
	}
	jn->fd = fd;
	return 0;
bad:
	sd_journal_close(jn->j);
	jn->j = NULL;
	return -1;
}

/* No journal file at all: journald has not started yet, or its
 * directory did not exist, which sd-journal does not watch for.  Open
 * again now and then; what appears is read from the time we started,
 * so nothing older is replayed. */
static void journal_retry(struct journal *jn)
{
	if (++jn->idle_ticks < RETRY_MS / TICK_MS)
		return;
	jn->idle_ticks = 0;
	journal_detach(jn);
	if (journal_attach(jn, 0, 1) == 0 && !journal_empty(jn->j)) {
		msg_info("loghook: journal files appeared, reading them");
		jn->empty = 0;
	}
}

struct journal *journal_open(struct loop *l, const struct logtrust_journal *match,
			     journal_line_fn fn, void *arg)
{
	struct journal *jn = calloc(1, sizeof(*jn));
	struct timespec now;

	if (!jn) {
		msg_err("loghook: out of memory");
		return NULL;
	}
	jn->loop = l;
	jn->match = *match;
	jn->fn = fn;
	jn->arg = arg;
	jn->fd = -1;
	clock_gettime(CLOCK_REALTIME, &now);
	jn->since_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	jn->tick = loop_timer_new(l, journal_tick, jn);
	jn->kick = loop_timer_new(l, journal_kick, jn);
	if (!jn->tick || !jn->kick || journal_attach(jn, 1, 0) < 0)
		goto bad;
	if (journal_empty(jn->j)) {
		msg_warn("loghook: no journal files readable yet (is journald running? is "
			 "dracd's user in group systemd-journal?)");
		jn->empty = 1;
	}
	loop_timer_after(jn->tick, TICK_MS);
	return jn;
bad:
	journal_close(jn);
	return NULL;
}

void journal_close(struct journal *jn)
{
	if (!jn)
		return;
	journal_detach(jn);
	free(jn->cursor);
	loop_timer_free(jn->tick);
	loop_timer_free(jn->kick);
	free(jn);
}

const struct journal_stats *journal_stats(const struct journal *jn)
{
	return &jn->st;
}
