/* pop3.c - POP3 login detection: line assembler, verb table, answer queue
 *
 * Only the server's word counts: a grant needs its "+OK" answering a line
 * that both it and we read as PASS, APOP or the last step of AUTH.  Every
 * rule below that aborts exists because some server could read the client
 * line differently from us, and a shifted answer must never grant.
 */
#include <string.h>

#include "pop3.h"

/* pop3_line.flags */
#define POP3_L_CR    0x01 /* last octet was a CR; the next one decides */
#define POP3_L_TEXT  0x02 /* the line has a printable octet, not a blank */
#define POP3_L_LF    0x04 /* a client line ended in a bare LF */
#define POP3_L_CRLF  0x08 /* a client line ended in CR LF */

enum phase {
	PH_GREETING, /* waiting for the server's first line */
	PH_READY,    /* each server line answers the queue head */
	PH_BODY,     /* inside a multi-line response, up to "." */
	PH_STOPPED,
};

/* What a client line is, kept in one queue byte: a class and flags. */
enum cls {
	C_OTHER,     /* unknown, or only valid after login: +OK is not understood */
	C_BLANK,     /* nothing printable: some servers answer, some skip it */
	C_USER,
	C_PASS,
	C_APOP,
	C_AUTH_LIST, /* AUTH without argument: +OK starts a mechanism list */
	C_AUTH,      /* AUTH mechanism [initial-response] */
	C_AUTH_ANON, /* AUTH ANONYMOUS: its success is nobody's login */
	C_CAPA,
	C_STLS,
	C_QUIT,
	C_UTF8,      /* RFC 6856 */
	C_LANG_LIST, /* LANG without argument: +OK starts a language list */
	C_LANG,      /* LANG tag */
};
#define Q_CLASS 0x0f
#define Q_STAR  0x10 /* starts with '*': a SASL cancel */
#define Q_LONG  0x20 /* longer than a command may be */
#define Q_EMPTY 0x40 /* no octet at all: an empty SASL response */

/* What a "+OK" answer to each class means (STLS and QUIT end inspection
 * on any answer).  Commands of the TRANSACTION state (STAT, LIST, RETR,
 * NOOP, ...) are C_OTHER: a server that accepts them before login is not
 * one we understand, and their multi-line bodies carry mail that a
 * client can write. */
enum on_ok { OK_ABORT, OK_LINE, OK_MULTI, OK_GRANT, OK_ANON };

static const uint8_t on_ok[Q_CLASS + 1] = {
	[C_OTHER] = OK_ABORT,     [C_BLANK] = OK_ABORT,
	[C_USER] = OK_LINE,       [C_PASS] = OK_GRANT,
	[C_APOP] = OK_GRANT,      [C_AUTH_LIST] = OK_MULTI,
	[C_AUTH] = OK_GRANT,      [C_AUTH_ANON] = OK_ANON,
	[C_CAPA] = OK_MULTI,      [C_UTF8] = OK_LINE,
	[C_LANG_LIST] = OK_MULTI, [C_LANG] = OK_LINE,
};

/* The commands of the AUTHORIZATION state.  Where the argument changes
 * the answer's shape, "bare" is the class without one. */
static const struct verb {
	char name[5];
	uint8_t bare, arg;
} verbs[] = {
	{ "USER", C_USER, C_USER },
	{ "PASS", C_PASS, C_PASS },
	{ "APOP", C_APOP, C_APOP },
	{ "AUTH", C_AUTH_LIST, C_AUTH },
	{ "CAPA", C_CAPA, C_CAPA },
	{ "STLS", C_STLS, C_STLS },
	{ "QUIT", C_QUIT, C_QUIT },
	{ "UTF8", C_UTF8, C_UTF8 },
	{ "LANG", C_LANG_LIST, C_LANG },
};

enum status { ST_BAD, ST_OK, ST_ERR, ST_CONT };

static enum proto_verdict stop(struct pop3 *m, enum proto_verdict v,
			       enum proto_reason r)
{
	m->phase = PH_STOPPED;
	m->verdict = (uint8_t)v;
	m->reason = (uint8_t)r;
	return v;
}

static int upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int same_nocase(const uint8_t *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (upper(p[i]) != s[i])
			return 0;
	return 1;
}

