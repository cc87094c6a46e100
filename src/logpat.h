/* logpat.h - recognise a mail server's "login succeeded" log line
 *
 * The log hook's only parser.  A line is matched as a whole: a syslog,
 * RFC 5424, journalctl or Dovecot log_path prefix, a program name taken
 * from a fixed list, then the server's own success message with every
 * field the server writes checked against its exact grammar.  The user
 * name is attacker-controlled, so the client address is always read
 * from a position the name cannot reach (before the name, or parsed
 * from the end of the line backwards), and a line that does not match
 * completely grants nothing.
 */
#ifndef DRAC_LOGPAT_H
#define DRAC_LOGPAT_H

#include <stddef.h>

#include "addr.h"

/* Longest line the matcher is ever asked about (longer ones are
 * dropped by the reader before they get here). */
#define LOGPAT_MAX_LINE 8192

/* One complete log line (no newline), any bytes.  Returns 1 and fills
 * *client and *server (static string "dovecot", "courier", "cyrus",
 * "uw", "qpopper", "mailutils", "popa3d") when the line is a successful
 * POP3/IMAP login line, 0 otherwise.  IPv4-mapped IPv6 addresses come
 * back as IPv4.  Lines are fed in the order the server wrote them: GNU
 * Mailutils and popa3d name the client in an earlier line of the same
 * session, which is remembered here (a bounded table, one per process). */
int logpat_match(const char *line, size_t len, struct drac_addr *client,
		 const char **server);

/* Forget the remembered sessions (tests, fuzzing). */
void logpat_reset(void);

#endif
