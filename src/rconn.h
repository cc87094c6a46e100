/* rconn.h - one connection to a Redis server (or Sentinel) on dracd's
 * loop: hiredis parses the replies and formats the commands; the socket,
 * the order of replies and every limit are ours.
 *
 * Not hiredis' async.c: it asserts (aborting dracd) on reply shapes a
 * broken or hostile server can send (a one-element array on a subscribed
 * connection, a reply nobody asked for), and it reads arrays of any
 * length into memory.  Here any reply the caller did not ask for goes to
 * a push handler (the subscribed connection's messages) or ends the
 * connection, and arrays, nesting, buffered bytes and the size of one
 * reply are bounded. */
#ifndef DRAC_RCONN_H
#define DRAC_RCONN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "loop.h"

#define RCONN_MAX_ELEMENTS 100000	 /* in any one array */
#define RCONN_MAX_BUFFERED (16u << 20) /* bytes of replies not yet complete */
#define RCONN_MAX_REPLY (32u << 20)	 /* what one reply may take in memory */
#define RCONN_MAX_PENDING 65536	 /* commands without their reply */

struct rconn;

/* A command's reply; r is NULL when the connection ends first (it is
 * freed after the call). */
typedef void (*rconn_reply_fn)(struct rconn *c, const redisReply *r, void *priv);
/* Connected (why NULL), or ended (why says how: refused, reset, protocol
 * error, limit); after an end the connection is gone (freed), and the
 * pending replies were called with NULL before. */
typedef void (*rconn_event_fn)(struct rconn *c, const char *why, void *arg);

/* host is an address (never resolved here: that would block the loop),
 * or with port 0 a unix socket path.  NULL with errno on an immediate
 * failure. */
struct rconn *rconn_open(struct loop *l, const char *host, uint16_t port, rconn_event_fn ev,
			 void *arg);
/* Replies that answer no pending command (pub/sub messages). */
void rconn_set_push(struct rconn *c, rconn_reply_fn fn, void *priv);
/* Queue a command; 0, or -1 when over RCONN_MAX_PENDING or out of memory. */
int rconn_command(struct rconn *c, rconn_reply_fn fn, void *priv, int argc, const char **argv,
		  const size_t *argvlen);
/* Sent with no reply expected by a command callback (SUBSCRIBE's
 * confirmation comes to the push handler). */
int rconn_send(struct rconn *c, int argc, const char **argv, const size_t *argvlen);
size_t rconn_pending(const struct rconn *c);
/* Close now: pending replies are called with NULL, the event handler is
 * not.  Safe inside any of this connection's callbacks. */
void rconn_close(struct rconn *c);

#endif
