/* rpcfwd.h - forward this host's own grants to the remote DRAC servers
 * named in dracd.conf (split setup: POP/IMAP on one host, SMTP on
 * another), without ever blocking the event loop.
 *
 * Every call goes over a non-blocking TCP connection per server (made
 * when there is something to send; the server closes it when idle), or a
 * UDP socket for servers written "udp:NAME" (or opts.proto): a UDP
 * source address can be forged, so a server that trusts it can be fooled
 * by anyone on the path.  Retries run on a loop timer (UDP: 250 ms
 * doubling; TCP: a new connection at most every 250 ms), given up after
 * 5 s.  Server names
 * resolve through getaddrinfo_a, the DRAC port through the server's
 * rpcbind, both polled from the loop.  A server that is this host
 * (loopback, such as the default "localhost", or an address configured
 * here) is skipped: the local daemon already holds the grant, and
 * forwarding to ourselves would feed it back as an RPC grant.
 *
 * The daemon must forward only grants that did not arrive over RPC, or
 * two servers naming each other would bounce an address for ever.
 */
#ifndef DRAC_RPCFWD_H
#define DRAC_RPCFWD_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "loop.h"

struct rpcfwd;

struct rpcfwd_stats {
	uint64_t sent;		/* additions queued, one per server */
	uint64_t acked;		/* ADD_SUCCESS received */
	uint64_t failed;	/* refused by the server, timed out, queue full */
};

struct rpcfwd_opts {
	const char *conf_path;	/* NULL: /etc/dracd/dracd.conf */
	uint16_t port;		/* 0: ask each server's rpcbind */
	bool keep_local;	/* tests: forward to this host too */
	int proto;		/* 0: IPPROTO_TCP; servers may say "udp:NAME" */
	unsigned give_up_ms;	/* 0: 5000 */
};

/* NULL only on a bad conf file or no memory (logged).  No server to
 * forward to is not an error: rpcfwd_send() then does nothing. */
struct rpcfwd *rpcfwd_new(struct loop *l, const char *conf_path);
struct rpcfwd *rpcfwd_new_opts(struct loop *l, const struct rpcfwd_opts *o);
void rpcfwd_send(struct rpcfwd *f, const struct drac_addr *a);
void rpcfwd_free(struct rpcfwd *f);
const struct rpcfwd_stats *rpcfwd_stats(const struct rpcfwd *f);
/* Number of servers grants go to (after skipping this host). */
unsigned rpcfwd_servers(const struct rpcfwd *f);
/* Additions waiting for an answer. */
unsigned rpcfwd_pending(const struct rpcfwd *f);

#endif