static int mech_char(int c)
{
	c = upper(c);
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* The octets that start an argument for every server: printable, not
 * a blank.  A server that splits on other whitespace (TAB, or 0xA0 in
 * some runtime) could see no argument where we see one, and "AUTH" with
 * no argument answers +OK with a list, not a login. */
static int arg_char(int c)
{
	return c > ' ' && c < 0x7f;
}

/* AUTH ANONYMOUS, ended by anything that cannot continue a mechanism
 * name, so that no server's word splitting can read it as another one. */
static int is_anonymous(const struct pop3_line *l)
{
	static const char anon[] = "ANONYMOUS";
	const size_t at = 5, n = sizeof(anon) - 1;

	_Static_assert(5 + sizeof(anon) - 1 < POP3_PEEK, "peek too short");
	if (l->len < at + n || !same_nocase(l->peek + at, anon, n))
		return 0;
	return l->len == at + n || !mech_char(l->peek[at + n]);
}

/* Classify a finished client line as a command; the class is ignored
 * when the line turns out to be a SASL response. */
static uint8_t client_class(const struct pop3_line *l)
{
	uint8_t flags = 0, cls = C_OTHER;

	if (l->len > POP3_CMD_MAX)
		flags |= Q_LONG;
	if (l->len > 0 && l->peek[0] == '*')
		flags |= Q_STAR;
	if (l->len == 0)
		flags |= Q_EMPTY;
	if (!(l->flags & POP3_L_TEXT))
		return C_BLANK | flags;
	/* A verb is four letters followed by a space or the line's end. */
	if (l->len < 4 || (l->len > 4 && l->peek[4] != ' '))
		return C_OTHER | flags;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb *v = &verbs[i];

		if (!same_nocase(l->peek, v->name, 4))
			continue;
		if (l->len <= 5)
			cls = v->bare;
		else if (arg_char(l->peek[5]))
			cls = v->arg;
		else
			cls = v->bare == v->arg ? v->arg : C_OTHER;
		if (cls == C_AUTH && is_anonymous(l))
			cls = C_AUTH_ANON;
		break;
	}
	return cls | flags;
}

static enum status server_status(const struct pop3_line *l)
{
	const uint8_t *p = l->peek;
	size_t n = l->len;

	if (n >= 3 && memcmp(p, "+OK", 3) == 0 &&
	    (n == 3 || p[3] == ' ' || p[3] == '\r'))
		return ST_OK;
	if (n >= 4 && memcmp(p, "-ERR", 4) == 0)
		return ST_ERR;
	if (n >= 1 && p[0] == '+' && (n == 1 || p[1] == ' '))
		return ST_CONT;
	return ST_BAD;
}

static enum proto_verdict client_line(struct pop3 *m)
{
	if (m->q_len == POP3_QUEUE)
		return stop(m, PROTO_ABORT, PR_OVERFLOW);
	m->queue[(m->q_head + m->q_len++) % POP3_QUEUE] = client_class(&m->cli);
	return PROTO_CONTINUE;
}

/* The answer to a SASL response line. */
static enum proto_verdict sasl_answer(struct pop3 *m, uint8_t e,
				      enum status st)
{
	uint8_t mech = m->sasl;

	if ((e & Q_STAR) && st != ST_ERR)
		return stop(m, PROTO_ABORT, PR_SYNTAX); /* cancel not honoured */
	/* An empty response is an RFC 5034 line every server answers; one
	 * of only blanks might be skipped, shifting every later answer. */
	if ((e & Q_CLASS) == C_BLANK && !(e & Q_EMPTY))
		return stop(m, PROTO_ABORT, PR_SYNTAX);
	if (st == ST_OK)
		return mech == C_AUTH_ANON ? stop(m, PROTO_DONE, PR_NONE) :
					     stop(m, PROTO_GRANT, PR_NONE);
	/* A line longer than a server's buffer may have been read as two,
	 * the second as a command with an answer of its own: every later
	 * answer could be shifted by one.  Only a "+OK" to it is safe. */
	if (e & Q_LONG)
		return stop(m, PROTO_ABORT, PR_OVERFLOW);
	if (st == ST_ERR)
		m->sasl = 0;
	return PROTO_CONTINUE;
}

/* The answer to a command line. */
static enum proto_verdict command_answer(struct pop3 *m, uint8_t e,
					 enum status st)
{
	uint8_t cls = e & Q_CLASS;

	if (e & Q_LONG)
		return stop(m, PROTO_ABORT, PR_OVERFLOW);
	if (cls == C_BLANK)
		return stop(m, PROTO_ABORT, PR_SYNTAX);
	if (st == ST_CONT) {
		if (cls != C_AUTH && cls != C_AUTH_ANON)
			return stop(m, PROTO_ABORT, PR_SYNTAX);
		m->sasl = cls;
		return PROTO_CONTINUE;
	}
	/* Whatever the answer, TLS or the end of the session follows. */
	if (cls == C_STLS)
		return stop(m, PROTO_DONE, PR_TLS);
	if (cls == C_QUIT)
		return stop(m, PROTO_DONE, PR_LOGOUT);
	if (st == ST_ERR)
		return PROTO_CONTINUE;
	switch (on_ok[cls]) {
	case OK_LINE:
		return PROTO_CONTINUE;
	case OK_MULTI:
		m->phase = PH_BODY;
		return PROTO_CONTINUE;
	case OK_GRANT:
		return stop(m, PROTO_GRANT, PR_NONE);
	case OK_ANON:
		return stop(m, PROTO_DONE, PR_NONE);
	default:
		return stop(m, PROTO_ABORT, PR_SYNTAX);
	}
}

