/* imap.c - IMAP login detection: command line parser, pending tags,
 * response parser
 *
 * Only the server's word counts: a grant needs its tagged OK carrying
 * the tag of a command that both it and we read as LOGIN or
 * AUTHENTICATE.  The client is the adversary.  An OK for a command we
 * did not see (hidden in what we took for a literal, or behind a line
 * end the server placed elsewhere) must never land on a login we did
 * see, so every rule below that aborts exists because some server could
 * split the client's bytes into commands differently from us.
 */
#include <string.h>

#include "imap.h"

_Static_assert(IMAP_PENDING_MAX <= 8, "s_match is one byte");
_Static_assert(IMAP_TAG_MAX < 255 && IMAP_WORD_MAX < 255, "uint8_t lengths");

/* What an unanswered command is. */
enum kind {
	K_OTHER,
	K_LOGIN,
	K_AUTH,     /* AUTHENTICATE */
	K_STARTTLS,
	K_LOGOUT,
	K_IDLE,     /* answers "+" itself: a continuation becomes ambiguous */
};
#define K_MASK 0x0f
#define K_ANON 0x10 /* LOGIN anonymous, AUTHENTICATE ANONYMOUS: nobody's */

static const struct {
	char name[IMAP_WORD_MAX + 1];
	uint8_t kind;
} commands[] = {
	{ "LOGIN", K_LOGIN },   { "AUTHENTICATE", K_AUTH },
	{ "STARTTLS", K_STARTTLS }, { "LOGOUT", K_LOGOUT },
	{ "IDLE", K_IDLE },
};

enum cstate {
	C_LINE,        /* start of a command line */
	C_TAG,
	C_WORD,        /* command name */
	C_ARG,         /* between arguments */
	C_ATOM,
	C_AFTER_CLOSE, /* after ')' */
	C_AFTER_STR,   /* after a quoted string or a literal */
	C_QUOTED,
	C_QUOTED_ESC,
	C_LIT_SIZE,    /* "{" digits */
	C_LIT_PLUS,    /* "{" digits "+" */
	C_LIT_EOL,     /* after "}": CRLF or LF */
	C_LIT_LF,
	C_LIT_WAIT,    /* synchronizing literal: the server has not said "+" */
	C_LIT_DATA,
	C_CR,          /* CR ending a command line */
	C_AUTH_WAIT,   /* AUTHENTICATE: the server has the word */
	C_AUTH_LINE,   /* a SASL response line, after "+" */
	C_AUTH_CR,
	C_TLS_WAIT,    /* STARTTLS sent: what follows is TLS */
};

/* c_litf */
#define LF_DIGIT 0x01
#define LF_PLUS  0x02

enum sstate {
	S_LINE,   /* start of a response line */
	S_STAR,   /* "*", expecting SP */
	S_TAG,
	S_WORD,   /* status word, or the keyword of untagged data */
	S_CODE0,  /* first octet of resp-text: "[" starts a code */
	S_CODE,   /* response code name */
	S_CAPS,   /* capability list */
	S_TEXT,   /* human text up to LF: never a literal */
	S_DATA,   /* untagged data: a "{n}" before CRLF is a literal */
	S_LIT,
};

/* s_lst: progress of "{" digits "}" [CR] seen at the end of data */
enum { L_NONE, L_OPEN, L_DIGITS, L_CLOSE, L_CR };

static void stop(struct imap *m, enum proto_verdict v, enum proto_reason r)
{
	m->verdict = v;
	m->reason = r;
}

static void fail(struct imap *m, enum proto_reason r)
{
	stop(m, PROTO_ABORT, r);
}

static uint8_t upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

