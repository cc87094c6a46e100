/* fuzz_logpat.c - the login line matcher on arbitrary bytes.
 *
 * Two checks per input:
 * 1. the input as a whole line: never crash, and a recognised address
 *    must be written in the line (a run of address characters that
 *    parses to it), so nothing is made up;
 * 2. the input as a user name inside a real line of every server: the
 *    line either grants the real client or nothing, whatever the name
 *    (for GNU Mailutils and popa3d after the session's first line named
 *    it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logpat.h"

static const struct {
	const char *pre, *post, *client;
} templates[] = {
	{ "Nov 27 21:00:00 mx dovecot[1]: pop3-login: Login: user=<",
	  ">, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, mpid=9, TLS, session=<s>", "192.0.2.7" },
	{ "Nov 27 21:00:00 imap-login: Info: Login: user=<",
	  ">, method=PLAIN, rip=2001:db8::7, lip=2001:db8::1", "2001:db8::7" },
	{ "Nov 27 21:00:00 mx imapd-ssl: LOGIN, user=",
	  ", ip=[::ffff:192.0.2.7], port=[4000], protocol=IMAP", "192.0.2.7" },
	{ "Nov 27 21:00:00 mx pop3d: LOGIN, user=", ", ip=[::ffff:192.0.2.7]", "192.0.2.7" },
	{ "Nov 27 21:00:00 mx cyrus/imap[1]: login: c.example.org [192.0.2.7] ",
	  " plaintext+TLS User logged in SESSIONID=<s>", "192.0.2.7" },
	{ "Nov 27 21:00:00 mx ipop3d[1]: Login user=", " host=c.example.org [192.0.2.7] nmsgs=1/1",
	  "192.0.2.7" },
	{ "Nov 27 21:00:00 mx imapd[1]: Login user=", " host=[2001:db8::7]", "2001:db8::7" },
	{ "Nov 27 21:00:00 mx imapd[1]: Authenticated user=", " host=[192.0.2.7] mech=PLAIN",
	  "192.0.2.7" },
	{ "Nov 27 21:00:00 mx in.qpopper[1]: (v4.0.9) POP login by user \"",
	  "\" at (c.example.org) 192.0.2.7 [pop_log.c:244]", "192.0.2.7" },
};

static int is_addrch(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

static int written_in(const char *line, size_t len, const struct drac_addr *a)
{
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && is_addrch((unsigned char)line[j]))
			j++;
		if (j > i) {
			struct drac_addr b;

			if (addr_parse_n(line + i, j - i, &b) == 0) {
				addr_unmap(&b);
				if (addr_eq(a, &b))
					return 1;
			}
			i = j;
		} else {
			i++;
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[LOGPAT_MAX_LINE + 1];
	const char *server;
	struct drac_addr a, want;

	/* Alone, a line grants only an address written in it (Mailutils'
	 * remembered sessions are forgotten first). */
	logpat_reset();
	if (logpat_match((const char *)data, size, &a, &server)) {
		if (!written_in((const char *)data, size, &a))
			abort();
		if (strcmp(server, "dovecot") && strcmp(server, "courier") && strcmp(server, "cyrus") &&
		    strcmp(server, "uw") && strcmp(server, "qpopper"))
			abort();
	}
	/* Mailutils and popa3d: the input as the name in a session's
	 * login line. */
	static const struct {
		const char *conn, *pre, *post;
	} sessions[] = {
		{ "pop3d[1]: 2B1NbiJ9 0:0:0:0:0:FFFF:C000:207", "pop3d[2]: 2B1NbiJ9 user `",
		  "' logged in with mailbox `/var/mail/x' (0 messages)" },
		{ "popa3d[7]: Session from 192.0.2.7", "popa3d[7]: Authentication passed for ", "" },
	};
	for (size_t t = 0; t < sizeof(sessions) / sizeof(*sessions); t++) {
		const char *conn = sessions[t].conn, *pre = sessions[t].pre, *post = sessions[t].post;
		size_t pl = strlen(pre), sl = strlen(post);

		if (pl + size + sl <= LOGPAT_MAX_LINE) {
			logpat_match(conn, strlen(conn), &a, &server);
			memcpy(line, pre, pl);
			memcpy(line + pl, data, size);
			memcpy(line + pl + size, post, sl);
			if (logpat_match(line, pl + size + sl, &a, &server) &&
			    (addr_parse("192.0.2.7", &want) < 0 || !addr_eq(&a, &want)))
				abort();
		}
		logpat_reset();
	}
	for (size_t t = 0; t < sizeof(templates) / sizeof(*templates); t++) {
		size_t pl = strlen(templates[t].pre), sl = strlen(templates[t].post);

		if (pl + size + sl > LOGPAT_MAX_LINE)
			continue;
		memcpy(line, templates[t].pre, pl);
		memcpy(line + pl, data, size);
		memcpy(line + pl + size, templates[t].post, sl);
		if (logpat_match(line, pl + size + sl, &a, &server)) {
			if (addr_parse(templates[t].client, &want) < 0 || !addr_eq(&a, &want))
				abort(); /* the name smuggled in an address */
		}
	}
	return 0;
}