static enum proto_verdict server_line(struct pop3 *m)
{
	const struct pop3_line *l = &m->srv;
	enum status st;
	uint8_t e;

	if (m->phase == PH_BODY) {
		/* Dot-stuffed lines are longer than one octet. */
		if (l->len == 1 && l->peek[0] == '.')
			m->phase = PH_READY;
		return PROTO_CONTINUE;
	}
	st = server_status(l);
	if (m->phase == PH_GREETING) {
		if (st == ST_OK) {
			m->phase = PH_READY;
			return PROTO_CONTINUE;
		}
		if (st == ST_ERR)
			return stop(m, PROTO_DONE, PR_LOGOUT);
		return stop(m, PROTO_ABORT, PR_SYNTAX);
	}
	if (st == ST_BAD)
		return stop(m, PROTO_ABORT, PR_SYNTAX);
	if (m->q_len == 0)
		return stop(m, PROTO_ABORT, PR_UNMATCHED);
	e = m->queue[m->q_head];
	m->q_head = (m->q_head + 1) % POP3_QUEUE;
	m->q_len--;
	return m->sasl ? sasl_answer(m, e, st) : command_answer(m, e, st);
}

static int line_put(struct pop3_line *l, uint8_t c, size_t max)
{
	if (l->len >= max)
		return -1;
	if (l->len < POP3_PEEK)
		l->peek[l->len] = c;
	l->len++;
	if (arg_char(c))
		l->flags |= POP3_L_TEXT;
	return 0;
}

/* A client line ended; refuse a client that mixes CR LF and bare LF,
 * since a server that splits only at CR LF would see fewer commands. */
static enum proto_verdict line_end(struct pop3 *m, enum proto_dir dir, int crlf)
{
	struct pop3_line *l = dir == DIR_TO_SERVER ? &m->cli : &m->srv;
	enum proto_verdict v;

	if (dir == DIR_TO_SERVER) {
		l->flags |= crlf ? POP3_L_CRLF : POP3_L_LF;
		if ((l->flags & POP3_L_CRLF) && (l->flags & POP3_L_LF))
			return stop(m, PROTO_ABORT, PR_SYNTAX);
		v = client_line(m);
	} else {
		v = server_line(m);
	}
	l->len = 0;
	l->flags &= POP3_L_LF | POP3_L_CRLF;
	return v;
}

void pop3_init(struct pop3 *m)
{
	memset(m, 0, sizeof(*m));
	m->phase = PH_GREETING;
	m->verdict = PROTO_CONTINUE;
	m->reason = PR_NONE;
}

enum proto_verdict pop3_feed(struct pop3 *m, enum proto_dir dir,
			     const uint8_t *data, size_t len)
{
	int cli = dir == DIR_TO_SERVER;
	struct pop3_line *l = cli ? &m->cli : &m->srv;
	size_t max = cli ? POP3_SASL_MAX : POP3_SRV_MAX;
	enum proto_verdict v;

	/* The caller stops after a verdict; a second grant is never given. */
	if (m->phase == PH_STOPPED)
		return m->verdict == PROTO_GRANT ? PROTO_DONE : m->verdict;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];

		if (l->flags & POP3_L_CR) {
			l->flags &= ~POP3_L_CR;
			if (c == '\n') {
				v = line_end(m, dir, 1);
				if (v != PROTO_CONTINUE)
					return v;
				continue;
			}
			/* Servers disagree on a bare CR in a command. */
			if (cli)
				return stop(m, PROTO_ABORT, PR_SYNTAX);
			if (line_put(l, '\r', max) < 0)
				return stop(m, PROTO_ABORT, PR_OVERFLOW);
		}
		if (c == '\r') {
			l->flags |= POP3_L_CR;
		} else if (c == '\n') {
			v = line_end(m, dir, 0);
			if (v != PROTO_CONTINUE)
				return v;
		} else if (c == '\0' && cli) {
			/* C servers end the string there, others do not. */
			return stop(m, PROTO_ABORT, PR_SYNTAX);
		} else if (line_put(l, c, max) < 0) {
			return stop(m, PROTO_ABORT, PR_OVERFLOW);
		}
	}
	return PROTO_CONTINUE;
}

enum proto_reason pop3_reason(const struct pop3 *m)
{
	return (enum proto_reason)m->reason;
}
