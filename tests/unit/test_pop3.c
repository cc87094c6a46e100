/* test_pop3.c - the POP3 login machine on recorded and written dialogues
 *
 * A dialogue is a list of chunks, each "C..." (client to server) or
 * "S..." (server to client), in the order they were seen.  Every
 * dialogue is played whole, one octet per call, and with every chunk
 * cut at every offset; all must give the same verdict and reason.
 */
#include <stdlib.h>
#include <string.h>

#include "pop3.h"
#include "t.h"

struct outcome {
	enum proto_verdict v;
	enum proto_reason r;
	int regrant; /* a second grant after feeding on past the verdict */
};

/* Feed d; each chunk is cut once at "at" (0: not cut) and fed at most
 * "step" octets per call (0: no limit). */
static struct outcome play(const char *const *d, size_t at, size_t step)
{
	struct outcome o = { PROTO_CONTINUE, PR_NONE, 0 };
	struct pop3 m;

	pop3_init(&m);
	for (; *d; d++) {
		enum proto_dir dir = **d == 'C' ? DIR_TO_SERVER : DIR_TO_CLIENT;
		const uint8_t *p = (const uint8_t *)*d + 1;
		size_t n = strlen(*d) - 1, off = 0;

		while (off < n) {
			size_t k = n - off;

			if (at && off < at && at < n)
				k = at - off;
			if (step && k > step)
				k = step;
			o.v = pop3_feed(&m, dir, p + off, k);
			off += k;
			if (o.v != PROTO_CONTINUE)
				goto stopped;
		}
	}
	o.r = pop3_reason(&m);
	return o;
stopped:
	o.r = pop3_reason(&m);
	/* The caller should stop, but a confused one must not grant twice. */
	o.regrant = pop3_feed(&m, DIR_TO_CLIENT, (const uint8_t *)"+OK\r\n", 5) ==
			    PROTO_GRANT ||
		    pop3_feed(&m, DIR_TO_SERVER, (const uint8_t *)"PASS x\r\n", 8) ==
			    PROTO_GRANT;
	return o;
}

static const char *const verdicts[] = { "CONTINUE", "GRANT", "DONE", "ABORT" };
static const char *const reasons[] = { "none", "tls", "logout", "overflow",
				       "syntax", "unmatched" };

static void check(const char *name, const char *const *d,
		  enum proto_verdict want, enum proto_reason why)
{
	struct outcome whole = play(d, 0, 0), o;
	size_t longest = 0;
	int same = 1, regrant = whole.regrant;

	T_OK(whole.v == want && whole.r == why, "%s: %s (%s)", name,
	     verdicts[want], reasons[why]);
	if (whole.v != want || whole.r != why)
		printf("#   got %s (%s)\n", verdicts[whole.v], reasons[whole.r]);
	for (const char *const *c = d; *c; c++)
		if (strlen(*c) > longest)
			longest = strlen(*c);
	o = play(d, 0, 1);
	same &= o.v == whole.v && o.r == whole.r;
	regrant |= o.regrant;
	for (size_t at = 1; at < longest; at++) {
		o = play(d, at, 0);
		same &= o.v == whole.v && o.r == whole.r;
		regrant |= o.regrant;
	}
	T_OK(same, "%s: same verdict one octet at a time and cut at every offset", name);
	T_OK(!regrant, "%s: no second grant after the verdict", name);
}

/* ---- Recorded from Dovecot 2.3.19.1 (Debian 12), pop3-login, one TCP
 * connection each, client chunks as sent and server chunks as read. ---- */

