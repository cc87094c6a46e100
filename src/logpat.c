/* logpat.c - anchored matchers for POP3/IMAP login success log lines
 *
 * A line is <prefix><message>.  The prefix is parsed field by field
 * (priority, timestamp, host, program) and the program name picks the
 * servers whose message grammar is tried.  Messages of the different
 * servers start with different fixed words, so at most one can match.
 *
 * Inside a message the user name is the only text a client controls.
 * Each matcher reads the client address from a place the name cannot
 * reach: Cyrus writes the address before the name, so it is parsed
 * forwards; GNU Mailutils and popa3d write it in an earlier line of the
 * session (see match_mailutils, match_popa3d); Dovecot, Courier, UW and
 * qpopper write it after the name,
 * so the fixed tail those servers append is parsed from the end of the
 * line backwards, field by field, and whatever is left between the
 * fixed head and the tail is the name.  A name such as
 * "x>, method=PLAIN, rip=192.0.2.66, lip=" therefore only ever becomes
 * part of the name.  Lines with control characters never match: every
 * server we read sanitises or escapes them, so their presence means a
 * raw newline could have split a message and started a forged line.
 */
#include <stdio.h>
#include <string.h>

#include "logpat.h"

enum {
	S_DOVECOT = 1 << 0,
	S_COURIER = 1 << 1,
	S_CYRUS = 1 << 2,
	S_UW = 1 << 3,
	S_QPOPPER = 1 << 4,
	S_MAILUTILS = 1 << 5,
	S_POPA3D = 1 << 6,
};

/* Longest text form of an address (IPv4-mapped IPv6 with dots). */
#define ADDR_TEXT_MAX (ADDR_STRLEN - 1)

/* ---- character classes ---- */