static int is_alnum(uint8_t c)
{
	c = upper(c);
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 3501 tag octets, 7-bit, minus '/' (Dovecot before 2.3 refused it)
 * and ']'. */
static int tag_char(uint8_t c)
{
	return c > ' ' && c < 0x7f && !strchr("(){%*\"\\+/]", c);
}

/* Atom octets that no server we know of rejects.  Any other octet makes
 * the line "unclean": a server may answer BAD there and skip to the next
 * LF, which is harmless unless a non-synchronizing literal follows. */
static int clean_char(uint8_t c)
{
	return is_alnum(c) ||
	       (c > ' ' && c < 0x7f && strchr("!#$&'+,-./:;<=>?@^_`|~", c));
}

/* The tags clients really use; a server may refuse others. */
static int clean_tag_char(uint8_t c)
{
	return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

static int word_is(const uint8_t *w, uint8_t n, const char *s)
{
	return n == strlen(s) && memcmp(w, s, n) == 0;
}

static void word_add(uint8_t *w, uint8_t *n, uint8_t c)
{
	if (*n < IMAP_WORD_MAX)
		w[(*n)++] = upper(c);
	else
		*n = IMAP_WORD_MAX + 1; /* too long: matches nothing */
}

static struct imap_cmd *last_cmd(struct imap *m)
{
	return &m->pending[m->npending - 1];
}

static int is_login(uint8_t kind)
{
	return (kind & K_MASK) == K_LOGIN || (kind & K_MASK) == K_AUTH;
}

void imap_init(struct imap *m)
{
	memset(m, 0, sizeof(*m));
	m->verdict = PROTO_CONTINUE;
	m->reason = PR_NONE;
	m->c_state = C_LINE;
	m->c_clean = 1;
	m->s_state = S_LINE;
}

enum proto_reason imap_reason(const struct imap *m)
{
	return m->reason;
}

/* ---- client -> server ---- */

static uint32_t cli_max(struct imap *m)
{
	if (m->c_open && (last_cmd(m)->kind & K_MASK) == K_AUTH)
		return IMAP_SASL_MAX;
	return IMAP_LINE_MAX;
}

/* The tag and name are read: the command is now one the server owes an
 * answer to. */
static void cli_commit(struct imap *m)
{
	uint8_t kind = K_OTHER;
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (word_is(m->c_word, m->c_wlen, commands[i].name))
			kind = commands[i].kind;
	/* Two unanswered commands with one tag: an OK could be either's. */
	for (i = 0; i < m->npending; i++) {
		const struct imap_cmd *p = &m->pending[i];

		if (p->tag_len == m->next.tag_len &&
		    memcmp(p->tag, m->next.tag, p->tag_len) == 0 &&
		    (is_login(p->kind) || is_login(kind))) {
			fail(m, PR_SYNTAX);
			return;
		}
	}
	if (m->npending == IMAP_PENDING_MAX) {
		fail(m, PR_OVERFLOW);
		return;
	}
	m->next.kind = kind;
	m->pending[m->npending++] = m->next;
	m->c_open = 1;
	m->c_depth = 0;
	m->c_argn = 0;
	m->c_alen = 0;
}

static void cli_line_end(struct imap *m)
{
	struct imap_cmd *c;

	m->c_len = 0;
	m->c_total = 0;
	m->c_clean = 1;
	m->c_state = C_LINE;
	if (!m->c_open)
		return; /* empty line */
	c = last_cmd(m);
	if (is_login(c->kind) && word_is(m->c_arg, m->c_alen, "ANONYMOUS"))
		c->kind |= K_ANON;
	switch (c->kind & K_MASK) {
	case K_AUTH:
		m->c_state = C_AUTH_WAIT;
		break;
	case K_STARTTLS:
		m->c_state = C_TLS_WAIT;
		break;
	default:
		m->c_open = 0;
	}
}

static void cli_eol(struct imap *m, uint8_t c)
{
	if (c == '\r') {
		m->c_state = C_CR;
		return;
	}
	m->c_lf = 1;
	cli_line_end(m);
}

/* The first top-level argument is kept: LOGIN's user name or
 * AUTHENTICATE's mechanism, to tell an anonymous login. */
static void arg_begin(struct imap *m)
{
	if (m->c_depth == 0 && m->c_argn < 255)
		m->c_argn++;
}

static void arg_octet(struct imap *m, uint8_t c)
{
	if (m->c_argn == 1 && m->c_depth == 0)
		word_add(m->c_arg, &m->c_alen, c);
}

static void atom_octet(struct imap *m, uint8_t c)
{
	if (!clean_char(c))
		m->c_clean = 0;
	arg_octet(m, c);
}

static void paren_open(struct imap *m)
{
	if (m->c_depth < 255)
		m->c_depth++;
	if (m->c_depth > 8)
		m->c_clean = 0;
}

static void paren_close(struct imap *m)
{
	if (m->c_depth == 0)
		m->c_clean = 0; /* Dovecot: "Unexpected ')'" */
	else
		m->c_depth--;
}

/* The literal header's line end is read.  A synchronizing literal is
 * data only once the server said "+": it may answer NO or BAD instead,
 * and then the bytes after the header are its next command.  A
 * non-synchronizing one is data at once, if the server reads it that
 * way: it must have advertised LITERAL+/- (else "{5+}" is a syntax
 * error to it), and nothing before it on the line may have made the
 * server give up on the line (Dovecot answers BAD and skips to the next
 * LF, the one after this header, and would run the literal's content as
 * commands).  Dovecot's line limit counts literal octets, hence the
 * bound on the whole line so far.  A server that ends lines only at
 * CRLF would still be inside the line after a bare LF, hence CRLF here
 * and on the line before.  A server that did not advertise LITERAL+ may
 * still read "{n+}" as a literal, as GNU mailutils imap4d does: it then
 * says "+" as for a synchronizing one.  We read the bytes as a literal
 * and let that "+" prove the server did too: until it came, no answer
 * to the command counts (srv_continue, srv_answer). */
static void lit_go(struct imap *m, int crlf)
{
	if (!(m->c_litf & LF_PLUS)) {
		m->c_state = C_LIT_WAIT;
		return;
	}
	if (!m->c_clean || !crlf || m->c_lf) {
		fail(m, PR_SYNTAX);
		return;
	}
	if (m->c_total + m->c_lit > IMAP_NONSYNC_MAX || (!m->nonsync && m->c_owed == 255)) {
		fail(m, PR_OVERFLOW);
		return;
	}
	if (!m->nonsync)
		m->c_owed++;
	m->c_state = m->c_lit ? C_LIT_DATA : C_AFTER_STR;
}

static void cli_octet(struct imap *m, uint8_t c)
{
	if (++m->c_len > cli_max(m)) {
		fail(m, PR_OVERFLOW);
		return;
	}
	m->c_total++;

	switch (m->c_state) {
	case C_LINE:
		if (c == '\r' || c == '\n') {
			cli_eol(m, c);
			return;
		}
		if (!tag_char(c))
			break;
		if (!clean_tag_char(c))
			m->c_clean = 0;
		m->next.tag[0] = c;
		m->next.tag_len = 1;
		m->c_state = C_TAG;
		return;

	case C_TAG:
		if (c == ' ') {
			m->c_wlen = 0;
			m->c_state = C_WORD;
			return;
		}
		if (!tag_char(c))
			break;
		if (m->next.tag_len == IMAP_TAG_MAX) {
			fail(m, PR_OVERFLOW);
			return;
		}
		if (!clean_tag_char(c))
			m->c_clean = 0;
		m->next.tag[m->next.tag_len++] = c;
		return;

	case C_WORD:
		if (c == ' ' || c == '\r' || c == '\n') {
			if (m->c_wlen == 0)
				break;
			cli_commit(m);
			if (m->verdict != PROTO_CONTINUE)
				return;
			if (c == ' ')
				m->c_state = C_ARG;
			else
				cli_eol(m, c);
			return;
		}
		if (is_ctl(c) || c >= 0x7f || strchr("(){\"", c))
			break;
		if (!is_alnum(c))
			m->c_clean = 0;
		word_add(m->c_word, &m->c_wlen, c);
		return;

	case C_ARG:
		switch (c) {
		case ' ':
			m->c_clean = 0; /* blanks in a row */
			return;
		case '\r':
		case '\n':
			cli_eol(m, c);
			return;
		case '"':
			arg_begin(m);
			m->c_state = C_QUOTED;
			return;
		case '{':
			arg_begin(m);
			m->c_lit = 0;
			m->c_litf = 0;
			m->c_state = C_LIT_SIZE;
			return;
		case '(':
			arg_begin(m);
			paren_open(m);
			return;
		case ')':
			paren_close(m);
			m->c_state = C_AFTER_CLOSE;
			return;
		}
		if (is_ctl(c))
			break;
		arg_begin(m);
		atom_octet(m, c);
		m->c_state = C_ATOM;
		return;

	case C_ATOM:
	case C_AFTER_CLOSE:
		switch (c) {
		case ' ':
			m->c_state = C_ARG;
			return;
		case '\r':
		case '\n':
			cli_eol(m, c);
			return;
		case '(':
			/* Dovecot: "Invalid characters in atom" */
			m->c_clean = 0;
			paren_open(m);
			m->c_state = C_ARG;
			return;
		case ')':
			paren_close(m);
			m->c_state = C_AFTER_CLOSE;
			return;
		case '"':
		case '{':
			/* Inside an atom some servers see a string or a
			 * literal ("line ends in }"), others an error. */
			break;
		default:
			if (is_ctl(c))
				break;
			if (m->c_state == C_AFTER_CLOSE) {
				m->c_clean = 0;
				arg_begin(m);
			}
			atom_octet(m, c);
			m->c_state = C_ATOM;
			return;
		}
		break;

	case C_AFTER_STR:
		switch (c) {
		case ' ':
			m->c_state = C_ARG;
			return;
		case '\r':
		case '\n':
			cli_eol(m, c);
			return;
		case ')':
			paren_close(m);
			m->c_state = C_AFTER_CLOSE;
			return;
		}
		break;

	case C_QUOTED:
		if (c == '"') {
			m->c_state = C_AFTER_STR;
			return;
		}
		if (c == '\\') {
			m->c_state = C_QUOTED_ESC;
			return;
		}
		if (c == '\r' || c == '\n' || c == 0)
			break;
		if (is_ctl(c) || c >= 0x7f)
			m->c_clean = 0;
		arg_octet(m, c);
		return;

	case C_QUOTED_ESC:
		/* RFC 3501 has only these two; servers differ on others. */
		if (c != '"' && c != '\\')
			break;
		arg_octet(m, c);
		m->c_state = C_QUOTED;
		return;

	case C_LIT_SIZE:
		if (c >= '0' && c <= '9') {
			m->c_lit = m->c_lit * 10 + (c - '0');
			if (m->c_lit > IMAP_LITERAL_MAX) {
				fail(m, PR_OVERFLOW);
				return;
			}
			m->c_litf |= LF_DIGIT;
			return;
		}
		if (!(m->c_litf & LF_DIGIT))
			break;
		if (c == '+') {
			m->c_litf |= LF_PLUS;
			m->c_state = C_LIT_PLUS;
			return;
		}
		if (c != '}')
			break;
		m->c_state = C_LIT_EOL;
		return;

	case C_LIT_PLUS:
		if (c != '}')
			break;
		m->c_state = C_LIT_EOL;
		return;

	case C_LIT_EOL:
		if (c == '\r') {
			m->c_state = C_LIT_LF;
			return;
		}
		if (c != '\n')
			break;
		lit_go(m, 0);
		return;

	case C_LIT_LF:
		if (c != '\n')
			break;
		lit_go(m, 1);
		return;

	case C_CR:
		if (c != '\n')
			break; /* a bare CR: servers disagree on what it is */
		m->c_lf = 0;
		cli_line_end(m);
		return;

	case C_AUTH_LINE:
		if (c == '\r') {
			m->c_state = C_AUTH_CR;
			return;
		}
		if (c == 0)
			break;
		if (c == '\n') {
			m->c_len = 0;
			m->c_state = C_AUTH_WAIT;
		}
		return;

	case C_AUTH_CR:
		if (c != '\n')
			break;
		m->c_len = 0;
		m->c_state = C_AUTH_WAIT;
		return;

	case C_TLS_WAIT:
		stop(m, PROTO_DONE, PR_TLS);
		return;

	case C_LIT_WAIT:  /* did not wait for "+" */
	case C_AUTH_WAIT: /* did not wait for "+" or the answer */
	case C_LIT_DATA:  /* handled in cli_feed() */
		break;
	}
	fail(m, PR_SYNTAX);
}

static size_t cli_feed(struct imap *m, const uint8_t *p, size_t len)
{
	size_t i = 0, n;

	while (i < len && m->verdict == PROTO_CONTINUE) {
		if (m->c_state != C_LIT_DATA) {
			cli_octet(m, p[i++]);
			continue;
		}
		n = len - i < m->c_lit ? len - i : m->c_lit;
		for (size_t k = 0; k < n && k <= IMAP_WORD_MAX; k++)
			arg_octet(m, p[i + k]);
		/* RFC 3501 literals have no NUL; a server may refuse it */
		if (memchr(p + i, 0, n))
			m->c_clean = 0;
		m->c_lit -= n;
		m->c_total += n;
		i += n;
		if (m->c_lit == 0)
			m->c_state = C_AFTER_STR;
	}
	return i;
}

/* ---- server -> client ---- */

static void srv_line_end(struct imap *m)
{
	m->s_state = S_LINE;
	m->s_len = 0;
}

/* "+": the go-ahead for exactly one waiting client: a synchronizing
 * literal or an AUTHENTICATE exchange.  The client sends nothing while
 * either waits, so the continuation is theirs, unless an IDLE could
 * claim it. */
static void srv_continue(struct imap *m)
{
	if (!m->greeted) {
		fail(m, PR_SYNTAX);
		return;
	}
	for (int i = 0; i < m->npending; i++)
		if ((m->pending[i].kind & K_MASK) == K_IDLE) {
			fail(m, PR_UNMATCHED);
			return;
		}
	/* The oldest thing waiting for a "+" is an unadvertised "{n+}". */
	if (m->c_owed) {
		m->c_owed--;
		return;
	}
	if (m->c_state == C_LIT_WAIT) {
		m->c_state = m->c_lit ? C_LIT_DATA : C_AFTER_STR;
	} else if (m->c_state == C_AUTH_WAIT) {
		m->c_len = 0;
		m->c_state = C_AUTH_LINE;
	} else {
		fail(m, PR_UNMATCHED);
	}
}

/* A tagged OK, NO or BAD for pending[idx]. */
static void srv_answer(struct imap *m, uint8_t idx, int ok)
{
	struct imap_cmd c = m->pending[idx];

	/* An answer before the "+" an unadvertised "{n+}" needs: the server
	 * did not read it as a literal, so it split the line elsewhere. */
	if (m->c_owed) {
		fail(m, PR_SYNTAX);
		return;
	}

	if (idx == m->npending - 1 && m->c_open) {
		/* The answer to a command whose line is not finished is
		 * only sane where the server has the word. */
		switch (m->c_state) {
		case C_LIT_WAIT:  /* literal refused: the line ends here */
			if (ok) {
				fail(m, PR_SYNTAX);
				return;
			}
			break;
		case C_AUTH_LINE: /* the server gave up before the response */
			if (m->c_len) {
				fail(m, PR_SYNTAX);
				return;
			}
			break;
		case C_AUTH_WAIT:
		case C_TLS_WAIT:
			break;
		default:
			fail(m, PR_SYNTAX);
			return;
		}
		m->c_open = 0;
		m->c_len = 0;
		m->c_total = 0;
		m->c_clean = 1;
		m->c_state = C_LINE;
	}
	memmove(&m->pending[idx], &m->pending[idx + 1],
		(size_t)(m->npending - idx - 1) * sizeof(m->pending[0]));
	m->npending--;
	if (!ok)
		return;
	switch (c.kind & K_MASK) {
	case K_LOGIN:
	case K_AUTH:
		if (c.kind & K_ANON)
			stop(m, PROTO_DONE, PR_NONE);
		else
			stop(m, PROTO_GRANT, PR_NONE);
		break;
	case K_STARTTLS:
		stop(m, PROTO_DONE, PR_TLS);
		break;
	case K_LOGOUT:
		stop(m, PROTO_DONE, PR_LOGOUT);
		break;
	}
}

/* The word after the tag or "*" is complete; returns the state for the
 * rest of the line. */
static uint8_t srv_word(struct imap *m)
{
	const uint8_t *w = m->s_word, n = m->s_wlen;
	int ok;

	if (m->s_tagged) {
		ok = word_is(w, n, "OK");
		if (!ok && !word_is(w, n, "NO") && !word_is(w, n, "BAD")) {
			fail(m, PR_SYNTAX);
			return S_TEXT;
		}
		srv_answer(m, m->s_idx, ok);
		return S_CODE0;
	}
	if (word_is(w, n, "OK")) {
		m->greeted = 1;
		return S_CODE0;
	}
	if (word_is(w, n, "BYE") || word_is(w, n, "PREAUTH")) {
		stop(m, PROTO_DONE, PR_LOGOUT);
		return S_TEXT;
	}
	if (!m->greeted || n == 0) {
		fail(m, PR_SYNTAX);
		return S_TEXT;
	}
	if (word_is(w, n, "NO") || word_is(w, n, "BAD")) {
		/* An unadvertised "{n+}" refused. */
		if (m->c_owed)
			fail(m, PR_SYNTAX);
		return S_CODE0;
	}
	if (word_is(w, n, "CAPABILITY")) {
		m->s_wlen = 0;
		return S_CAPS;
	}
	m->s_lst = L_NONE;
	return S_DATA;
}

static void cap_done(struct imap *m)
{
	const uint8_t *w = m->s_word, n = m->s_wlen;

	/* IMAP4rev2 includes LITERAL-; we never allow more than it. */
	if (word_is(w, n, "LITERAL+") || word_is(w, n, "LITERAL-") ||
	    word_is(w, n, "IMAP4REV2"))
		m->nonsync = 1;
	m->s_wlen = 0;
}

static void srv_octet(struct imap *m, uint8_t c)
{
	if (++m->s_len > IMAP_SRV_MAX) {
		fail(m, PR_OVERFLOW);
		return;
	}
	if (c == 0) {
		fail(m, PR_SYNTAX);
		return;
	}

	switch (m->s_state) {
	case S_LINE:
		if (c == '+') {
			srv_continue(m);
			m->s_state = S_TEXT;
			return;
		}
		if (c == '*') {
			m->s_state = S_STAR;
			return;
		}
		if (!m->greeted || !tag_char(c)) {
			fail(m, PR_SYNTAX);
			return;
		}
		m->s_match = (uint8_t)((1u << m->npending) - 1);
		m->s_tpos = 0;
		m->s_state = S_TAG;
		/* fall through */
	case S_TAG:
		if (c == ' ') {
			uint8_t i;

			for (i = 0; i < m->npending; i++)
				if ((m->s_match >> i & 1) &&
				    m->pending[i].tag_len == m->s_tpos)
					break;
			if (i == m->npending) {
				fail(m, PR_UNMATCHED);
				return;
			}
			m->s_idx = i;
			m->s_tagged = 1;
			m->s_wlen = 0;
			m->s_state = S_WORD;
			return;
		}
		if (c == '\r' || c == '\n') {
			fail(m, PR_SYNTAX);
			return;
		}
		for (uint8_t i = 0; i < m->npending; i++)
			if (m->s_tpos >= m->pending[i].tag_len ||
			    m->pending[i].tag[m->s_tpos] != c)
				m->s_match &= (uint8_t)~(1u << i);
		if (m->s_tpos < 255)
			m->s_tpos++;
		return;

	case S_STAR:
		if (c != ' ') {
			fail(m, PR_SYNTAX);
			return;
		}
		m->s_tagged = 0;
		m->s_wlen = 0;
		m->s_state = S_WORD;
		return;

	case S_WORD:
		if (c == ' ' || c == '\r' || c == '\n') {
			uint8_t next = srv_word(m);

			if (m->verdict != PROTO_CONTINUE)
				return;
			if (c == '\n')
				srv_line_end(m);
			else
				m->s_state = c == ' ' ? next : S_TEXT;
			return;
		}
		word_add(m->s_word, &m->s_wlen, c);
		return;

	case S_CODE0:
		if (c == '[') {
			m->s_wlen = 0;
			m->s_state = S_CODE;
			return;
		}
		m->s_state = S_TEXT;
		break;

	case S_CODE:
		if (c == ' ' && word_is(m->s_word, m->s_wlen, "CAPABILITY")) {
			m->s_wlen = 0;
			m->s_state = S_CAPS;
			return;
		}
		if (c == ' ' || c == ']' || c == '\r' || c == '\n') {
			m->s_state = S_TEXT;
			break;
		}
		word_add(m->s_word, &m->s_wlen, c);
		return;

	case S_CAPS:
		if (c == ' ' || c == ']' || c == '\r' || c == '\n') {
			cap_done(m);
			if (c == ' ')
				return;
			m->s_state = S_TEXT;
			break;
		}
		word_add(m->s_word, &m->s_wlen, c);
		return;

	case S_DATA:
		/* Only untagged data carries literals (RFC 3501
		 * resp-text has none): "{" digits "}" CRLF. */
		if (c == '\n') {
			if (m->s_lst == L_CLOSE || m->s_lst == L_CR) {
				if (m->s_lit > IMAP_LITERAL_MAX) {
					fail(m, PR_OVERFLOW);
					return;
				}
				m->s_lst = L_NONE;
				if (m->s_lit)
					m->s_state = S_LIT;
				return;
			}
			srv_line_end(m);
			return;
		}
		if (c == '{') {
			m->s_lst = L_OPEN;
			m->s_lit = 0;
		} else if (c >= '0' && c <= '9' &&
			   (m->s_lst == L_OPEN || m->s_lst == L_DIGITS)) {
			m->s_lst = L_DIGITS;
			if (m->s_lit <= IMAP_LITERAL_MAX)
				m->s_lit = m->s_lit * 10 + (c - '0');
		} else if (c == '}' && m->s_lst == L_DIGITS) {
			m->s_lst = L_CLOSE;
		} else if (c == '\r' && m->s_lst == L_CLOSE) {
			m->s_lst = L_CR;
		} else {
			m->s_lst = L_NONE;
		}
		return;

	case S_TEXT:
	case S_LIT: /* handled in srv_feed() */
		break;
	}

	/* S_TEXT, and the states that end in it on this octet */
	if (c == '\n')
		srv_line_end(m);
}

static size_t srv_feed(struct imap *m, const uint8_t *p, size_t len)
{
	size_t i = 0, n;

	while (i < len && m->verdict == PROTO_CONTINUE) {
		if (m->s_state != S_LIT) {
			srv_octet(m, p[i++]);
			continue;
		}
		n = len - i < m->s_lit ? len - i : m->s_lit;
		m->s_lit -= n;
		i += n;
		if (m->s_lit == 0)
			m->s_state = S_DATA;
	}
	return i;
}

enum proto_verdict imap_feed(struct imap *m, enum proto_dir dir,
			     const uint8_t *data, size_t len)
{
	if (m->verdict != PROTO_CONTINUE)
		return m->verdict == PROTO_GRANT ? PROTO_DONE : m->verdict;
	if (len && !data) {
		fail(m, PR_SYNTAX);
		return m->verdict;
	}
	if (dir == DIR_TO_SERVER)
		cli_feed(m, data, len);
	else if (dir == DIR_TO_CLIENT)
		srv_feed(m, data, len);
	else
		fail(m, PR_SYNTAX);
	return m->verdict;
}