static const char *const dovecot_userpass_ok[] = {
	"S+OK Dovecot (Debian) ready. <38dc.1.6b09f72f.cW/mI3BUUk/DiZXiCoufmA==@vm>\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n",
	"CPASS secret\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_userpass_bad[] = {
	"S+OK Dovecot (Debian) ready. <38dc.2.6b09f732.fM+ulxCT6Z0weT+WLgqR8w==@vm>\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n",
	"CPASS wrong\r\n",
	"S-ERR [AUTH] Authentication failed.\r\n",
	"CQUIT\r\n",
	"S+OK Logging out\r\n",
	NULL,
};
static const char *const dovecot_apop_ok[] = {
	"S+OK Dovecot (Debian) ready. <38dc.3.6b09f735.sKJW7/RFeBu8ixKLPFlAAg==@vm>\r\n",
	"CAPOP alice abeb1e38005e4ec51d36302f01554d98\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_apop_bad[] = {
	"S+OK Dovecot (Debian) ready. <38dc.4.6b09f737.8+bLcQ/NkgtUrdQlTkCGAw==@vm>\r\n",
	"CAPOP alice e6effd6d3e3b6d10dae8fb8608613174\r\n",
	"S-ERR [AUTH] Authentication failed.\r\n",
	NULL,
};
static const char *const dovecot_plain_ir[] = {
	"S+OK Dovecot (Debian) ready. <38dc.5.6b09f73a.nq89LAw6pOg+50Odlj/p9w==@vm>\r\n",
	"CAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_plain_cont[] = {
	"S+OK Dovecot (Debian) ready. <38dc.6.6b09f73c.68n2QLGJJCy90Yt4bnA3Vw==@vm>\r\n",
	"CAUTH PLAIN\r\n",
	"S+ \r\n",
	"CAGFsaWNlAHNlY3JldA==\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_login[] = {
	"S+OK Dovecot (Debian) ready. <38dc.7.6b09f73f.hQHROFMXTlki6n4eTnO08Q==@vm>\r\n",
	"CAUTH LOGIN\r\n",
	"S+ VXNlcm5hbWU6\r\n",
	"CYWxpY2U=\r\n",
	"S+ UGFzc3dvcmQ6\r\n",
	"Cc2VjcmV0\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_cancel[] = {
	"S+OK Dovecot (Debian) ready. <38dc.8.6b09f743.5D2k77bVzdy0Mo9sgxX/yA==@vm>\r\n",
	"CAUTH PLAIN\r\n",
	"S+ \r\n",
	"C*\r\n",
	"S-ERR Authentication aborted by client.\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n",
	"CPASS secret\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_authlist_bad[] = {
	"S+OK Dovecot (Debian) ready. <38dc.9.6b09f748.HzofFHyhoUAKOExxz/+Pqg==@vm>\r\n",
	"CAUTH\r\n",
	"S+OK\r\nPLAIN\r\nLOGIN\r\nCRAM-MD5\r\nANONYMOUS\r\n.\r\n",
	"CAUTH PLAIN AGFsaWNlAHdyb25n\r\n",
	"S-ERR [AUTH] Authentication failed.\r\n",
	NULL,
};
static const char *const dovecot_authlist_sp[] = {
	"S+OK Dovecot (Debian) ready. <38dc.a.6b09f74b.geN4SHI2HnNNrDAWi7iczw==@vm>\r\n",
	"CAUTH \r\n",
	"S+OK\r\nPLAIN\r\nLOGIN\r\nCRAM-MD5\r\nANONYMOUS\r\n.\r\n",
	NULL,
};
static const char *const dovecot_capa[] = {
	"S+OK Dovecot (Debian) ready. <38dc.b.6b09f74d.JTC9OFFut2SU2ZRPY5Nccw==@vm>\r\n",
	"CCAPA\r\n",
	"S+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5 ANONYMOUS\r\n.\r\n",
	NULL,
};
static const char *const dovecot_pipe_bad_noop[] = {
	"S+OK Dovecot (Debian) ready. <38dc.c.6b09f74f.K0JkO0sElLyhPa0UMxO4IA==@vm>\r\n",
	"CUSER alice\r\nPASS wrong\r\nNOOP\r\n",
	"S+OK\r\n-ERR [AUTH] Authentication failed.\r\n-ERR Unknown command.\r\n",
	NULL,
};
static const char *const dovecot_pipe_ok[] = {
	"S+OK Dovecot (Debian) ready. <38dc.d.6b09f752.r/WyhOkvyNeqsZH9K/PGiQ==@vm>\r\n",
	"CUSER alice\r\nPASS secret\r\nSTAT\r\n",
	"S+OK\r\n+OK Logged in.\r\n+OK 0 0\r\n",
	NULL,
};
static const char *const dovecot_stls[] = {
	"S+OK Dovecot (Debian) ready. <38dc.e.6b09f754.0A19EmUWqB6VN41zzWQzOg==@vm>\r\n",
	"CSTLS\r\n",
	"S-ERR TLS support isn't enabled.\r\n",
	NULL,
};
static const char *const dovecot_quit[] = {
	"S+OK Dovecot (Debian) ready. <38dc.f.6b09f756.t5rB/zS1T7u0OiAjh9t9iQ==@vm>\r\n",
	"CQUIT\r\n",
	"S+OK Logging out\r\n",
	NULL,
};
static const char *const dovecot_plain_capa[] = {
	"S+OK Dovecot (Debian) ready. <38dc.10.6b09f757.FPTo3Fl4W6sZEOpt2FJu/g==@vm>\r\n",
	"CAUTH PLAIN\r\nCAPA\r\n",
	"S+ \r\n-ERR [AUTH] Authentication failed.\r\n",
	NULL,
};
static const char *const dovecot_noop[] = {
	"S+OK Dovecot (Debian) ready. <38dc.11.6b09f759.JScNGkmmWOCkTTCQjp6BiA==@vm>\r\n",
	"CNOOP\r\n",
	"S-ERR Unknown command.\r\n",
	"CSTAT\r\n",
	"S-ERR Unknown command.\r\n",
	"CLIST\r\n",
	"S-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n",
	"CUIDL\r\n",
	NULL,
};
static const char *const dovecot_anon[] = {
	"S+OK Dovecot (Debian) ready. <38dc.12.6b09f75c.BQaa/A8TUYEjMImBgL4htw==@vm>\r\n",
	"CAUTH ANONYMOUS dHJhY2U=\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_empty[] = {
	"S+OK Dovecot (Debian) ready. <38dc.13.6b09f75e.HMg/WDXktYgTBxsAx+XMIA==@vm>\r\n",
	"C\r\n",
	"S-ERR Unknown command.\r\n",
	"C   \r\n",
	"S-ERR Unknown command.\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n",
	NULL,
};
static const char *const dovecot_bare_lf[] = {
	"S+OK Dovecot (Debian) ready. <38dc.14.6b09f762.MIxmY7EJI5HF6TKtxbC96Q==@vm>\r\n",
	"CUSER alice\nPASS secret\n",
	"S+OK\r\n+OK Logged in.\r\n",
	NULL,
};
static const char *const dovecot_saslempty[] = {
	"S+OK Dovecot (Debian) ready. <38dc.18.6b09f76d.oC/6kT4oFWQFTIheDXD+Tg==@vm>\r\n",
	"CAUTH PLAIN\r\n",
	"S+ \r\n",
	"C\r\n",
	"S-ERR [AUTH] Authentication failed.\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n",
	NULL,
};
static const char *const dovecot_utf8lang[] = {
	"S+OK Dovecot (Debian) ready. <38dc.1a.6b09f775.v81jT39gYAzMjB3dnRB13Q==@vm>\r\n",
	"CUTF8\r\n",
	"S-ERR Unknown command.\r\n",
	"CLANG\r\n",
	"S-ERR Unknown command.\r\n",
	"CXCLIENT ADDR=1.2.3.4\r\n",
	"S+OK You are not from trusted IP - ignoring\r\n",
	NULL,
};
static const char *const dovecot_authtab[] = {
	"S+OK Dovecot (Debian) ready. <38dc.1b.6b09f779.7p9bsLDveu6I++hWYEH6Tg==@vm>\r\n",
	"CAUTH\tPLAIN\r\n",
	"S-ERR Unknown command.\r\n",
	"Cauth plain\r\n",
	"S+ \r\n",
	"C*\r\n",
	"S-ERR Authentication aborted by client.\r\n",
	"Cuser alice\r\n",
	"S+OK\r\n",
	NULL,
};
static const char *const dovecot_crammd5[] = {
	"S+OK Dovecot (Debian) ready. <38dc.1c.6b09f77e.wl6Qji+3klBGg8J+Zl8qiw==@vm>\r\n",
	"CAUTH CRAM-MD5\r\n",
	"S+ PDk3Nzg1MjAzNTQwMDQ5OTMuMTc5NTgxNTI5NUB2bT4=\r\n",
	"C*\r\n",
	"S-ERR Authentication aborted by client.\r\n",
	NULL,
};

