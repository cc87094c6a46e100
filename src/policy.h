/* policy.h - a Postfix policy delegation service (SMTPD_POLICY_README):
 * smtpd asks "may this client relay?" at the moment of the RCPT, and the
 * answer comes from the mirror's memory with the expiry compared to now.
 *
 * Why beside the btree map: Postfix never reads the map's expiry value,
 * so a map that stops changing grants forever.  A policy service that is
 * gone makes Postfix use smtpd_policy_service_default_action (DUNNO):
 * no relay, while mail to local domains keeps flowing.
 *
 * Protocol: "name=value" lines, an empty line ends a request; the answer
 * is "action=OK\n\n" for a client_address whose grant is unexpired, else
 * "action=DUNNO\n\n" (also for anything malformed).  Connections stay
 * open and carry many requests, as smtpd keeps them. */
#ifndef DRAC_POLICY_H
#define DRAC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "loop.h"

/* Bytes one request may take, empty line included; Postfix's requests
 * are well under 2 kB even with long addresses and TLS fields. */
#define POLICY_MAX_REQUEST 8192
/* Connections kept at once; the least recently active one is closed to
 * make room (smtpd reconnects by itself). */
#define POLICY_MAX_CONNS 512
/* A request must arrive whole within this time of its first byte (and a
 * new connection must send one): slow or silent clients are closed. */
#define POLICY_REQUEST_MS 10000
/* An idle connection between requests: longer than smtpd's own
 * smtpd_policy_service_max_idle (300 s). */
#define POLICY_IDLE_MS 600000

/* ---- endpoint: Postfix's notation ---- */

struct policy_endpoint {
	int family;	/* AF_UNIX, AF_INET or AF_INET6 */
	struct sockaddr_storage sa;
	socklen_t salen;
	char path[108];	/* AF_UNIX */
};

/* "unix:/ABSOLUTE/PATH", "inet:ADDRESS:PORT" with a numeric IPv4
 * address or an IPv6 one in brackets (inet:[::1]:10040).  0, or -1 with
 * the reason in err. */
int policy_endpoint_parse(const char *s, struct policy_endpoint *ep, char *err, size_t errlen);

/* ---- one request, parsed from bytes ---- */

struct policy_request {
	bool valid;	/* request=smtpd_access_policy, well formed lines */
	bool has_client;
	struct drac_addr client;
};

/* Looks for one complete request at buf (len bytes, not NUL-terminated).
 * Returns 0 when none is complete yet, else the bytes it took (through
 * the empty line) with *r filled; r->valid is false for anything
 * malformed: a line without '=', a bad name, a repeated or unparsable
 * client_address, no or another request=, a NUL byte. */
size_t policy_parse(const char *buf, size_t len, struct policy_request *r);

/* ---- the service ---- */

struct policy_stats {
	uint64_t requests, ok, dunno, malformed, oversized;
	uint64_t accepted, evicted, timeouts, connections;
};

/* true when a is granted at this moment. */
typedef bool (*policy_lookup_fn)(const struct drac_addr *a, void *arg);

struct mirror;
/* The lookup dracd and the benchmark use: in m with expiry > now_ms. */
bool policy_mirror_granted(const struct mirror *m, const struct drac_addr *a, uint64_t now_ms);

struct policy;
/* Listens on the endpoint (a unix socket is made mode 0666: the
 * directory it lives in decides who may connect, as with Postfix's own
 * private/ sockets).  NULL + logged reason on failure. */
struct policy *policy_new(struct loop *l, const char *endpoint, policy_lookup_fn fn, void *arg);
/* Closes every connection and the listener; removes the unix socket. */
void policy_free(struct policy *p);
const struct policy_stats *policy_stats(const struct policy *p);
/* Other deadlines than POLICY_REQUEST_MS and POLICY_IDLE_MS (tests). */
void policy_set_deadlines(struct policy *p, unsigned request_ms, unsigned idle_ms);
const char *policy_endpoint_name(const struct policy *p);

#endif
