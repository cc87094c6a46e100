/* pop3.h - POP3 login detection on the two byte streams of one connection
 *
 * Grants on the server's "+OK" to PASS, APOP or the end of an AUTH
 * exchange (RFC 1939, 2449, 5034), matching responses to client lines
 * strictly in order so that pipelining cannot move an answer onto the
 * wrong command.  No line is stored whole: each direction keeps the first
 * octets of its current line, and each unanswered client line is kept
 * as one byte saying what it is.  Client lines are interpreted only when
 * their answer arrives, because a "+ " continuation turns the next client
 * line from a command into a SASL response, exactly as for the server.
 */
#ifndef DRAC_POP3_H
#define DRAC_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define POP3_QUEUE    32   /* client lines sent and not yet answered */
#define POP3_PEEK     16   /* first octets of a line kept to classify it */
#define POP3_CMD_MAX  253  /* command octets: 255 with CRLF (RFC 2449) */
#define POP3_SASL_MAX 8192 /* SASL response line, counted, never stored */
#define POP3_SRV_MAX  4096 /* server line (RFC 2449 says 512; be lenient) */

/* One direction's line assembler. */
struct pop3_line {
	uint16_t len;            /* octets of the line so far, CR LF excluded */
	uint8_t flags;           /* POP3_L_* in pop3.c */
	uint8_t peek[POP3_PEEK]; /* the line's first octets */
};

struct pop3 {
	struct pop3_line cli, srv;
	uint8_t queue[POP3_QUEUE]; /* ring of unanswered client lines */
	uint8_t q_head, q_len;
	uint8_t phase;   /* greeting, ready, multi-line body, stopped */
	uint8_t sasl;    /* non-zero: the next client line is a SASL response */
	uint8_t verdict; /* enum proto_verdict once stopped */
	uint8_t reason;  /* enum proto_reason */
};

void pop3_init(struct pop3 *m);
/* Feed the next octets of one direction.  Returns PROTO_GRANT once, on
 * the server's acceptance of a login; PROTO_DONE or PROTO_ABORT when
 * inspection ends without one (pop3_reason() says why). */
enum proto_verdict pop3_feed(struct pop3 *m, enum proto_dir dir,
			     const uint8_t *data, size_t len);
enum proto_reason pop3_reason(const struct pop3 *m);

#endif
