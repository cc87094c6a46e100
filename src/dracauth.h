/* dracauth.h - the DRAC client library: tell DRAC servers that an address
 * has just logged in (DRAC 1.12 drac.x, plus the Debian IPv6 version).
 *
 * Wire format, as rpc.dracd 1.12 and its dracauth() exchange it:
 *   program 900101, procedure 1 (DRACPROC_ADD) returns enum addstat;
 *   version 1 argument: one XDR unsigned int whose four big-endian bytes
 *     are the IPv4 address a.b.c.d in order.  The classic client takes
 *     userip from inet_addr() (network order) and sends ntohl(userip); the
 *     server does htonl() on it.  So dracauth(server, inet_addr("192.0.2.7"))
 *     puts c0 00 02 07 on the wire.
 *   version 2 argument: char ip_addr6[16], an XDR fixed vector of 16 chars,
 *     each char a 4-byte XDR int (64 bytes).  Signed char sign-extends
 *     (0xfe travels as ff ff ff fe); servers take the low byte.
 *
 * Our client never blocks longer than its timeout (default 1 s in all,
 * name lookup, rpcbind lookup and the call together), unlike the original
 * whose call waited 25 s for a hung server.
 */
#ifndef DRAC_DRACAUTH_H
#define DRAC_DRACAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "addr.h"

#define DRACPROG	900101
#define DRACVERS	1
#define DRACVERS6	2
#define DRACPROC_NULL	0
#define DRACPROC_ADD	1

enum addstat {
	ADD_SUCCESS = 0,	/* Succeeded */
	ADD_PERM = 1,		/* Permission denied */
	ADD_SYSERR = 2,		/* System error */
	ADD_UNKOWN = 3		/* Unknown (sic, as drac.x spells it) */
};

#define DRACAUTH_TIMEOUT_MS 1000
#define DRACAUTH_CONF "/etc/dracd/dracd.conf"

/* Return values, as the original library's:
 *   0			the server added the address (ADD_SUCCESS)
 *   -1			no server: name, rpcbind or program not found
 *   -2			the call failed: timeout, network error, bad reply
 *   1, 2, 3		the server answered ADD_PERM, ADD_SYSERR, ADD_UNKOWN
 * *errmsg (when errmsg is not NULL) gets a static text that describes the
 * result; it is never freed by the caller and is overwritten by the next
 * call in the same thread. */

/* Classic: userip in network byte order, as inet_addr() returns it. */
int dracauth(char *server, unsigned long userip, char **errmsg);
int dracauth6(const char *server, const struct in6_addr *addr, char **errmsg);
int dracauth_addr(const char *server, const struct drac_addr *a,
		  unsigned timeout_ms, char **errmsg);
/* The same with a transport for servers named without a prefix:
 * IPPROTO_UDP (the classic default) or IPPROTO_TCP. */
int dracauth_addr_proto(const char *server, const struct drac_addr *a, int proto,
			unsigned timeout_ms, char **errmsg);

/* Classic connect/send/disconnect: one server looked up once, then many
 * additions (one static connection per version, as the original). */
int dracconn(char *server, char **errmsg);
int dracsend(unsigned long userip, char **errmsg);
int dracdisc(char **errmsg);
int dracconn6(char *server, char **errmsg);
int dracsend6(unsigned char userip6[16], char **errmsg);
int dracdisc6(char **errmsg);

/* A client handle for programs that update one server many times.
 * port 0 asks the server's rpcbind (portmap v2 over IPv4, rpcbind v3
 * over IPv6, either asked over UDP); another value skips rpcbind.
 * drac_client_open() calls over UDP; _proto takes IPPROTO_UDP or
 * IPPROTO_TCP.  A server written "tcp:NAME" or "udp:NAME" (here, in
 * dracauth(), dracauth -s and dracd.conf) uses that transport whatever
 * the default.  Over UDP the server trusts the datagram's source address,
 * which anyone on the path can write; over TCP the handshake proves it.
 * A TCP call that finds its kept connection closed connects again once. */
struct drac_client;
struct drac_client *drac_client_open(const char *server, uint16_t port,
				     unsigned timeout_ms, int *rc, char **errmsg);
struct drac_client *drac_client_open_proto(const char *server, uint16_t port, int proto,
					   unsigned timeout_ms, int *rc, char **errmsg);
/* "tcp:NAME" and "udp:NAME": NAME, with *proto set; else server itself,
 * *proto untouched. */
const char *drac_server_split(const char *server, int *proto);
int drac_client_add(struct drac_client *c, const struct drac_addr *a,
		    unsigned timeout_ms, char **errmsg);
void drac_client_close(struct drac_client *c);

/* dracd.conf: one server name per line ("tcp:NAME" or "udp:NAME" to
 * choose the transport), '#' comments, blank lines.  A
 * missing file means "localhost".  Returns the number of servers (names
 * in a NULL-terminated array, free with drac_conf_free) or -1 with
 * "FILE:LINE: reason" in err. */
int drac_conf_load(const char *path, char ***servers, char *err, size_t errlen);
int drac_conf_parse(const char *buf, size_t len, const char *name, char ***servers,
		    char *err, size_t errlen);
void drac_conf_free(char **servers);

/* Wire helpers shared with the forwarder (rpcfwd.c) and the tests.
 * Encoders return the length written, 0 when buf is too small. */
#define DRAC_CALL_MAX 128
size_t drac_call_encode(uint8_t *buf, size_t len, uint32_t xid, const struct drac_addr *a);
/* Reply to a call with this xid: 0 and *stat = the addstat; -1 not ours or
 * malformed (ignore it); -2 a well-formed RPC error (the server does not
 * run DRAC or that version), with a reason in *why. */
int drac_reply_decode(const uint8_t *buf, size_t len, uint32_t xid,
		      uint32_t *stat, const char **why);
/* rpcbind lookup of DRACPROG/vers over UDP for this family: portmap v2
 * GETPORT for IPv4 servers, rpcbind v3 GETADDR (netid udp6) for IPv6. */
size_t drac_rpcb_encode(uint8_t *buf, size_t len, uint32_t xid, int family, uint32_t vers);
/* The same for the DRAC port over proto (IPPROTO_UDP or IPPROTO_TCP;
 * the lookup itself still goes over UDP). */
size_t drac_rpcb_encode_proto(uint8_t *buf, size_t len, uint32_t xid, int family,
			      uint32_t vers, int proto);
/* 0 and *port (0 means "not registered"); -1 not ours or malformed. */
int drac_rpcb_decode(const uint8_t *buf, size_t len, uint32_t xid, int family, uint16_t *port);
const char *drac_addstat_str(uint32_t stat);

#endif
