/* rpcsrv.h - the legacy DRAC ONC-RPC server (program 900101), inside the
 * daemon's event loop.
 *
 * UDP and TCP on one port, IPv4 and IPv6 (each where the host has it),
 * registered with rpcbind for versions 1 and 2 over udp, tcp, udp6 and
 * tcp6; or TCP only (no_udp), since a UDP caller's source address is
 * whatever the sender wrote.  TCP callers not in dracd.allow are closed at
 * accept, and no one source may hold more than a share of the connections.  The RPC messages are decoded here, by hand and with bounds, not
 * by libtirpc's svc layer: its TCP transport reads a partial record with a
 * blocking wait, which would stall the whole daemon behind one slow peer.
 *
 * Answers to DRACPROC_ADD:
 *   caller not in dracd.allow	ADD_PERM, logged with the caller's address
 *   grant() accepted it	ADD_SUCCESS
 *   grant() declined (-1)	ADD_SUCCESS as well: the address is trusted
 *				or loopback and needs no entry; the caller's
 *				job is done (an error here would make every
 *				patched POP server log a failure per LAN login)
 *   unspecified, multicast or broadcast address	ADD_UNKOWN
 * Malformed arguments get GARBAGE_ARGS and are counted; a message that is
 * not even an RPC call is dropped and counted.  The null procedure answers
 * anyone (rpcinfo -u/-t).
 */
#ifndef DRAC_RPCSRV_H
#define DRAC_RPCSRV_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "loop.h"
#include "source.h"

struct rpcsrv;

struct rpcsrv_stats {
	uint64_t calls;		/* messages received */
	uint64_t granted;	/* ADD_SUCCESS after grant() accepted */
	uint64_t ignored;	/* ADD_SUCCESS after grant() declined, ADD_UNKOWN */
	uint64_t refused;	/* ADD_PERM: caller not in dracd.allow */
	uint64_t malformed;	/* dropped or answered with an RPC error */
	uint64_t errors;	/* socket errors, connections refused for room */
	uint64_t forged;	/* IPv4-mapped sources on IPv6 sockets: dropped */
	uint64_t conn_refused;	/* tcp connections from callers not allowed */
	uint64_t evicted;	/* tcp connections closed to make room */
	uint64_t not_unicast;	/* datagrams to broadcast/multicast or from 0.0.0.0: dropped */
};

struct rpcsrv_opts {
	const char *allow_path;	/* NULL: ALLOW_PATH */
	uint16_t port;		/* 0: any free port */
	bool no_rpcbind;	/* tests and benchmarks without rpcbind */
	bool no_udp;		/* TCP only (DRAC_RPC_UDP=no): UDP sources can be forged */
};

struct rpcsrv *rpcsrv_new(struct loop *l, const char *allow_path, grant_fn grant, void *grant_arg);
struct rpcsrv *rpcsrv_new_opts(struct loop *l, const struct rpcsrv_opts *o,
			       grant_fn grant, void *grant_arg);
/* Unregisters from rpcbind, closes every socket. */
void rpcsrv_free(struct rpcsrv *s);
/* Re-read the allow file (SIGHUP).  0, or -1 with the old list kept. */
int rpcsrv_reload(struct rpcsrv *s);
const struct rpcsrv_stats *rpcsrv_stats(const struct rpcsrv *s);
uint16_t rpcsrv_port(const struct rpcsrv *s);

/* The message layer, exposed for the fuzz target and the tests. */
enum rpc_verdict {
	RPC_DROP = -1,		/* not a call, or a truncated header: no reply */
	RPC_CALL_OK = 0,	/* DRAC call, c->addr set for DRACPROC_ADD */
	RPC_BAD_RPCVERS,	/* MSG_DENIED RPC_MISMATCH */
	RPC_BAD_PROG,		/* PROG_UNAVAIL */
	RPC_BAD_VERS,		/* PROG_MISMATCH 1..2 */
	RPC_BAD_PROC,		/* PROC_UNAVAIL */
	RPC_GARBAGE,		/* GARBAGE_ARGS */
};

struct rpc_call {
	uint32_t xid, prog, vers, proc;
	struct drac_addr addr;	/* DRACPROC_ADD only */
};

#define RPC_REPLY_MAX 40

int rpc_call_decode(const uint8_t *buf, size_t len, struct rpc_call *c);
/* The reply for a verdict (and, for RPC_CALL_OK, the addstat result).
 * Returns its length, 0 when there is no reply or no room. */
size_t rpc_reply_encode(uint8_t *buf, size_t len, const struct rpc_call *c,
			int verdict, uint32_t result);

#endif