/* The last answer arrived late in the recording (Dovecot's failure delay);
 * this is the same dialogue from an earlier run. */
static const char *const dovecot_bad_then_good[] = {
	"S+OK Dovecot (Debian) ready. <2cef.19.6b09f6ba.jIZ0Ik1OPRJfoO7XBvFBng==@vm>\r\n",
	"CAUTH PLAIN AGFsaWNlAHdyb25n\r\n",
	"CAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
	"S-ERR [AUTH] Authentication failed.\r\n+OK Logged in.\r\n",
	NULL,
};

/* ---- Other servers: greetings and texts taken from their sources and
 * documentation (UW ipop3d 2007f, Courier, Cyrus, GNU mailutils, popa3d,
 * qpopper), not recorded. ---- */

static const char *const uw_auth_login[] = {
	"S+OK POP3 mail.example.org v2007f.104 server ready\r\n",
	"CCAPA\r\n",
	"S+OK Capability list follows:\r\nTOP\r\nLOGIN-DELAY 180\r\nUIDL\r\n"
	"STLS\r\nUSER\r\nSASL LOGIN PLAIN\r\n.\r\n",
	"CAUTH\r\n",
	"S+OK Supported authentication mechanisms:\r\nLOGIN\r\nPLAIN\r\n.\r\n",
	"CAUTH LOGIN\r\n",
	"S+ VXNlciBOYW1lAA==\r\n",
	"CYWxpY2U=\r\n",
	"S+ UGFzc3dvcmQA\r\n",
	"Cc2VjcmV0\r\n",
	"S+OK Mailbox open, 2 messages\r\n",
	NULL,
};

