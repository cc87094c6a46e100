/* test_imap.c - the IMAP login machine on whole dialogues
 *
 * Every dialogue is checked fed in its steps, one octet at a time, split
 * in two at every point of every step, and in random chunks: the verdict,
 * its reason and the step it comes in must not change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"
#include "t.h"

struct step {
	enum proto_dir dir;
	const char *s;
	size_t n;
};

#define C(x) { DIR_TO_SERVER, (x), sizeof(x) - 1 }
#define S(x) { DIR_TO_CLIENT, (x), sizeof(x) - 1 }
#define NSTEPS(a) (sizeof(a) / sizeof((a)[0]))

/* Dovecot 2.3's greeting, as sent by imap-login. */
#define GREET S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID " \
		"ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) " \
		"ready.\r\n")
/* No capabilities at all, as GNU mailutils and others greet. */
#define GREET_BARE S("* OK IMAP4rev1 server ready\r\n")

enum mode { M_WHOLE, M_BYTES, M_SPLIT, M_RANDOM };

struct outcome {
	enum proto_verdict v;
	enum proto_reason r;
	size_t step; /* where the verdict came; nsteps if none */
	int twice;   /* a verdict other than DONE after the first one */
};

static struct outcome play(const struct step *st, size_t n, enum mode mode,
			   size_t split_step, size_t split_at, unsigned seed)
{
	struct outcome o = { PROTO_CONTINUE, PR_NONE, n, 0 };
	struct imap m;

	imap_init(&m);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)st[i].s;
		size_t len = st[i].n, off = 0;
		enum proto_verdict v = PROTO_CONTINUE;

		while (off < len && v == PROTO_CONTINUE) {
			size_t k = len - off;

			if (mode == M_BYTES)
				k = 1;
			else if (mode == M_SPLIT && i == split_step && off == 0)
				k = split_at;
			else if (mode == M_RANDOM)
				k = 1 + (size_t)(rand_r(&seed) % 23);
			if (k > len - off)
				k = len - off;
			v = imap_feed(&m, st[i].dir, p + off, k);
			off += k;
		}
		if (len == 0)
			v = imap_feed(&m, st[i].dir, p, 0);
		if (v != PROTO_CONTINUE) {
			o.v = v;
			o.r = imap_reason(&m);
			o.step = i;
			/* the caller stops here; one more call must not
			 * repeat a grant */
			if (imap_feed(&m, DIR_TO_CLIENT, (const uint8_t *)"a OK\r\n", 6) ==
			    PROTO_GRANT)
				o.twice = 1;
			break;
		}
	}
	return o;
}

static int same(struct outcome a, struct outcome b)
{
	return a.v == b.v && a.r == b.r && a.step == b.step && !b.twice;
}

static const char *vname(enum proto_verdict v)
{
	static const char *const n[] = { "CONTINUE", "GRANT", "DONE", "ABORT" };
	return v <= PROTO_ABORT ? n[v] : "?";
}

/* want_step: the step the verdict must come in, or -1 for the last one
 * that is fed (a verdict before it is then wrong only if it differs). */
static void check_at(const char *name, const struct step *st, size_t n,
		     enum proto_verdict want, enum proto_reason want_r,
		     int want_step)
{
	struct outcome w = play(st, n, M_WHOLE, 0, 0, 0), o;
	size_t total = 0, bad = 0, runs = 0;

	T_OK(w.v == want && w.r == want_r && !w.twice &&
	     (want_step < 0 || w.step == (size_t)want_step),
	     "%s: %s reason %d", name, vname(want), want_r);
	if (w.v != want || w.r != want_r ||
	    (want_step >= 0 && w.step != (size_t)want_step))
		printf("#   got %s reason %d at step %zu\n", vname(w.v), w.r,
		       w.step);
	for (size_t i = 0; i < n; i++)
		total += st[i].n;

	o = play(st, n, M_BYTES, 0, 0, 0);
	runs++;
	bad += !same(w, o);
	if (total <= 4096) {
		for (size_t i = 0; i < n; i++)
			for (size_t k = 1; k < st[i].n; k++) {
				o = play(st, n, M_SPLIT, i, k, 0);
				runs++;
				if (!same(w, o)) {
					if (!bad)
						printf("#   split step %zu at %zu: %s\n",
						       i, k, vname(o.v));
					bad++;
				}
			}
	}
	for (unsigned seed = 1; seed <= 20; seed++) {
		o = play(st, n, M_RANDOM, 0, 0, seed);
		runs++;
		bad += !same(w, o);
	}
	T_OK(bad == 0, "%s: same verdict in %zu splits (%zu differ)", name,
	     runs, bad);
}

static void check(const char *name, const struct step *st, size_t n,
		  enum proto_verdict want, enum proto_reason want_r)
{
	check_at(name, st, n, want, want_r, -1);
}

#define CHECK(name, want, r, ...)                                      \
	do {                                                           \
		const struct step st_[] = { __VA_ARGS__ };             \
		check(name, st_, NSTEPS(st_), want, r);                \
	} while (0)

/* The same, and the verdict must come in step "at" (0-based). */
#define CHECK_AT(name, want, r, at, ...)                               \
	do {                                                           \
		const struct step st_[] = { __VA_ARGS__ };             \
		check_at(name, st_, NSTEPS(st_), want, r, at);         \
	} while (0)

