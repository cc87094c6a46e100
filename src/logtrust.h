/* logtrust.h - who may write the log lines the log hook believes
 *
 * A log line grants relaying, so its writer must be known.  Two settings
 * say who that is, and both are parsed here (for the settings file, which
 * reports FILE:LINE, and again by the log hook):
 *
 * DRAC_LOGHOOK_UIDS     user ids (numbers or names, blank or comma
 *                       separated) whose datagrams the socket source
 *                       accepts; the kernel vouches for the sender's uid
 *                       (SCM_CREDENTIALS).
 * DRAC_LOGHOOK_JOURNAL  which systemd journal entries come from the mail
 *                       server, by the fields journald itself sets:
 *                         "dovecot.service _UID=0"
 *                                = _SYSTEMD_UNIT=dovecot.service _UID=0
 *                         "_EXE=/usr/lib/dovecot/log _UID=0"
 *                         "A=x A=y B=z + C=w"    = (A is x or y, and B is z) or C is w
 *                       as journalctl(1) combines matches.  Only trusted
 *                       fields (_SYSTEMD_UNIT, _EXE, _COMM, _UID, _GID)
 *                       are accepted, and every alternative must name a
 *                       uid: any user can run a program with a given name
 *                       or path, a unit holds the mail users' own
 *                       processes too, and only the uid comes with the
 *                       message from the kernel (the unit and executable
 *                       are looked up by pid afterwards).
 */
#ifndef DRAC_LOGTRUST_H
#define DRAC_LOGTRUST_H

#include <stddef.h>
#include <sys/types.h>

#define LOGTRUST_MAX_UIDS 16
#define LOGTRUST_MAX_TERMS 16
#define LOGTRUST_MAX_VALUE 256

struct logtrust_uids {
	uid_t uid[LOGTRUST_MAX_UIDS];
	size_t n;
};

/* One FIELD=value; alt numbers the alternative (separated by "+"). */
struct logtrust_term {
	unsigned alt;
	const char *field; /* static: "_SYSTEMD_UNIT", ... */
	char value[LOGTRUST_MAX_VALUE];
};

struct logtrust_journal {
	struct logtrust_term t[LOGTRUST_MAX_TERMS];
	size_t n;
	unsigned alts; /* number of alternatives */
};

/* 0, or -1 with the reason in err. */
int logtrust_uids_parse(const char *s, struct logtrust_uids *out, char *err, size_t errlen);
int logtrust_uids_has(const struct logtrust_uids *u, uid_t uid);
int logtrust_journal_parse(const char *s, struct logtrust_journal *out, char *err, size_t errlen);

#endif