static const char *const uw_userpass[] = {
	"S+OK POP3 mail.example.org v2007f.104 server ready\r\n",
	"CUSER alice\r\n",
	"S+OK User name accepted, password please\r\n",
	"CPASS secret\r\n",
	"S+OK Mailbox open, 0 messages\r\n",
	NULL,
};

static const char *const courier_fail_then_ok[] = {
	"S+OK Hello there.\r\n",
	"CUSER alice\r\n",
	"S+OK Password required.\r\n",
	"CPASS wrong\r\n",
	"S-ERR Login failed.\r\n",
	"CUSER alice\r\n",
	"S+OK Password required.\r\n",
	"CPASS secret\r\n",
	"S+OK logged in.\r\n",
	NULL,
};

static const char *const cyrus_apop[] = {
	"S+OK mail.example.org Cyrus POP3 v2.4.17-Debian server ready "
	"<1896.697170952@mail.example.org>\r\n",
	"CAPOP alice c4c9334bac560ecc979e58001b3e22fb\r\n",
	"S+OK Mailbox locked and ready\r\n",
	NULL,
};

static const char *const mailutils_userpass[] = {
	"S+OK POP3 Ready <4711.1700000000@mail.example.org>\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n",
	"CPASS secret\r\n",
	"S+OK opened mailbox for alice\r\n",
	NULL,
};

/* popa3d answers with a bare "+OK" everywhere, and its clients often
 * end lines in a bare LF. */
static const char *const popa3d_bare[] = {
	"S+OK\r\n",
	"CUSER alice\n",
	"S+OK\r\n",
	"CPASS secret\n",
	"S+OK\r\n",
	NULL,
};

static const char *const qpopper_fail_quit[] = {
	"S+OK Qpopper (version 4.1.0) at mail.example.org starting.  "
	"<31337.1700000000@mail.example.org>\r\n",
	"CUSER alice\r\n",
	"S+OK Password required for alice.\r\n",
	"CPASS wrong\r\n",
	"S-ERR [AUTH] Password supplied for \"alice\" is incorrect.\r\n",
	"CQUIT\r\n",
	"S+OK Pop server at mail.example.org signing off.\r\n",
	NULL,
};

static const char *const qpopper_ok[] = {
	"S+OK Qpopper (version 4.1.0) at mail.example.org starting.  "
	"<31337.1700000000@mail.example.org>\r\n",
	"CUSER alice\r\nPASS secret\r\n",
	"S+OK Password required for alice.\r\n",
	"S+OK alice has 2 visible messages (0 hidden) in 640 octets.\r\n",
	NULL,
};

/* ---- Written: the rules one by one. ---- */

/* The +OK belongs to NOOP, not to the failed PASS; and +OK to NOOP
 * before login is a server we do not understand. */
static const char *const pipe_pass_noop[] = {
	"S+OK ready\r\n",
	"CUSER alice\r\nPASS wrong\r\nNOOP\r\n",
	"S+OK\r\n-ERR bad password\r\n+OK\r\n",
	NULL,
};