static void test_login(void)
{
	CHECK("LOGIN with atoms", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN alice secret\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
		"IDLE SORT LITERAL+] Logged in\r\n"));
	CHECK("LOGIN with quoted strings and escapes", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN \"al\\\"ice\" \"p (a) {5}\\\\\"\r\n"),
	      S("a1 OK Logged in\r\n"));
	CHECK("LOGIN with synchronizing literals", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN {5}\r\n"), S("+ OK\r\n"), C("alice {9}\r\n"),
	      S("+ OK\r\n"), C("se\r\nc ret\r\n"), S("a1 OK Logged in\r\n"));
	CHECK("LOGIN with a zero-length literal", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN alice {0}\r\n"), S("+ OK\r\n"), C("\r\n"),
	      S("a1 OK Logged in\r\n"));
	CHECK("LOGIN with non-synchronizing literals", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN {5+}\r\nalice {9+}\r\nse\r\nc ret\r\n"),
	      S("a1 OK Logged in\r\n"));
	CHECK("lower case command and answer", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 login alice secret\r\n"), S("a1 ok logged in\r\n"));
	CHECK("tagged OK with nothing after it", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN alice secret\r\n"), S("a1 OK\r\n"));
	CHECK("bare LF line ends", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN {5}\n"), S("+ OK\r\n"), C("alice secret\n"),
	      S("a1 OK Logged in\r\n"));
	CHECK("empty client lines are skipped", PROTO_GRANT, PR_NONE, GREET,
	      C("\r\n\n"), C("a1 LOGIN alice secret\r\n"), S("a1 OK\r\n"));
	CHECK("LOGIN failed, then succeeds with a new tag", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN alice wrong\r\n"),
	      S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"),
	      C("a2 LOGIN alice secret\r\n"), S("a2 OK Logged in\r\n"));
	CHECK("LOGIN failed, then the same tag again", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN alice wrong\r\n"), S("a1 NO failed\r\n"),
	      C("a1 LOGIN alice secret\r\n"), S("a1 OK Logged in\r\n"));
	CHECK("LOGIN failed only", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 LOGIN alice wrong\r\n"),
	      S("* BAD [ALERT] Plaintext authentication is disabled\r\n"),
	      S("a1 NO Plaintext authentication disabled.\r\n"));
	CHECK("pipelined commands around LOGIN", PROTO_GRANT, PR_NONE, GREET,
	      C("a0 CAPABILITY\r\na1 LOGIN alice secret\r\na2 SELECT INBOX\r\n"),
	      S("* CAPABILITY IMAP4rev1 LITERAL+\r\na0 OK done\r\n"),
	      S("a1 OK Logged in\r\n"));
	CHECK("LOGIN and LOGOUT pipelined", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN alice secret\r\na2 LOGOUT\r\n"),
	      S("a1 OK Logged in\r\n* BYE Logging out\r\na2 OK Logout completed.\r\n"));
	CHECK("client speaks before the greeting", PROTO_GRANT, PR_NONE,
	      C("a1 LOGIN alice secret\r\n"), GREET, S("a1 OK\r\n"));
	CHECK("answers out of order", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN alice secret\r\na2 NOOP\r\n"), S("a2 OK\r\n"),
	      S("a1 OK\r\n"));
	CHECK("Thunderbird: ID, then AUTHENTICATE PLAIN", PROTO_GRANT, PR_NONE,
	      GREET,
	      C("1 ID (\"name\" \"Thunderbird\" \"version\" \"115.3.1\")\r\n"),
	      S("* ID (\"name\" \"Dovecot\")\r\n1 OK ID completed.\r\n"),
	      C("2 authenticate PLAIN\r\n"), S("+ \r\n"),
	      C("AGFsaWNlAHNlY3JldA==\r\n"),
	      S("2 OK [CAPABILITY IMAP4rev1 SASL-IR] Logged in\r\n"));
	CHECK("Courier greeting and answer", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE "
		"THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL "
		"ACL2=UNION STARTTLS] Courier-IMAP ready. Copyright 1998-2011 "
		"Double Precision, Inc.  See COPYING for distribution "
		"information.\r\n"),
	      C("A001 LOGIN alice {6}\r\n"), S("+ OK\r\n"), C("secret\r\n"),
	      S("A001 OK LOGIN Ok.\r\n"));
	CHECK("UW imapd greeting and continuation", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4REV1 I18NLEVEL=1 LITERAL+ SASL-IR "
		"LOGIN-REFERRALS STARTTLS AUTH=LOGIN] localhost IMAP4rev1 "
		"2007f.404 at Fri, 27 Nov 2026 21:00:00 +0000 (UTC)\r\n"),
	      C("a001 AUTHENTICATE LOGIN\r\n"), S("+ VXNlciBOYW1lAA==\r\n"),
	      C("YWxpY2U=\r\n"), S("+ UGFzc3dvcmQA\r\n"), C("c2VjcmV0\r\n"),
	      S("a001 OK [CAPABILITY IMAP4REV1 I18NLEVEL=1 LITERAL+ IDLE "
		"UIDPLUS NAMESPACE CHILDREN MAILBOX-REFERRALS BINARY UNSELECT "
		"ESEARCH WITHIN SCAN SORT THREAD=REFERENCES "
		"THREAD=ORDEREDSUBJECT MULTIAPPEND] AUTHENTICATE completed\r\n"));
	CHECK("Cyrus continuation text", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE STARTTLS "
		"AUTH=PLAIN SASL-IR] mail Cyrus IMAP 3.6.1 server ready\r\n"),
	      C(". LOGIN {5}\r\n"), S("+ go ahead\r\n"), C("alice secret\r\n"),
	      S(". OK [CAPABILITY IMAP4rev1 LITERAL+] User logged in "
		"SESSIONID=<x>\r\n"));
	CHECK("continuation without text", PROTO_GRANT, PR_NONE, GREET_BARE,
	      C("a1 LOGIN {5}\r\n"), S("+\r\n"), C("alice secret\r\n"),
	      S("a1 OK\r\n"));
}

