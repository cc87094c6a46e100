/* logtrust.c - parse DRAC_LOGHOOK_UIDS and DRAC_LOGHOOK_JOURNAL */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logtrust.h"

static int is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* A decimal id below (uid_t)-1, which means "no id" to the kernel. */
static int parse_id(const char *s, size_t n, uid_t *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v >= (uid_t)-1)
		return -1;
	*out = (uid_t)v;
	return 0;
}

int logtrust_uids_parse(const char *s, struct logtrust_uids *out, char *err, size_t errlen)
{
	out->n = 0;
	while (*s) {
		size_t len;
		char name[64];
		uid_t uid;

		if (is_sep(*s)) {
			s++;
			continue;
		}
		for (len = 0; s[len] && !is_sep(s[len]); len++)
			;
		if (parse_id(s, len, &uid) < 0) {
			struct passwd *pw;

			if (isdigit((unsigned char)*s) || len >= sizeof(name)) {
				snprintf(err, errlen, "\"%.*s\" is not a user id", (int)len, s);
				return -1;
			}
			memcpy(name, s, len);
			name[len] = '\0';
			if (!(pw = getpwnam(name))) {
				snprintf(err, errlen, "no such user: %s", name);
				return -1;
			}
			uid = pw->pw_uid;
		}
		if (out->n == LOGTRUST_MAX_UIDS) {
			snprintf(err, errlen, "more than %d users", LOGTRUST_MAX_UIDS);
			return -1;
		}
		out->uid[out->n++] = uid;
		s += len;
	}
	return 0;
}

int logtrust_uids_has(const struct logtrust_uids *u, uid_t uid)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->uid[i] == uid)
			return 1;
	return 0;
}

/* Fields journald fills in from the kernel's view of the sender; a
 * client cannot send a field whose name starts with '_'. */
static const char *const trusted[] = { "_SYSTEMD_UNIT", "_EXE", "_COMM", "_UID", "_GID" };

static const char *trusted_field(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++)
		if (strlen(trusted[i]) == n && memcmp(trusted[i], s, n) == 0)
			return trusted[i];
	return NULL;
}

int logtrust_journal_parse(const char *s, struct logtrust_journal *out, char *err, size_t errlen)
{
	unsigned alt = 0;
	int anchored = 0, terms_in_alt = 0;

	memset(out, 0, sizeof(*out));
	for (;;) {
		size_t len;
		const char *eq;
		struct logtrust_term *t;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || (*s == '+' && (s[1] == ' ' || s[1] == '\t' || !s[1]))) {
			/* end of an alternative */
			if (!terms_in_alt) {
				snprintf(err, errlen, "%s", out->n ? "empty alternative around \"+\""
								   : "no journal match given");
				return -1;
			}
			if (!anchored) {
				snprintf(err, errlen, "every alternative needs _UID (any user can run a "
					 "program of a given name or path; a unit also runs mail "
					 "processes as its users, and journald finds it by process "
					 "id after the message arrived)");
				return -1;
			}
			alt++;
			if (!*s)
				break;
			s++;
			anchored = terms_in_alt = 0;
			continue;
		}
		for (len = 0; s[len] && s[len] != ' ' && s[len] != '\t'; len++)
			;
		if (out->n == LOGTRUST_MAX_TERMS) {
			snprintf(err, errlen, "more than %d journal matches", LOGTRUST_MAX_TERMS);
			return -1;
		}
		t = &out->t[out->n];
		t->alt = alt;
		eq = memchr(s, '=', len);
		if (!eq) {
			/* a bare unit name, as journalctl -u takes it */
			size_t vlen = len + (memchr(s, '.', len) ? 0 : 8);

			t->field = "_SYSTEMD_UNIT";
			if (vlen >= sizeof(t->value)) {
				snprintf(err, errlen, "unit name too long");
				return -1;
			}
			snprintf(t->value, sizeof(t->value), "%.*s%s", (int)len, s,
				 memchr(s, '.', len) ? "" : ".service");
		} else {
			size_t flen = (size_t)(eq - s), vlen = len - flen - 1;

			t->field = trusted_field(s, flen);
			if (!t->field) {
				snprintf(err, errlen, "\"%.*s\" is not a field journald sets itself "
					 "(_SYSTEMD_UNIT, _EXE, _COMM, _UID, _GID)", (int)flen, s);
				return -1;
			}
			if (vlen == 0 || vlen >= sizeof(t->value)) {
				snprintf(err, errlen, "%s: value empty or too long", t->field);
				return -1;
			}
			memcpy(t->value, eq + 1, vlen);
			t->value[vlen] = '\0';
			if (!strcmp(t->field, "_UID") || !strcmp(t->field, "_GID")) {
				uid_t id;

				if (parse_id(t->value, vlen, &id) < 0) {
					snprintf(err, errlen, "%s=%s: expected a number", t->field,
						 t->value);
					return -1;
				}
			}
		}
		/* Only the uid: the kernel hands it over with the message.
		 * A unit is no writer: journald looks it up by process id
		 * after the message arrived, so a sender that exited at
		 * once can lend its pid to the unit's next process; and
		 * Dovecot's imap and pop3 processes (and what they start:
		 * Sieve extprograms, quota warning scripts) run in
		 * dovecot.service as the mail users. */
		if (!strcmp(t->field, "_UID"))
			anchored = 1;
		out->n++;
		terms_in_alt++;
		s += len;
	}
	out->alts = alt;
	return 0;
}