/* A CAPA body line "+OK" is no answer to the PASS behind it. */
static const char *const capa_fake_ok[] = {
	"S+OK ready\r\n",
	"CCAPA\r\nPASS secret\r\n",
	"S+OK Capability list follows\r\n+OK\r\n+OK Logged in.\r\nUSER\r\n.\r\n",
	"S-ERR no USER given\r\n",
	NULL,
};

/* The mechanism list may hold anything, even "+OK"; then a failed login. */
static const char *const authlist_fake_ok[] = {
	"S+OK ready\r\n",
	"CAUTH\r\n",
	"S+OK\r\nPLAIN\r\n+OK\r\n.\r\n",
	"CAUTH PLAIN AGFsaWNlAHdyb25n\r\n",
	"S-ERR [AUTH] Authentication failed.\r\n",
	NULL,
};

/* Dot-stuffed body lines are data; only "." ends the body. */
static const char *const capa_dots[] = {
	"S+OK ready\r\n",
	"CCAPA\r\nUSER a\r\nPASS b\r\n",
	"S+OK\r\n..\r\n.+OK\r\n. \r\nUSER\r\n.\r\n+OK\r\n+OK in\r\n",
	NULL,
};

/* "+ " to AUTH PLAIN makes the pipelined CAPA a SASL response: its +OK
 * ends the exchange and is a login, not the start of a list. */
static const char *const plain_capa_sasl[] = {
	"S+OK ready\r\n",
	"CAUTH PLAIN\r\nCAPA\r\n",
	"S+ \r\n+OK Logged in.\r\n",
	NULL,
};

/* -ERR to AUTH PLAIN leaves CAPA a command with a multi-line answer. */
static const char *const plain_err_capa[] = {
	"S+OK ready\r\n",
	"CAUTH PLAIN\r\nCAPA\r\n",
	"S-ERR no such mechanism\r\n+OK\r\nSASL LOGIN\r\n",
	"S+OK\r\n.\r\n",
	"CUSER alice\r\nPASS secret\r\n",
	"S+OK\r\n+OK Logged in.\r\n",
	NULL,
};

static const char *const cancel_only[] = {
	"S+OK ready\r\n",
	"CAUTH LOGIN\r\n",
	"S+ VXNlcm5hbWU6\r\n",
	"C*\r\n",
	"S-ERR Authentication aborted by client.\r\n",
	NULL,
};