static void test_authenticate(void)
{
	CHECK("AUTHENTICATE PLAIN with continuation", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"),
	      C("AGFsaWNlAHNlY3JldA==\r\n"), S("a1 OK Logged in\r\n"));
	CHECK("AUTHENTICATE PLAIN with SASL-IR", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
	      S("a1 OK Logged in\r\n"));
	CHECK("SASL-IR answered with a challenge", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 AUTHENTICATE PLAIN =\r\n"), S("+ \r\n"),
	      C("AGFsaWNlAHNlY3JldA==\r\n"), S("a1 OK Logged in\r\n"));
	CHECK("AUTHENTICATE cancelled", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"), C("*\r\n"),
	      S("a1 BAD Authentication aborted by client.\r\n"));
	CHECK("AUTHENTICATE cancelled, then LOGIN", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"), C("*\r\n"),
	      S("a1 BAD Authentication aborted by client.\r\n"),
	      C("a2 LOGIN alice secret\r\n"), S("a2 OK\r\n"));
	CHECK("AUTHENTICATE failed", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"), C("AGJhZABiYWQ=\r\n"),
	      S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
	CHECK("unknown mechanism refused at once", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 AUTHENTICATE X-NONE\r\n"),
	      S("a1 NO Unsupported authentication mechanism.\r\n"),
	      C("a2 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
	      S("a2 OK Logged in\r\n"));
	CHECK_AT("SASL response before the challenge", PROTO_ABORT, PR_SYNTAX,
	      2, GREET, C("a1 AUTHENTICATE PLAIN\r\n"),
	      C("AGFsaWNlAHNlY3JldA==\r\n"), S("+ \r\n"), S("a1 OK\r\n"));
	CHECK_AT("command pipelined after SASL-IR", PROTO_ABORT, PR_SYNTAX, 1,
	      GREET,
	      C("a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\na2 NOOP\r\n"),
	      S("a1 OK\r\n"));
	CHECK_AT("second SASL line without a challenge", PROTO_ABORT,
	      PR_SYNTAX, 3, GREET, C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"),
	      C("AGFsaWNlAHNlY3JldA==\r\na2 NOOP\r\n"), S("a1 OK\r\n"));
	CHECK("answer in the middle of a SASL line", PROTO_ABORT, PR_SYNTAX,
	      GREET, C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"),
	      C("AGFsaWNl"), S("a1 OK\r\n"));
	CHECK("AUTHENTICATE ANONYMOUS is nobody's login", PROTO_DONE, PR_NONE,
	      GREET, C("a1 AUTHENTICATE anonymous\r\n"), S("+ \r\n"),
	      C("dHJhY2U=\r\n"), S("a1 OK Logged in\r\n"));
	CHECK("LOGIN anonymous is nobody's login", PROTO_DONE, PR_NONE, GREET,
	      C("a1 LOGIN \"anonymous\" x@example.org\r\n"), S("a1 OK\r\n"));
	CHECK("LOGIN anonymous in a literal", PROTO_DONE, PR_NONE, GREET,
	      C("a1 LOGIN {9+}\r\nAnonymous x\r\n"), S("a1 OK\r\n"));
	CHECK("LOGIN anonymousx is a user", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN anonymousx x\r\n"), S("a1 OK\r\n"));
}

static void test_tag_games(void)
{
	CHECK_AT("LOGIN then NOOP with the same tag", PROTO_ABORT, PR_SYNTAX,
	      1, GREET,
	      C("a1 LOGIN bad bad\r\na1 NOOP\r\n"), S("a1 OK\r\n"));
	CHECK_AT("NOOP then LOGIN with the same tag", PROTO_ABORT, PR_SYNTAX,
	      2, GREET,
	      C("a1 NOOP\r\n"), C("a1 LOGIN bad bad\r\n"), S("a1 OK\r\n"));
	CHECK("same tag after the answer", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 LOGIN bad bad\r\n"), S("a1 NO failed\r\n"), C("a1 NOOP\r\n"),
	      S("a1 OK NOOP completed.\r\n"));
	CHECK("two NOOPs with one tag", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 NOOP\r\na1 NOOP\r\n"), S("a1 OK\r\na1 OK\r\n"));
	CHECK("OK for another tag", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 LOGIN bad bad\r\na2 NOOP\r\n"), S("a2 OK\r\n"),
	      S("a1 NO failed\r\n"));
	CHECK("OK for CAPABILITY", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 CAPABILITY\r\n"),
	      S("* CAPABILITY IMAP4rev1 LITERAL+\r\na1 OK Pre-login "
		"capabilities listed, post-login capabilities have more.\r\n"));
	CHECK("untagged OK while LOGIN waits", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 LOGIN bad bad\r\n"), S("* OK a1 OK\r\n"),
	      S("* a1 OK\r\n"));
	CHECK("OK for a tag never sent", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("a1 LOGIN bad bad\r\n"), S("a2 OK\r\n"));
	CHECK("OK for a prefix of the tag", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("a12 LOGIN bad bad\r\n"), S("a1 OK\r\n"));
	CHECK("OK for a longer tag", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("a1 LOGIN bad bad\r\n"), S("a12 OK\r\n"));
	CHECK("tags are case-sensitive", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("A1 LOGIN bad bad\r\n"), S("a1 OK\r\n"));
	CHECK("OK twice for one LOGIN", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("a1 NOOP\r\n"), S("a1 OK\r\n"), C("a2 LOGIN x y\r\n"),
	      S("a1 OK\r\n"));
	CHECK("answer before the command ends", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN alice "), S("a1 OK\r\n"));
	CHECK("answer before the command is named", PROTO_ABORT, PR_UNMATCHED,
	      GREET, C("a1 LOG"), S("a1 OK\r\n"));
	CHECK("other status word", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN alice secret\r\n"), S("a1 OKAY\r\n"));
	CHECK("tagged answer before the greeting", PROTO_ABORT, PR_SYNTAX,
	      C("a1 LOGIN alice secret\r\n"), S("a1 OK\r\n"));
	CHECK("tag too long", PROTO_ABORT, PR_OVERFLOW, GREET,
	      C("abcdefghijklmnopq LOGIN alice secret\r\n"));
	CHECK("tag of the longest length", PROTO_GRANT, PR_NONE, GREET,
	      C("abcdefghijklmnop LOGIN alice secret\r\n"),
	      S("abcdefghijklmnop OK\r\n"));
	CHECK("too many commands unanswered", PROTO_ABORT, PR_OVERFLOW, GREET,
	      C("1 NOOP\r\n2 NOOP\r\n3 NOOP\r\n4 NOOP\r\n5 NOOP\r\n6 NOOP\r\n"
		"7 NOOP\r\n8 NOOP\r\n9 LOGIN a b\r\n"));
	CHECK("eight unanswered commands", PROTO_GRANT, PR_NONE, GREET,
	      C("1 NOOP\r\n2 NOOP\r\n3 NOOP\r\n4 NOOP\r\n5 NOOP\r\n6 NOOP\r\n"
		"7 NOOP\r\n8 LOGIN a b\r\n"),
	      S("1 OK\r\n2 OK\r\n3 OK\r\n"), C("9 NOOP\r\n"),
	      S("4 OK\r\n5 OK\r\n6 OK\r\n7 OK\r\n8 OK\r\n"));
	CHECK("tag with '+'", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a+1 LOGIN alice secret\r\n"));
	CHECK("tag and no command", PROTO_ABORT, PR_SYNTAX, GREET, C("a1\r\n"));
	CHECK("two blanks after the tag", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1  LOGIN alice secret\r\n"));
}

static void test_literals(void)
{
	CHECK("literal content looks like a LOGIN", PROTO_ABORT, PR_UNMATCHED,
	      GREET, C("a1 NOOP {14}\r\n"), S("+ OK\r\n"),
	      C("a2 LOGIN x y\r\n\r\n"), S("a2 OK\r\n"));
	CHECK("literal content looks like a LOGIN, answered", PROTO_CONTINUE,
	      PR_NONE, GREET, C("a1 NOOP {14+}\r\na2 LOGIN x y\r\n\r\n"),
	      S("a1 OK\r\n"));
	CHECK_AT("literal sent before \"+\"", PROTO_ABORT, PR_SYNTAX, 1, GREET,
	      C("a1 LOGIN {5}\r\nalice secret\r\n"), S("+ OK\r\n"),
	      S("a1 OK\r\n"));
	CHECK("literal refused, next command", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN {500}\r\n"), S("a1 BAD Literal too large\r\n"),
	      C("a2 LOGIN alice secret\r\n"), S("a2 OK\r\n"));
	CHECK_AT("literal \"refused\" with OK", PROTO_ABORT, PR_SYNTAX, 2,
	      GREET,
	      C("a1 LOGIN {5}\r\n"), S("a1 OK\r\n"));
	CHECK("non-synchronizing literal, no LITERAL+", PROTO_ABORT, PR_SYNTAX,
	      GREET_BARE, C("a1 LOGIN {5+}\r\nalice secret\r\n"),
	      S("a1 OK\r\n"));
	/* GNU mailutils imap4d: no LITERAL+, but it reads "{n+}" as a
	 * literal and says "+" for each; its OK then is the login's. */
	CHECK("non-synchronizing literal, no LITERAL+, server says \"+\"", PROTO_GRANT, PR_NONE,
	      GREET_BARE, C("a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n"),
	      S("+ GO AHEAD\r\n+ GO AHEAD\r\na1 OK LOGIN Completed\r\n"));
	CHECK("no LITERAL+, one \"+\" for two literals", PROTO_ABORT, PR_SYNTAX,
	      GREET_BARE, C("a1 LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n"),
	      S("+ GO AHEAD\r\na1 OK LOGIN Completed\r\n"));
	CHECK("no LITERAL+, \"{n+}\" refused with an untagged BAD", PROTO_ABORT, PR_SYNTAX,
	      GREET_BARE, C("a1 LOGIN {5+}\r\nalice secret\r\n"),
	      S("* BAD Unexpected '+'\r\n"));
	CHECK("no LITERAL+, \"+\" after the answer is too late", PROTO_ABORT, PR_SYNTAX,
	      GREET_BARE, C("a1 LOGIN {5+}\r\nalice secret\r\n"),
	      S("a1 OK\r\n+ GO AHEAD\r\n"));
	CHECK("no LITERAL+, \"{n+}\" after 8-bit atom", PROTO_ABORT, PR_SYNTAX,
	      GREET_BARE, C("x1 NOOP caf\xc3\xa9 {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("no LITERAL+, \"+\" then a synchronizing literal's \"+\"", PROTO_GRANT, PR_NONE,
	      GREET_BARE, C("a1 LOGIN {5+}\r\nalice {6}\r\n"), S("+ go\r\n+ go\r\n"),
	      C("secret\r\n"), S("a1 OK done\r\n"));
	CHECK("LITERAL+ learnt from CAPABILITY", PROTO_GRANT, PR_NONE,
	      GREET_BARE, C("a0 CAPABILITY\r\n"),
	      S("* CAPABILITY IMAP4rev1 literal+ AUTH=PLAIN\r\na0 OK\r\n"),
	      C("a1 LOGIN {5+}\r\nalice secret\r\n"), S("a1 OK\r\n"));
	CHECK("LITERAL- learnt from a tagged OK", PROTO_GRANT, PR_NONE,
	      GREET_BARE, C("a0 NOOP\r\n"),
	      S("a0 OK [CAPABILITY IMAP4rev1 LITERAL-] done\r\n"),
	      C("a1 LOGIN {5+}\r\nalice secret\r\n"), S("a1 OK\r\n"));
	CHECK("IMAP4rev2 has LITERAL-", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] ready\r\n"),
	      C("a1 LOGIN {5+}\r\nalice secret\r\n"), S("a1 OK\r\n"));
	CHECK("LITERAL+ in human text is no capability", PROTO_ABORT, PR_SYNTAX,
	      S("* OK we love LITERAL+\r\n"),
	      C("a1 LOGIN {5+}\r\nalice secret\r\n"), S("a1 OK\r\n"));
	CHECK("non-synchronizing literal over 4096", PROTO_ABORT, PR_OVERFLOW,
	      GREET, C("a1 LOGIN alice {4097+}\r\n"));
	CHECK("non-synchronizing literal after 8-bit atom", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x1 NOOP caf\xc3\xa9 {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal after stray ')'", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x1 NOOP a) {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal after '(' in an atom", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x1 NOOP a(b) {9+}\r\nx2 NOOP\r\n\r\n"));
	/* A server that ends lines only at CRLF is still in the line. */
	CHECK("non-synchronizing literal header ending in a bare LF",
	      PROTO_ABORT, PR_SYNTAX, GREET,
	      C("x1 NOOP {12+}\na\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal after a bare LF line", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x0 NOOP\nx1 NOOP {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal after bare LF, then CRLF", PROTO_GRANT,
	      PR_NONE, GREET, C("x0 NOOP\nx1 NOOP\r\n"),
	      C("a1 LOGIN {5+}\r\nalice secret\r\n"), S("a1 OK\r\n"));
	CHECK("non-synchronizing literal after an odd tag", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x<1 NOOP {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal after two blanks", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x1 NOOP a  {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal nine lists deep", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x1 NOOP ((((((((({9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal three lists deep", PROTO_CONTINUE,
	      PR_NONE, GREET, C("x1 NOOP ((({9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("non-synchronizing literal after '%'", PROTO_ABORT, PR_SYNTAX,
	      GREET, C("x1 LIST \"\" % {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("literal size over the bound", PROTO_ABORT, PR_OVERFLOW, GREET,
	      C("a1 LOGIN {65537}\r\n"));
	CHECK("literal size of the bound", PROTO_CONTINUE, PR_NONE, GREET,
	      C("a1 APPEND x {65536}\r\n"));
	CHECK("literal header without digits", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN {}\r\n"));
	CHECK("literal header with junk", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN {5x}\r\n"));
	CHECK("literal header with junk after '+'", PROTO_ABORT, PR_SYNTAX,
	      GREET, C("a1 LOGIN {5+x}\r\n"));
	CHECK("literal header not at the line end", PROTO_ABORT, PR_SYNTAX,
	      GREET, C("a1 LOGIN {5} alice\r\n"));
	CHECK("literal header, CR without LF", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN {5}\rx"));
	CHECK("'{' inside an atom", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 NOOP a{5+}\r\n"));
	CHECK("'\"' inside an atom", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN al\"ice secret\r\n"));
	CHECK("atom right after a string", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN \"alice\"x secret\r\n"));
	CHECK("\"+\" with nothing waiting", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("a1 LOGIN alice secret\r\n"), S("+ OK\r\n"));
	CHECK("IDLE could own the \"+\"", PROTO_ABORT, PR_UNMATCHED, GREET,
	      C("a1 IDLE\r\na2 LOGIN {5}\r\n"), S("+ idling\r\n"));
	CHECK("server literal in untagged data", PROTO_GRANT, PR_NONE, GREET,
	      C("a0 ID NIL\r\na1 LOGIN alice secret\r\n"),
	      S("* ID (\"name\" {7}\r\nDovecot)\r\na0 OK\r\n"), S("a1 OK\r\n"));
	CHECK("server literal hiding a tagged OK", PROTO_CONTINUE, PR_NONE,
	      GREET, C("a1 LOGIN alice wrong\r\n"),
	      S("* 1 FETCH (BODY[] {7}\r\na1 OK\r\n)\r\n"), S("a1 NO no\r\n"));
	CHECK("\"{n}\" ending a tagged line is text", PROTO_GRANT, PR_NONE,
	      GREET, C("a0 NOOP\r\na1 LOGIN alice secret\r\n"),
	      S("a0 OK noop {5}\r\na1 OK\r\n"));
	CHECK("\"{n}\" ending an untagged BAD is text", PROTO_GRANT, PR_NONE,
	      GREET, C("a1 LOGIN alice secret\r\n"),
	      S("* BAD what is {9}\r\na1 OK\r\n"));
	CHECK("server literal over the bound", PROTO_ABORT, PR_OVERFLOW, GREET,
	      C("a0 ID NIL\r\n"), S("* ID ({65537}\r\n"));
}

static void test_end(void)
{
	CHECK("PREAUTH greeting", PROTO_DONE, PR_LOGOUT,
	      S("* PREAUTH [CAPABILITY IMAP4rev1] Logged in as alice\r\n"),
	      C("a1 LOGIN alice secret\r\n"), S("a1 OK\r\n"));
	CHECK("BYE greeting", PROTO_DONE, PR_LOGOUT,
	      S("* BYE Too many connections\r\n"));
	CHECK("HTTP instead of a greeting", PROTO_ABORT, PR_SYNTAX,
	      S("HTTP/1.1 400 Bad Request\r\n"));
	CHECK("continuation instead of a greeting", PROTO_ABORT, PR_SYNTAX,
	      S("+ OK\r\n"));
	CHECK("untagged data instead of a greeting", PROTO_ABORT, PR_SYNTAX,
	      S("* CAPABILITY IMAP4rev1\r\n"));
	CHECK("STARTTLS accepted", PROTO_DONE, PR_TLS, GREET,
	      C("a1 STARTTLS\r\n"), S("a1 OK Begin TLS negotiation now.\r\n"),
	      C("\x16\x03\x01\x02\x00\x01"));
	CHECK("STARTTLS: TLS before the answer", PROTO_DONE, PR_TLS, GREET,
	      C("a1 STARTTLS\r\n\x16\x03\x01\x02\x00\x01"));
	CHECK("STARTTLS refused, then LOGIN", PROTO_GRANT, PR_NONE, GREET_BARE,
	      C("a1 STARTTLS\r\n"), S("a1 BAD TLS support isn't enabled.\r\n"),
	      C("a2 LOGIN alice secret\r\n"), S("a2 OK\r\n"));
	CHECK("LOGOUT", PROTO_DONE, PR_LOGOUT, GREET, C("a1 LOGOUT\r\n"),
	      S("* BYE Logging out\r\na1 OK Logout completed.\r\n"));
	CHECK("LOGOUT answered without BYE", PROTO_DONE, PR_LOGOUT, GREET,
	      C("a1 LOGOUT\r\n"), S("a1 OK Logout completed.\r\n"));
	CHECK("BYE while LOGIN waits", PROTO_DONE, PR_LOGOUT, GREET,
	      C("a1 LOGIN alice secret\r\n"),
	      S("* BYE Internal login failure.\r\n"), S("a1 OK\r\n"));
}

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(h + n + t + 1);

	if (!s)
		abort();
	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

static void test_bounds(void)
{
	char *a = repeat("a1 LOGIN alice ", 'x', IMAP_LINE_MAX, "\r\n");
	char *b = repeat("a1 LOGIN alice ", 'x', IMAP_LINE_MAX - 17, "\r\n");
	char *c = repeat("* OK ", 'x', IMAP_SRV_MAX, "\r\n");
	char *d = repeat("a1 AUTHENTICATE PLAIN ", 'A', 30000, "\r\n");
	char *e = repeat("", 'A', IMAP_SASL_MAX, "\r\n");
	char *f;
	const struct step greet = GREET;
	struct step st[4];

	st[0] = greet;
	st[1] = (struct step){ DIR_TO_SERVER, a, strlen(a) };
	check("client line over the bound", st, 2, PROTO_ABORT, PR_OVERFLOW);
	st[1] = (struct step){ DIR_TO_SERVER, b, strlen(b) };
	st[2] = (struct step){ DIR_TO_CLIENT, "a1 OK\r\n", 7 };
	check("client line of the bound", st, 3, PROTO_GRANT, PR_NONE);
	st[1] = (struct step){ DIR_TO_CLIENT, c, strlen(c) };
	check("server line over the bound", st, 2, PROTO_ABORT, PR_OVERFLOW);
	st[1] = (struct step){ DIR_TO_SERVER, d, strlen(d) };
	check("long SASL initial response", st, 3, PROTO_GRANT, PR_NONE);
	st[1] = (struct step){ DIR_TO_SERVER, "a1 AUTHENTICATE GSSAPI\r\n", 24 };
	st[2] = (struct step){ DIR_TO_CLIENT, "+ \r\n", 4 };
	st[3] = (struct step){ DIR_TO_SERVER, e, strlen(e) };
	check("SASL response over the bound", st, 4, PROTO_ABORT, PR_OVERFLOW);
	/* Dovecot's line limit counts literal octets: a long literal and
	 * then an atom make it give up on the line and skip to the next
	 * LF, the one after a later "{n+}" header. */
	st[1] = (struct step){ DIR_TO_SERVER, "x1 NOOP {4000}\r\n", 16 };
	st[2] = (struct step){ DIR_TO_CLIENT, "+ OK\r\n", 6 };
	f = repeat("", 'x', 4000, " y {90+}\r\n");
	st[3] = (struct step){ DIR_TO_SERVER, f, strlen(f) };
	check("non-synchronizing literal late in a long line", st, 4,
	      PROTO_ABORT, PR_OVERFLOW);
	free(f);
	f = repeat("", 'x', 4000, " y {60+}\r\n");
	st[3] = (struct step){ DIR_TO_SERVER, f, strlen(f) };
	check("non-synchronizing literal just inside the line bound", st, 4,
	      PROTO_CONTINUE, PR_NONE);
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	free(f);

	CHECK("NUL in a command line", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN al\0ice secret\r\n"));
	CHECK("NUL in a quoted string", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN \"al\0ice\" secret\r\n"));
	CHECK("NUL in a SASL line", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 AUTHENTICATE PLAIN\r\n"), S("+ \r\n"), C("AG\0Fs\r\n"));
	CHECK("NUL in a literal is data", PROTO_GRANT, PR_NONE, GREET,
	      C("a1 LOGIN {3}\r\n"), S("+ OK\r\n"), C("a\0b secret\r\n"),
	      S("a1 OK\r\n"));
	CHECK("non-synchronizing literal after NUL in a literal", PROTO_ABORT,
	      PR_SYNTAX, GREET, C("x1 NOOP {3}\r\n"), S("+ OK\r\n"),
	      C("a\0b {9+}\r\nx2 NOOP\r\n\r\n"));
	CHECK("NUL in a server line", PROTO_ABORT, PR_SYNTAX, GREET,
	      S("* OK \0\r\n"));
	CHECK("bare CR in a command line", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 NOOP\ra2 LOGIN alice secret\r\n"));
	CHECK("LF in a quoted string", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN \"alice\nsecret\"\r\n"));
	CHECK("unknown escape in a quoted string", PROTO_ABORT, PR_SYNTAX,
	      GREET, C("a1 LOGIN \"al\\ice\" secret\r\n"));
	CHECK("control octet in an atom", PROTO_ABORT, PR_SYNTAX, GREET,
	      C("a1 LOGIN al\tice secret\r\n"));
}

/* Recorded from Dovecot 2.3.19.1 (Debian 12) imap-login, ssl = no, with
 * raw dialogues; a server step is what one read returned.  Where Dovecot
 * answered "T2 OK" to a NOOP hidden in what we take for a literal, a
 * machine that trusted the literal would grant on the T2 LOGIN after it. */
static void test_dovecot(void)
{
	CHECK("Dovecot: LOGIN with atoms", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN demo demopass\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: LOGIN with synchronizing literals", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN {4}\r\n"),
	      S("+ OK\r\n"),
	      C("demo {8}\r\n"),
	      S("+ OK\r\n"),
	      C("demopass\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: LOGIN with non-synchronizing literals", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN {4+}\r\n"
		"demo {8+}\r\n"
		"demopass\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: LOGIN with both kinds of literal", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN {4}\r\n"),
	      S("+ OK\r\n"),
	      C("demo {8+}\r\n"
		"demopass\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: AUTHENTICATE PLAIN", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 AUTHENTICATE PLAIN\r\n"),
	      S("+ \r\n"),
	      C("AGRlbW8AZGVtb3Bhc3M=\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: AUTHENTICATE PLAIN with SASL-IR", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 AUTHENTICATE PLAIN AGRlbW8AZGVtb3Bhc3M=\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: AUTHENTICATE cancelled, then LOGIN", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 AUTHENTICATE PLAIN\r\n"),
	      S("+ \r\n"),
	      C("*\r\n"),
	      S("a1 BAD Authentication aborted by client.\r\n"),
	      C("a2 LOGIN demo demopass\r\n"),
	      S("a2 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: AUTHENTICATE failed", PROTO_CONTINUE, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 AUTHENTICATE PLAIN AGRlbW8Ad3Jvbmc=\r\n"),
	      S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
	CHECK("Dovecot: AUTHENTICATE ANONYMOUS refused", PROTO_CONTINUE, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 AUTHENTICATE ANONYMOUS\r\n"),
	      S("a1 NO [ALERT] Unsupported authentication mechanism.\r\n"));
	CHECK("Dovecot: ID, CAPABILITY, LOGIN", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("1 ID (\"name\" \"Thunderbird\" \"version\" \"115\")\r\n"),
	      S("* ID (\"name\" \"Dovecot\")\r\n"
		"1 OK ID completed.\r\n"),
	      C("2 CAPABILITY\r\n"),
	      S("* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDL"
		"E LITERAL+ AUTH=PLAIN AUTH=LOGIN\r\n"
		"2 OK Pre-login capabilities listed, post-login capabilities "
		"have more.\r\n"),
	      C("3 LOGIN demo demopass\r\n"),
	      S("* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDL"
		"E SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORD"
		"EREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDR"
		"EN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRE"
		"SYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STAT"
		"US BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SI"
		"ZE SAVEDATE LITERAL+ NOTIFY\r\n"
		"3 OK Logged in\r\n"));
	CHECK("Dovecot: bare LF line ends", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 NOOP\n"
		"a2 LOGIN demo demopass\n"),
	      S("a1 OK NOOP completed.\r\n"
		"a2 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: empty line, then LOGIN", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("\r\n"),
	      S("* BAD Error in IMAP command received by server.\r\n"),
	      C("a1 LOGIN demo demopass\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: STARTTLS refused, then LOGIN", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 STARTTLS\r\n"),
	      S("a1 BAD TLS support isn't enabled.\r\n"),
	      C("a2 LOGIN demo demopass\r\n"),
	      S("a2 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: LOGIN and SELECT pipelined", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN demo demopass\r\n"
		"a2 SELECT INBOX\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"
		"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
		"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
		"\\Draft \\*)] Flags permitted.\r\n"
		"* 0 EXISTS\r\n"
		"* 0 RECENT\r\n"
		"* OK [UIDVALIDITY 1795815791] UIDs valid\r\n"
		"* OK [UIDNEXT 1] Predicted next UID\r\n"
		"a2 OK [READ-WRITE] Select completed (0.011 + 0.000 + 0.013 s"
		"ecs).\r\n"));
	CHECK("Dovecot: LOGIN and LOGOUT pipelined", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN demo demopass\r\n"
		"a2 LOGOUT\r\n"),
	      S("a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"
		"* BYE Logging out\r\n"
		"a2 OK Logout completed (0.001 + 0.000 secs).\r\n"));
	CHECK("Dovecot: synchronizing literal refused, then LOGIN", PROTO_GRANT, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN caf\303\251 {8}\r\n"),
	      S("a1 BAD 8bit data in atom\r\n"),
	      C("a2 LOGIN demo demopass\r\n"),
	      S("a2 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: LOGIN and NOOP with one tag", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN demo wrong\r\n"
		"a1 NOOP\r\n"),
	      S("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
		"a1 OK NOOP completed.\r\n"));
	CHECK("Dovecot: 8-bit atom hides a command in a {n+} literal", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("x1 NOOP caf\303\251 {9+}\r\n"
		"T2 NOOP\r\n"
		"\r\n"
		"T2 LOGIN demo wrong\r\n"),
	      S("x1 BAD 8bit data in atom\r\n"
		"T2 OK NOOP completed.\r\n"
		"* BAD Error in IMAP command received by server.\r\n"));
	CHECK("Dovecot: stray ')' hides a command in a {n+} literal", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("x1 NOOP a) {9+}\r\n"
		"T2 NOOP\r\n"
		"\r\n"
		"T2 LOGIN demo wrong\r\n"),
	      S("x1 BAD Unexpected ')'\r\n"
		"T2 OK NOOP completed.\r\n"
		"* BAD Error in IMAP command received by server.\r\n"));
	CHECK("Dovecot: TAB hides a command in a {n+} literal", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("x1 NOOP a\011{9+}\r\n"
		"T2 NOOP\r\n"
		"\r\n"
		"T2 LOGIN demo wrong\r\n"),
	      S("x1 BAD Invalid characters in atom\r\n"
		"T2 OK NOOP completed.\r\n"
		"* BAD Error in IMAP command received by server.\r\n"
		"T2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
	CHECK("Dovecot: deep lists hide a command in a {n+} literal", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("x1 NOOP (((((((((((((((((((((((((((((((((((((((((((((((((((("
		"(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
		"(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
		"(((((((((((((((((((((((((((( {9+}\r\n"
		"T2 NOOP\r\n"
		"\r\n"
		"T2 LOGIN demo wrong\r\n"),
	      S("x1 BAD Too many '('\r\n"
		"T2 OK NOOP completed.\r\n"
		"* BAD Error in IMAP command received by server.\r\n"));
	CHECK("Dovecot: clean line: the {n+} literal is one", PROTO_CONTINUE, PR_NONE,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("x1 NOOP abc {9+}\r\n"
		"T2 NOOP\r\n"
		"\r\n"
		"T2 LOGIN demo wrong\r\n"),
	      S("x1 OK NOOP completed.\r\n"
		"T2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
	CHECK("Dovecot: literal sent before \"+\"", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN {4}\r\n"
		"demo demopass\r\n"),
	      S("+ OK\r\n"
		"a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: SASL response sent before \"+\"", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 AUTHENTICATE PLAIN\r\n"
		"AGRlbW8AZGVtb3Bhc3M=\r\n"),
	      S("+ \r\n"
		"a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABL"
		"E IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREA"
		"D=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT C"
		"HILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTOR"
		"E QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST"
		"-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STAT"
		"US=SIZE SAVEDATE LITERAL+ NOTIFY] Logged in\r\n"));
	CHECK("Dovecot: bare CR", PROTO_ABORT, PR_SYNTAX,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 NOOP\rx\r\n"),
	      S("a1 BAD CR sent without LF\r\n"),
	      C("a2 NOOP\r\n"),
	      S("a2 OK NOOP completed.\r\n"));
	CHECK("Dovecot: literal too large for Dovecot", PROTO_DONE, PR_LOGOUT,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 LOGIN {9000}\r\n"),
	      S("* BYE Literal size too large\r\n"));
	CHECK("Dovecot: too many bad commands", PROTO_DONE, PR_LOGOUT,
	      S("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE"
		" IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready"
		".\r\n"),
	      C("a1 FOO\r\n"),
	      S("a1 BAD Error in IMAP command received by server.\r\n"),
	      C("a2 FOO\r\n"),
	      S("a2 BAD Error in IMAP command received by server.\r\n"),
	      C("a3 FOO\r\n"),
	      S("* BYE Too many invalid IMAP commands.\r\n"));
}

int main(void)
{
	test_login();
	test_authenticate();
	test_tag_games();
	test_literals();
	test_end();
	test_bounds();
	test_dovecot();
	printf("# sizeof(struct imap) = %zu\n", sizeof(struct imap));
	T_OK(sizeof(struct imap) < 320, "struct imap is small");
	return T_DONE();
}