static inline int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int is_addrch(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

/* Host names as resolvers hand them out, or an address literal. */
static inline int is_hostch(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '-' || c == '_' || c == ':';
}

static inline int is_progch(unsigned char c)
{
	return is_alnum(c) || c == '.' || c == '-' || c == '_' || c == '/';
}

/* SASL mechanism names (RFC 4422: upper case, digits, '-', '_'). */
static inline int is_mechch(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static inline int is_b64ch(unsigned char c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

/* ---- forward cursor: *p moves towards e ---- */

static int fw_lit(const char **p, const char *e, const char *s, size_t n)
{
	if ((size_t)(e - *p) < n || memcmp(*p, s, n) != 0)
		return 0;
	*p += n;
	return 1;
}
#define FW(p, e, s) fw_lit(p, e, s, sizeof(s) - 1)

/* A run of min..max characters of one class. */
static int fw_run(const char **p, const char *e, int (*cls)(unsigned char),
		  size_t min, size_t max)
{
	const char *q = *p;

	while (q < e && (size_t)(q - *p) < max && cls((unsigned char)*q))
		q++;
	if ((size_t)(q - *p) < min || (q < e && cls((unsigned char)*q)))
		return 0;
	*p = q;
	return 1;
}

static int fw_digits(const char **p, const char *e, size_t min, size_t max)
{
	const char *q = *p;

	while (q < e && (size_t)(q - *p) < max && is_digit((unsigned char)*q))
		q++;
	if ((size_t)(q - *p) < min || (q < e && is_digit((unsigned char)*q)))
		return 0;
	*p = q;
	return 1;
}

/* ---- backward cursor: *e moves towards b ---- */

static int bw_lit(const char *b, const char **e, const char *s, size_t n)
{
	if ((size_t)(*e - b) < n || memcmp(*e - n, s, n) != 0)
		return 0;
	*e -= n;
	return 1;
}
#define BW(b, e, s) bw_lit(b, e, s, sizeof(s) - 1)

/* A run of min..max class characters ending at *e, not preceded by
 * another one.  On success *start is its first character. */
static int bw_run(const char *b, const char **e, int (*cls)(unsigned char),
		  size_t min, size_t max, const char **start)
{
	const char *q = *e;

	while (q > b && (size_t)(*e - q) < max && cls((unsigned char)q[-1]))
		q--;
	if ((size_t)(*e - q) < min || (q > b && cls((unsigned char)q[-1])))
		return 0;
	*start = q;
	*e = q;
	return 1;
}

static int cls_digit(unsigned char c) { return is_digit(c); }
static int cls_alnum(unsigned char c) { return is_alnum(c); }
static int cls_addr(unsigned char c) { return is_addrch(c); }
static int cls_host(unsigned char c) { return is_hostch(c); }
static int cls_prog(unsigned char c) { return is_progch(c); }
static int cls_mech(unsigned char c) { return is_mechch(c); }
static int cls_b64(unsigned char c) { return is_b64ch(c); }

/* Cyrus session ids and qpopper source file names. */
static int cls_token(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '>' && c != '<' && c != '[' && c != ']';
}

static int host_addr(const char *s, size_t n, struct drac_addr *out)
{
	if (addr_parse_n(s, n, out) < 0)
		return 0;
	addr_unmap(out);
	return 1;
}

/* ADDR ending at *e, introduced by the literal `intro`. */
static int bw_addr(const char *b, const char **e, const char *intro, size_t n,
		   struct drac_addr *out)
{
	const char *q = *e, *s;

	if (!bw_run(b, &q, cls_addr, 1, ADDR_TEXT_MAX, &s) ||
	    !host_addr(s, (size_t)(*e - s), out) || !bw_lit(b, &q, intro, n))
		return 0;
	*e = q;
	return 1;
}
#define BW_ADDR(b, e, s, out) bw_addr(b, e, s, sizeof(s) - 1, out)

/* ---- prefix ---- */

struct hdr {
	const char *msg;
	const char *prog; /* NULL: Dovecot's own log file, no program */
	size_t proglen;
	const char *pid; /* NULL: none written */
	size_t pidlen;
};

/* "Nov 27 21:00:00" (day space- or zero-padded). */
static int fw_bsd_time(const char **p, const char *e)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *q = *p;
	int i;

	if (e - q < 15)
		return 0;
	for (i = 0; i < 12; i++)
		if (memcmp(q, months + 3 * i, 3) == 0)
			break;
	if (i == 12 || q[3] != ' ' || !(q[4] == ' ' || (q[4] >= '0' && q[4] <= '3')) ||
	    !is_digit(q[5]) || q[6] != ' ')
		return 0;
	q += 7;
	if (!fw_digits(&q, e, 2, 2) || !FW(&q, e, ":") || !fw_digits(&q, e, 2, 2) ||
	    !FW(&q, e, ":") || !fw_digits(&q, e, 2, 2))
		return 0;
	*p = q;
	return 1;
}

/* "2026-11-27T21:00:00[.frac][Z|+hh:mm|+hhmm]" */
static int fw_iso_time(const char **p, const char *e)
{
	const char *q = *p;

	if (!fw_digits(&q, e, 4, 4) || !FW(&q, e, "-") || !fw_digits(&q, e, 2, 2) ||
	    !FW(&q, e, "-") || !fw_digits(&q, e, 2, 2) || !FW(&q, e, "T") ||
	    !fw_digits(&q, e, 2, 2) || !FW(&q, e, ":") || !fw_digits(&q, e, 2, 2) ||
	    !FW(&q, e, ":") || !fw_digits(&q, e, 2, 2))
		return 0;
	if (FW(&q, e, ".") && !fw_digits(&q, e, 1, 9))
		return 0;
	if (q < e && (*q == '+' || *q == '-')) {
		q++;
		/* +hh:mm, or +hhmm as journalctl -o short-iso prints it */
		if (!fw_digits(&q, e, 4, 4) &&
		    (!fw_digits(&q, e, 2, 2) || !FW(&q, e, ":") || !fw_digits(&q, e, 2, 2)))
			return 0;
	} else {
		FW(&q, e, "Z");
	}
	*p = q;
	return 1;
}

/* RFC 5424 structured data: "-" or one or more [id param="v" ...],
 * values may hold \" \\ \] escapes. */
static int fw_sd(const char **p, const char *e)
{
	const char *q = *p;

	if (FW(&q, e, "-")) {
		*p = q;
		return 1;
	}
	if (q >= e || *q != '[')
		return 0;
	while (q < e && *q == '[') {
		int quoted = 0;

		for (q++; q < e; q++) {
			if (quoted && *q == '\\' && q + 1 < e) {
				q++;
			} else if (*q == '"') {
				quoted = !quoted;
			} else if (!quoted && *q == ']') {
				break;
			}
		}
		if (q >= e)
			return 0;
		q++;
	}
	*p = q;
	return 1;
}

static int fw_prog_pid(const char **p, const char *e, struct hdr *h)
{
	const char *q = *p;

	h->prog = q;
	if (!fw_run(&q, e, cls_prog, 1, 64))
		return 0;
	h->proglen = (size_t)(q - h->prog);
	*p = q;
	return 1;
}

/* "PROG: " or "PROG[PID]: " */
static int fw_tag(const char **p, const char *e, struct hdr *h)
{
	const char *q = *p;

	if (!fw_prog_pid(&q, e, h))
		return 0;
	h->pid = NULL;
	h->pidlen = 0;
	if (FW(&q, e, "[")) {
		h->pid = q;
		if (!fw_digits(&q, e, 1, 10))
			return 0;
		h->pidlen = (size_t)(q - h->pid);
		if (!FW(&q, e, "]"))
			return 0;
	}
	if (!FW(&q, e, ": "))
		return 0;
	*p = q;
	return 1;
}

static int parse_prefix(const char *p, const char *e, struct hdr *h)
{
	if (p < e && *p == '<') {
		p++;
		if (!fw_digits(&p, e, 1, 3) || !FW(&p, e, ">"))
			return 0;
	}
	if (FW(&p, e, "1 ")) {
		/* RFC 5424: VERSION TS HOST APP PROCID MSGID SD MSG */
		if (!(FW(&p, e, "-") || fw_iso_time(&p, e)) || !FW(&p, e, " ") ||
		    !fw_run(&p, e, cls_token, 1, 255) || !FW(&p, e, " ") ||
		    !fw_prog_pid(&p, e, h) || !FW(&p, e, " "))
			return 0;
		h->pid = p;
		if (FW(&p, e, "-"))
			h->pid = NULL;
		else if (!fw_digits(&p, e, 1, 10))
			return 0;
		h->pidlen = h->pid ? (size_t)(p - h->pid) : 0;
		if (!FW(&p, e, " ") || !fw_run(&p, e, cls_token, 1, 32) || !FW(&p, e, " ") ||
		    !fw_sd(&p, e) || !FW(&p, e, " "))
			return 0;
		FW(&p, e, "\xEF\xBB\xBF");
		h->msg = p;
		return 1;
	}
	if (!(fw_bsd_time(&p, e) || fw_iso_time(&p, e)) || !FW(&p, e, " "))
		return 0;
	/* Dovecot's log_path format has no host and no program. */
	if ((size_t)(e - p) >= 12 &&
	    (memcmp(p, "pop3-login: ", 12) == 0 || memcmp(p, "imap-login: ", 12) == 0)) {
		h->prog = NULL;
		h->proglen = 0;
		h->msg = p;
		return 1;
	}
	/* syslog(3), journald and logger send "TAG[PID]: " with no host
	 * to a local socket; syslog daemons write "HOST TAG[PID]: ".  A
	 * host never ends in ':', so the first word tells them apart. */
	if (!fw_tag(&p, e, h) &&
	    (!fw_run(&p, e, cls_host, 1, 255) || !FW(&p, e, " ") || !fw_tag(&p, e, h)))
		return 0;
	h->msg = p;
	return 1;
}

static unsigned prog_servers(const struct hdr *h)
{
	static const struct {
		const char *name;
		unsigned servers;
	} progs[] = {
		{ "dovecot", S_DOVECOT },
		{ "pop3d", S_COURIER | S_CYRUS | S_MAILUTILS },
		{ "pop3d-ssl", S_COURIER },
		{ "imapd", S_COURIER | S_UW | S_CYRUS },
		{ "imapd-ssl", S_COURIER },
		{ "ipop3d", S_UW },
		{ "imap4d", S_MAILUTILS },
		{ "popa3d", S_POPA3D },
		{ "imap", S_CYRUS },
		{ "imaps", S_CYRUS },
		{ "pop3", S_CYRUS },
		{ "pop3s", S_CYRUS },
		{ "qpopper", S_QPOPPER },
		{ "in.qpopper", S_QPOPPER },
		{ "popper", S_QPOPPER },
	};
	size_t i;

	if (!h->prog)
		return S_DOVECOT;
	/* Debian's Cyrus: syslog_prefix "cyrus" + "/" + service name. */
	if (h->proglen > 6 && memcmp(h->prog, "cyrus/", 6) == 0)
		return S_CYRUS;
	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (strlen(progs[i].name) == h->proglen &&
		    memcmp(progs[i].name, h->prog, h->proglen) == 0)
			return progs[i].servers;
	return 0;
}

/* ---- Dovecot ----
 * [pop3|imap]-login: [Info: ]Login: user=<NAME>, method=MECH, rip=ADDR,
 *   lip=ADDR[, mpid=N][, TLS|, secured][, session=<B64>]
 * Dovecot 2.3 cuts NAME at 80 bytes and turns control bytes into '?',
 * but leaves '>' and ',' alone (checked with 2.3.19.1). */
static int match_dovecot(const char *p, const char *e, struct drac_addr *out)
{
	const char *name, *q, *s;
	struct drac_addr lip;

	if (!(FW(&p, e, "pop3-login: ") || FW(&p, e, "imap-login: ")))
		return 0;
	FW(&p, e, "Info: ");
	if (!FW(&p, e, "Login: user=<"))
		return 0;
	name = p;
	q = e;
	if (q > name && q[-1] == '>') {
		const char *t = q - 1;

		if (bw_run(name, &t, cls_b64, 1, 64, &s) && BW(name, &t, ", session=<"))
			q = t;
	}
	if (!BW(name, &q, ", TLS"))
		BW(name, &q, ", secured");
	{
		const char *t = q;

		if (bw_run(name, &t, cls_digit, 1, 10, &s) && BW(name, &t, ", mpid="))
			q = t;
	}
	if (!BW_ADDR(name, &q, ", lip=", &lip) || !BW_ADDR(name, &q, ", rip=", out) ||
	    !bw_run(name, &q, cls_mech, 1, 32, &s) || !BW(name, &q, ", method=") ||
	    !BW(name, &q, ">"))
		return 0;
	return 1;
}

/* ---- Courier (via courierlogger) ----
 * [INFO: ]LOGIN, user=NAME, ip=[ADDR][, port=[N]][, protocol=P][, stls=1] */
static int match_courier(const char *p, const char *e, struct drac_addr *out)
{
	const char *name, *q, *s, *t;

	FW(&p, e, "INFO: ");
	if (!FW(&p, e, "LOGIN, user="))
		return 0;
	name = p;
	q = e;
	BW(name, &q, ", stls=1");
	t = q;
	if (bw_run(name, &t, cls_alnum, 1, 16, &s) && BW(name, &t, ", protocol="))
		q = t;
	t = q;
	if (BW(name, &t, "]") && bw_run(name, &t, cls_digit, 1, 5, &s) &&
	    BW(name, &t, ", port=["))
		q = t;
	if (!BW(name, &q, "]") || !BW_ADDR(name, &q, ", ip=[", out))
		return 0;
	return 1;
}

/* ---- Cyrus imapd / pop3d ----
 * login: [HOST ][ADDR] USER MECH[+TLS] User logged in[ SESSIONID=<ID>]
 * The address comes before the user name: parse it forwards. */
static int match_cyrus(const char *p, const char *e, struct drac_addr *out)
{
	const char *a, *user, *q, *s;

	if (!FW(&p, e, "login: "))
		return 0;
	if (p < e && *p != '[' && (!fw_run(&p, e, cls_host, 1, 255) || !FW(&p, e, " ")))
		return 0;
	if (!FW(&p, e, "["))
		return 0;
	a = p;
	if (!fw_run(&p, e, cls_addr, 1, ADDR_TEXT_MAX) || !host_addr(a, (size_t)(p - a), out) ||
	    !FW(&p, e, "] "))
		return 0;
	user = p;
	q = e;
	if (q > user && q[-1] == '>') {
		const char *t = q - 1;

		if (bw_run(user, &t, cls_token, 1, 128, &s) && BW(user, &t, " SESSIONID=<"))
			q = t;
	}
	if (!BW(user, &q, " User logged in"))
		return 0;
	BW(user, &q, "+TLS");
	if (!bw_run(user, &q, cls_mech, 1, 32, &s) || !BW(user, &q, " "))
		return 0;
	return q > user; /* a user name is there */
}

/* ---- UW imapd / ipop3d (c-client) ----
 * [Admin ]Login|Auth|APOP user=NAME host=[HOST ][ADDR][ nmsgs=N/N| no mailbox]
 * Authenticated user=NAME host=[HOST ][ADDR][ mech=MECH]
 * NAME and the host text are cut at 80 bytes (%.80s). */
static int match_uw(const char *p, const char *e, struct drac_addr *out)
{
	enum { V_LOGIN, V_POP, V_AUTHD } verb;
	const char *name, *q, *s, *t, *a, *ae;

	FW(&p, e, "Admin ");
	if (FW(&p, e, "Login user="))
		verb = V_LOGIN;
	else if (FW(&p, e, "Auth user=") || FW(&p, e, "APOP user="))
		verb = V_POP;
	else if (FW(&p, e, "Authenticated user="))
		verb = V_AUTHD;
	else
		return 0;
	name = p;
	q = e;
	if (verb == V_AUTHD) {
		t = q;
		if (bw_run(name, &t, cls_mech, 1, 32, &s) && BW(name, &t, " mech="))
			q = t;
	} else if (!BW(name, &q, " no mailbox")) {
		t = q;
		if (bw_run(name, &t, cls_digit, 1, 10, &s) && BW(name, &t, "/") &&
		    bw_run(name, &t, cls_digit, 1, 10, &s) && BW(name, &t, " nmsgs="))
			q = t;
		else if (verb == V_POP)
			return 0;
	}
	if (!BW(name, &q, "]"))
		return 0;
	ae = q;
	if (!bw_run(name, &q, cls_addr, 1, ADDR_TEXT_MAX, &a) ||
	    !host_addr(a, (size_t)(ae - a), out) || !BW(name, &q, "["))
		return 0;
	if (!BW(name, &q, " host=")) {
		if (!BW(name, &q, " ") || !bw_run(name, &q, cls_host, 1, 80, &s) ||
		    !BW(name, &q, " host="))
			return 0;
	}
	return 1;
}

/* ---- qpopper ----
 * (vVERSION) POP login by user "NAME" at (HOST) ADDR[ [file.c:N]] */
static int match_qpopper(const char *p, const char *e, struct drac_addr *out)
{
	const char *name, *q, *s, *t, *a, *ae;

	if (!FW(&p, e, "(v") || !fw_run(&p, e, cls_prog, 1, 24) ||
	    !FW(&p, e, ") POP login by user \""))
		return 0;
	name = p;
	q = e;
	t = q;
	if (BW(name, &t, "]") && bw_run(name, &t, cls_digit, 1, 10, &s) && BW(name, &t, ":") &&
	    bw_run(name, &t, cls_token, 1, 64, &s) && BW(name, &t, " ["))
		q = t;
	ae = q;
	if (!bw_run(name, &q, cls_addr, 1, ADDR_TEXT_MAX, &a) ||
	    !host_addr(a, (size_t)(ae - a), out) || !BW(name, &q, ") ") ||
	    !bw_run(name, &q, cls_host, 1, 255, &s) || !BW(name, &q, "\" at ("))
		return 0;
	return 1;
}

/* ---- GNU Mailutils pop3d / imap4d ----
 * Mailutils writes no address in its login lines.  With
 * `logging { session-id yes; }` and `acl { log from any; }` the
 * listener logs, before the session process reads a byte,
 *   SID ADDR                  (ADDR as 192.0.2.2, 0:0:0:0:0:FFFF:C000:202)
 * and the session process, under the same server-made SID, then logs
 *   SID user `NAME' logged in with mailbox `PATH' (N message[s])   (pop3d)
 *   SID user `NAME' logged in (source: MODULE)                      (imap4d)
 * (checked with Mailutils 3.15).  The address is remembered per
 * program and SID and handed out once, to that session's login line.
 * The client controls no byte before the SID and none of the tail, so
 * a name can neither forge the first line nor change whose address the
 * second one picks.  A session whose first line was pushed out of the
 * table (a flood of connections that never log in) grants nothing. */
#define SESSIONS 1024
#define MU_SID_MAX 32

/* Sessions whose first line named the client, until their login line.
 * A ring: the oldest entry makes room, so memory is fixed. */
struct session {
	char key[8 + MU_SID_MAX]; /* "pop3d SID", "imap4d SID", "popa3d[PID]"; "" when free */
	struct drac_addr addr;
};
static struct session sess_tab[SESSIONS];
static size_t sess_next;

static int mu_key(const struct hdr *h, const char *sid, size_t n, char *key)
{
	if (!h->prog || h->proglen > 6 || n > MU_SID_MAX)
		return 0;
	memcpy(key, h->prog, h->proglen);
	key[h->proglen] = ' ';
	memcpy(key + h->proglen + 1, sid, n);
	key[h->proglen + 1 + n] = '\0';
	return 1;
}

static void sess_put(const char *key, const struct drac_addr *a)
{
	size_t i;

	for (i = 0; i < SESSIONS; i++)
		if (strcmp(sess_tab[i].key, key) == 0)
			break;
	if (i == SESSIONS) {
		i = sess_next;
		sess_next = (sess_next + 1) % SESSIONS;
	}
	snprintf(sess_tab[i].key, sizeof(sess_tab[i].key), "%s", key);
	sess_tab[i].addr = *a;
}

/* Hand out a session's address once. */
static int sess_take(const char *key, struct drac_addr *out)
{
	for (size_t i = 0; i < SESSIONS; i++) {
		if (sess_tab[i].key[0] && strcmp(sess_tab[i].key, key) == 0) {
			*out = sess_tab[i].addr;
			sess_tab[i].key[0] = '\0';
			return 1;
		}
	}
	return 0;
}

static int match_mailutils(const struct hdr *h, const char *p, const char *e,
			   struct drac_addr *out)
{
	char key[sizeof(sess_tab[0].key)];
	const char *sid = p, *name, *q, *s;
	struct drac_addr a;

	if (!fw_run(&p, e, cls_alnum, 1, MU_SID_MAX) || !mu_key(h, sid, (size_t)(p - sid), key) ||
	    !FW(&p, e, " "))
		return 0;
	/* The listener's line: remember, grant nothing. */
	q = p;
	if (fw_run(&q, e, cls_addr, 1, ADDR_TEXT_MAX) && q == e) {
		if (host_addr(p, (size_t)(e - p), &a))
			sess_put(key, &a);
		return 0;
	}
	if (!FW(&p, e, "user `"))
		return 0;
	name = p;
	q = e;
	if (h->proglen == 5 && memcmp(h->prog, "pop3d", 5) == 0) {
		if (!BW(name, &q, ")"))
			return 0;
		BW(name, &q, "s");
		if (!BW(name, &q, " message") || !bw_run(name, &q, cls_digit, 1, 10, &s) ||
		    !BW(name, &q, "' ("))
			return 0;
		/* The mailbox path may hold the name: any "' logged in
		 * with mailbox `" will do, the SID already said whose. */
		if (!memmem(name, (size_t)(q - name), "' logged in with mailbox `", 26))
			return 0;
	} else if (!BW(name, &q, ")") || !bw_run(name, &q, cls_alnum, 1, 32, &s) ||
		   !BW(name, &q, "' logged in (source: ")) {
		return 0;
	}
	return sess_take(key, out);
}

/* ---- popa3d ----
 * Each session is one process, which logs (checked with popa3d 1.0.3)
 *   popa3d[PID]: Session from ADDR
 *   popa3d[PID]: Authentication passed for NAME
 * (or "Authentication failed for NAME", "Didn't attempt authentication")
 * so the PID pairs them.  A PID is reused only after its session ended
 * and, for a stale entry to be picked up, before 1024 later sessions
 * pushed that entry out of the table, which the PID space (32768 at
 * least, every fork counts) makes impossible; a failure line forgets
 * the session at once.  Debian's popa3d listens on IPv4 only. */
static int match_popa3d(const struct hdr *h, const char *p, const char *e,
			struct drac_addr *out)
{
	char key[sizeof(sess_tab[0].key)];
	struct drac_addr a;
	const char *q = p;

	if (!h->pid || h->pidlen > 10)
		return 0;
	snprintf(key, sizeof(key), "popa3d[%.*s]", (int)h->pidlen, h->pid);
	if (FW(&q, e, "Session from ")) {
		if (fw_run(&q, e, cls_addr, 1, ADDR_TEXT_MAX) && q == e &&
		    host_addr(p + 13, (size_t)(e - p - 13), &a))
			sess_put(key, &a);
		return 0;
	}
	if (FW(&q, e, "Authentication failed for ") || FW(&q, e, "Didn't attempt authentication")) {
		sess_take(key, &a);
		return 0;
	}
	if (!FW(&q, e, "Authentication passed for "))
		return 0;
	return sess_take(key, out);
}

void logpat_reset(void)
{
	memset(sess_tab, 0, sizeof(sess_tab));
	sess_next = 0;
}

int logpat_match(const char *line, size_t len, struct drac_addr *client,
		 const char **server)
{
	const char *e = line + len;
	struct drac_addr a;
	struct hdr h = { 0 };
	unsigned servers;

	if (!line || len == 0 || len > LOGPAT_MAX_LINE)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return 0;
	if (!parse_prefix(line, e, &h))
		return 0;
	servers = prog_servers(&h);
	if ((servers & S_DOVECOT) && match_dovecot(h.msg, e, &a)) {
		*server = "dovecot";
	} else if ((servers & S_COURIER) && match_courier(h.msg, e, &a)) {
		*server = "courier";
	} else if ((servers & S_CYRUS) && match_cyrus(h.msg, e, &a)) {
		*server = "cyrus";
	} else if ((servers & S_UW) && match_uw(h.msg, e, &a)) {
		*server = "uw";
	} else if ((servers & S_QPOPPER) && match_qpopper(h.msg, e, &a)) {
		*server = "qpopper";
	} else if ((servers & S_MAILUTILS) && match_mailutils(&h, h.msg, e, &a)) {
		*server = "mailutils";
	} else if ((servers & S_POPA3D) && match_popa3d(&h, h.msg, e, &a)) {
		*server = "popa3d";
	} else {
		return 0;
	}
	*client = a;
	return 1;
}