static const char *const cancel_ignored[] = {
	"S+OK ready\r\n",
	"CAUTH LOGIN\r\n",
	"S+ VXNlcm5hbWU6\r\n",
	"C*\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};

static const char *const anon_cont[] = {
	"S+OK ready\r\n",
	"Cauth anonymous\r\n",
	"S+ \r\n",
	"CdHJhY2U=\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};

/* A server that splits words on TAB (GNU mailutils) reads "AUTH \t" as
 * AUTH with no argument and answers with a list; we must not grant. */
static const char *const auth_blank_arg[] = {
	"S+OK ready\r\n",
	"CAUTH \tPLAIN\r\n",
	"S+OK\r\nPLAIN\r\n.\r\n",
	NULL,
};

static const char *const stls_ok[] = {
	"S+OK ready\r\n",
	"CCAPA\r\n",
	"S+OK\r\nSTLS\r\nUSER\r\n.\r\n",
	"CSTLS\r\n",
	"S+OK Begin TLS negotiation now.\r\n",
	NULL,
};

static const char *const unmatched[] = {
	"S+OK ready\r\n",
	"S+OK Logged in.\r\n",
	NULL,
};

static const char *const unmatched_after[] = {
	"S+OK ready\r\n",
	"CUSER alice\r\n",
	"S+OK\r\n+OK\r\n",
	NULL,
};

static const char *const greeting_err[] = {
	"S-ERR [SYS/TEMP] Too many connections\r\n",
	NULL,
};

static const char *const greeting_imap[] = {
	"S* OK IMAP4rev1 ready\r\n",
	NULL,
};

/* Pipelining clients may write before the greeting arrives. */
static const char *const before_greeting[] = {
	"CUSER alice\r\nPASS secret\r\n",
	"S+OK ready\r\n+OK\r\n+OK Logged in.\r\n",
	NULL,
};

static const char *const cont_to_user[] = {
	"S+OK ready\r\n",
	"CUSER alice\r\n",
	"S+ \r\n",
	NULL,
};

static const char *const okay_status[] = {
	"S+OK ready\r\n",
	"CUSER alice\r\n",
	"S+OKAY\r\n",
	NULL,
};

static const char *const mixed_eol[] = {
	"S+OK ready\r\n",
	"CUSER alice\nNOOP\r\nPASS wrong\r\nUSER bob\r\n",
	NULL,
};

static const char *const bare_cr[] = {
	"S+OK ready\r\n",
	"CUSER alice\rPASS secret\r\n",
	NULL,
};

static const char *const blank_cmd[] = {
	"S+OK ready\r\n",
	"C \t \r\nPASS wrong\r\nUSER bob\r\n",
	"S-ERR wrong\r\n+OK\r\n",
	NULL,
};

/* RFC 6856: UTF8 is one line, LANG without argument lists languages. */
static const char *const utf8_lang[] = {
	"S+OK ready\r\n",
	"CUTF8\r\nLANG\r\nLANG de\r\n",
	"S+OK I can UTF8\r\n+OK Language listing follows\r\nen English\r\n"
	"+OK Deutsch\r\n.\r\n+OK Sprache geaendert\r\n",
	"CPASS secret\r\n",
	"S+OK\r\n",
	NULL,
};

static const char *const before_login_ok[] = {
	"S+OK ready\r\n",
	"CRETR 1\r\n",
	"S+OK 120 octets\r\n",
	NULL,
};

/* Server lines may end in a bare LF too. */
static const char *const server_lf[] = {
	"S+OK ready\n",
	"CUSER alice\r\n",
	"S+OK\n",
	"CPASS secret\r\n",
	"S+OK\n",
	NULL,
};

/* ---- Built at run time: long lines and a deep queue. ---- */

static char *repeat(const char *head, int c, size_t n, const char *tail)
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

static void check_long(void)
{
	char *cmd253 = repeat("CUSER ", 'a', 253 - 5, "\r\n");
	char *cmd254 = repeat("CUSER ", 'a', 254 - 5, "\r\n");
	char *cmd300 = repeat("CUSER ", 'a', 300, "\r\n");
	char *sasl3k = repeat("C", 'A', 3000, "\r\n");
	char *sasl8k = repeat("C", 'A', POP3_SASL_MAX, "\r\n");
	char *sasl8k1 = repeat("C", 'A', POP3_SASL_MAX + 1, "\r\n");
	char *srv4k = repeat("S+OK ", 'x', POP3_SRV_MAX - 4, "\r\n");
	char *srv4k1 = repeat("S+OK ", 'x', POP3_SRV_MAX - 3, "\r\n");

	const char *const at253[] = { "S+OK ready\r\n", cmd253, "S+OK\r\n", NULL };
	const char *const at254[] = { "S+OK ready\r\n", cmd254, "S+OK\r\n", NULL };
	/* Recorded: Dovecot accepts a 305-octet USER line. */
	const char *const d300[] = { "S+OK Dovecot (Debian) ready.\r\n", cmd300,
				     "S+OK\r\n", NULL };
	/* Recorded: Dovecot reads a 3000-octet SASL line as one. */
	const char *const sasl_err[] = { "S+OK Dovecot (Debian) ready.\r\n",
					 "CAUTH PLAIN\r\n", "S+ \r\n", sasl3k,
					 "S-ERR [AUTH] Authentication failed.\r\n",
					 "CUSER alice\r\n", "S+OK\r\n", NULL };
	const char *const sasl_ok[] = { "S+OK ready\r\n", "CAUTH GSSAPI\r\n",
					"S+ \r\n", sasl8k, "S+OK Logged in.\r\n", NULL };
	const char *const sasl_over[] = { "S+OK ready\r\n", "CAUTH GSSAPI\r\n",
					  "S+ \r\n", sasl8k1, NULL };
	const char *const srv_at[] = { srv4k, "CUSER a\r\nPASS b\r\n",
				       "S+OK\r\n+OK\r\n", NULL };
	const char *const srv_over[] = { srv4k1, NULL };

	check("command of 253 octets", at253, PROTO_CONTINUE, PR_NONE);
	check("command of 254 octets", at254, PROTO_ABORT, PR_OVERFLOW);
	check("dovecot: USER of 305 octets", d300, PROTO_ABORT, PR_OVERFLOW);
	check("dovecot: long SASL line refused, then USER", sasl_err, PROTO_ABORT,
	      PR_OVERFLOW);
	check("SASL line of 8192 octets accepted", sasl_ok, PROTO_GRANT, PR_NONE);
	check("client line of 8193 octets", sasl_over, PROTO_ABORT, PR_OVERFLOW);
	check("server line of 4096 octets", srv_at, PROTO_GRANT, PR_NONE);
	check("server line of 4097 octets", srv_over, PROTO_ABORT, PR_OVERFLOW);
	free(cmd253), free(cmd254), free(cmd300), free(sasl3k);
	free(sasl8k), free(sasl8k1), free(srv4k), free(srv4k1);
}

static void check_queue(void)
{
	const char *d[POP3_QUEUE + 4];
	size_t n = 0;

	d[n++] = "S+OK ready\r\n";
	for (int i = 0; i < POP3_QUEUE - 1; i++)
		d[n++] = "CUSER alice\r\n";
	d[n++] = "CPASS secret\r\n";
	d[n++] = "S+OK\r\n";
	d[n] = NULL;
	/* 32 lines wait; the first answer is USER's. */
	check("queue of 32 lines", d, PROTO_CONTINUE, PR_NONE);
	d[n - 1] = "CQUIT\r\n";
	d[n] = NULL;
	check("queue of 33 lines", d, PROTO_ABORT, PR_OVERFLOW);
}

static void check_nul(void)
{
	static const uint8_t cmd[] = "PASS se\0cret\r\n";
	struct pop3 m;

	pop3_init(&m);
	pop3_feed(&m, DIR_TO_CLIENT, (const uint8_t *)"+OK\r\n", 5);
	T_EQ_INT(pop3_feed(&m, DIR_TO_SERVER, cmd, sizeof(cmd) - 1), PROTO_ABORT,
		 "NUL in a command: abort");
	T_EQ_INT(pop3_reason(&m), PR_SYNTAX, "NUL in a command: syntax");
}

int main(void)
{
	T_OK(sizeof(struct pop3) < 256, "struct pop3 is %zu octets", sizeof(struct pop3));

	check("dovecot: USER/PASS", dovecot_userpass_ok, PROTO_GRANT, PR_NONE);
	check("dovecot: wrong PASS, QUIT", dovecot_userpass_bad, PROTO_DONE, PR_LOGOUT);
	check("dovecot: APOP", dovecot_apop_ok, PROTO_GRANT, PR_NONE);
	check("dovecot: wrong APOP", dovecot_apop_bad, PROTO_CONTINUE, PR_NONE);
	check("dovecot: AUTH PLAIN with SASL-IR", dovecot_plain_ir, PROTO_GRANT, PR_NONE);
	check("dovecot: AUTH PLAIN, continuation", dovecot_plain_cont, PROTO_GRANT, PR_NONE);
	check("dovecot: AUTH LOGIN, two continuations", dovecot_login, PROTO_GRANT, PR_NONE);
	check("dovecot: AUTH cancelled, then USER/PASS", dovecot_cancel, PROTO_GRANT, PR_NONE);
	check("dovecot: AUTH list, then failed AUTH", dovecot_authlist_bad, PROTO_CONTINUE,
	      PR_NONE);
	check("dovecot: \"AUTH \" lists too", dovecot_authlist_sp, PROTO_CONTINUE, PR_NONE);
	check("dovecot: CAPA", dovecot_capa, PROTO_CONTINUE, PR_NONE);
	check("dovecot: pipelined USER, wrong PASS, NOOP", dovecot_pipe_bad_noop,
	      PROTO_CONTINUE, PR_NONE);
	check("dovecot: pipelined USER, PASS, STAT", dovecot_pipe_ok, PROTO_GRANT, PR_NONE);
	check("dovecot: STLS refused", dovecot_stls, PROTO_DONE, PR_TLS);
	check("dovecot: QUIT", dovecot_quit, PROTO_DONE, PR_LOGOUT);
	check("dovecot: AUTH PLAIN + CAPA pipelined", dovecot_plain_capa, PROTO_CONTINUE,
	      PR_NONE);
	check("dovecot: bad commands, then an unsolicited -ERR", dovecot_noop, PROTO_ABORT,
	      PR_UNMATCHED);
	check("dovecot: AUTH ANONYMOUS is no grant", dovecot_anon, PROTO_DONE, PR_NONE);
	check("dovecot: empty command line", dovecot_empty, PROTO_ABORT, PR_SYNTAX);
	check("dovecot: bare LF", dovecot_bare_lf, PROTO_GRANT, PR_NONE);
	check("dovecot: empty SASL response", dovecot_saslempty, PROTO_CONTINUE, PR_NONE);
	check("dovecot: failed AUTH, then good one", dovecot_bad_then_good, PROTO_GRANT,
	      PR_NONE);
	check("dovecot: XCLIENT +OK is not understood", dovecot_utf8lang, PROTO_ABORT,
	      PR_SYNTAX);
	check("dovecot: AUTH<TAB>, lower case auth, cancel", dovecot_authtab,
	      PROTO_CONTINUE, PR_NONE);
	check("dovecot: AUTH CRAM-MD5 cancelled", dovecot_crammd5, PROTO_CONTINUE, PR_NONE);

	check("uw-imapd: CAPA, AUTH list, AUTH LOGIN", uw_auth_login, PROTO_GRANT, PR_NONE);
	check("uw-imapd: USER/PASS", uw_userpass, PROTO_GRANT, PR_NONE);
	check("courier: failed attempt, then good one", courier_fail_then_ok, PROTO_GRANT,
	      PR_NONE);
	check("cyrus: APOP", cyrus_apop, PROTO_GRANT, PR_NONE);
	check("mailutils: USER/PASS", mailutils_userpass, PROTO_GRANT, PR_NONE);
	check("popa3d: bare +OK, bare LF", popa3d_bare, PROTO_GRANT, PR_NONE);
	check("qpopper: wrong PASS, QUIT", qpopper_fail_quit, PROTO_DONE, PR_LOGOUT);
	check("qpopper: pipelined USER/PASS", qpopper_ok, PROTO_GRANT, PR_NONE);

	check("PASS wrong + NOOP answered -ERR, +OK", pipe_pass_noop, PROTO_ABORT, PR_SYNTAX);
	check("CAPA body line \"+OK\"", capa_fake_ok, PROTO_CONTINUE, PR_NONE);
	check("AUTH list holding \"+OK\", failed login", authlist_fake_ok, PROTO_CONTINUE,
	      PR_NONE);
	check("dot-stuffed body lines", capa_dots, PROTO_GRANT, PR_NONE);
	check("AUTH PLAIN, \"+ \": CAPA was the SASL response", plain_capa_sasl,
	      PROTO_GRANT, PR_NONE);
	check("AUTH PLAIN refused: CAPA is a command", plain_err_capa, PROTO_GRANT,
	      PR_NONE);
	check("AUTH cancelled", cancel_only, PROTO_CONTINUE, PR_NONE);
	check("AUTH cancel answered +OK", cancel_ignored, PROTO_ABORT, PR_SYNTAX);
	check("AUTH ANONYMOUS with continuation", anon_cont, PROTO_DONE, PR_NONE);
	check("AUTH with a blank argument", auth_blank_arg, PROTO_ABORT, PR_SYNTAX);
	check("STLS accepted", stls_ok, PROTO_DONE, PR_TLS);
	check("response with nothing pending", unmatched, PROTO_ABORT, PR_UNMATCHED);
	check("two responses to one command", unmatched_after, PROTO_ABORT, PR_UNMATCHED);
	check("greeting -ERR", greeting_err, PROTO_DONE, PR_LOGOUT);
	check("greeting not POP3", greeting_imap, PROTO_ABORT, PR_SYNTAX);
	check("commands before the greeting", before_greeting, PROTO_GRANT, PR_NONE);
	check("continuation to USER", cont_to_user, PROTO_ABORT, PR_SYNTAX);
	check("status +OKAY", okay_status, PROTO_ABORT, PR_SYNTAX);
	check("client mixes LF and CR LF", mixed_eol, PROTO_ABORT, PR_SYNTAX);
	check("bare CR in a command", bare_cr, PROTO_ABORT, PR_SYNTAX);
	check("blank command line", blank_cmd, PROTO_ABORT, PR_SYNTAX);
	check("UTF8 and LANG", utf8_lang, PROTO_GRANT, PR_NONE);
	check("RETR answered +OK before login", before_login_ok, PROTO_ABORT, PR_SYNTAX);
	check("server lines in bare LF", server_lf, PROTO_GRANT, PR_NONE);

	check_long();
	check_queue();
	check_nul();
	return T_DONE();
}
