/* proto.h - what a login protocol machine (pop3.c, imap.c) offers flow.c
 *
 * A machine sees the two byte streams of one TCP connection, each in
 * sequence order, exactly as the server's TCP delivered them and as the
 * server sent them.  It answers PROTO_GRANT exactly once: when the
 * server's positive answer to an authentication command has been seen.
 * Anything it does not understand ends inspection without a grant.
 */
#ifndef DRAC_PROTO_H
#define DRAC_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum proto_dir {
	DIR_TO_SERVER, /* client -> server: commands */
	DIR_TO_CLIENT, /* server -> client: responses */
};

enum proto_verdict {
	PROTO_CONTINUE, /* keep feeding */
	PROTO_GRANT,    /* login succeeded: grant the client, stop feeding */
	PROTO_DONE,     /* nothing more to learn (TLS, logout): stop, no grant */
	PROTO_ABORT,    /* protocol violation or overflow: stop, no grant */
};

/* Why a machine stopped without a grant; counted by the daemon. */
enum proto_reason {
	PR_NONE,
	PR_TLS,       /* STLS / STARTTLS accepted or attempted */
	PR_LOGOUT,    /* QUIT / LOGOUT / server BYE / PREAUTH */
	PR_OVERFLOW,  /* line or queue longer than the machine allows */
	PR_SYNTAX,    /* bytes that fit no rule */
	PR_UNMATCHED, /* a response with no command waiting for it */
	PR_REASONS
};

#endif
