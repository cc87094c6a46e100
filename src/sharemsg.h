/* sharemsg.h - the words dracd and Redis exchange for the fleet
 * (DRAC_SHARE): the endpoint and credentials settings, the keys, values
 * and channel messages.  Pure functions: everything read from Redis is
 * untrusted and goes through here, strictly, before it can touch a set.
 *
 * Keys (PREFIX is DRAC_SHARE_PREFIX, "drac" by default):
 *   PREFIX:g:ADDR   a grant; value = its end, ms since the epoch, and the
 *                   key expires at that instant (PXAT)
 *   PREFIX:r:ADDR   a revocation; value = when, ms since the epoch; lives
 *                   one window (it only has to outlive the grants it ends)
 * Channel PREFIX:events, messages of one or more lines (a batch, joined
 * by newlines), each
 *   G ADDR END_MS SENT_MS HOSTID     a grant until END_MS
 *   R ADDR WHEN_MS SENT_MS HOSTID    a revocation at WHEN_MS
 * ADDR is always addr_fmt's canonical form, so that one address has one
 * key; HOSTID is 16 lowercase hex digits, new at every dracd start. */
#ifndef DRAC_SHAREMSG_H
#define DRAC_SHAREMSG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define SHARE_HOSTLEN 256
#define SHARE_MAX_SENTINELS 8
#define SHARE_PREFIX_MAX 64
#define SHARE_MSG_MAX 160 /* longer messages are garbage */

struct share_hostport {
	char host[SHARE_HOSTLEN]; /* a name or an address, no brackets */
	uint16_t port;
};

struct share_endpoint {
	bool is_unix;
	char path[PATH_MAX];	  /* unix:PATH */
	struct share_hostport hp; /* redis://HOST[:PORT][/DB] */
	unsigned db;
};

/* "" (off: returns 1), "redis://HOST[:PORT][/DB]" with HOST a name, an
 * IPv4 address or [IPv6], or "unix:/PATH".  0, 1, or -1 with err. */
int share_parse_endpoint(const char *s, struct share_endpoint *ep, char *err, size_t errlen);
/* "HOST:PORT [HOST:PORT ...]" ([v6]:port), blank- or comma-separated,
 * at most SHARE_MAX_SENTINELS.  Returns the count or -1 with err. */
int share_parse_sentinels(const char *s, struct share_hostport *out, char *err, size_t errlen);
/* A key prefix: 1..SHARE_PREFIX_MAX-1 of [A-Za-z0-9_.-], nothing Redis'
 * glob syntax would read.  0 or -1 with err. */
int share_parse_prefix(const char *s, char *err, size_t errlen);
/* The credentials file's first line: "PASSWORD" or "USER PASSWORD";
 * trailing CR/LF removed; no blank password.  0 or -1 with err. */
int share_parse_auth(const char *line, char *user, size_t ulen, char *pass, size_t plen,
		     char *err, size_t errlen);

/* A decimal count of milliseconds, 1..16 digits, no leading zero,
 * nothing else. */
int share_parse_ms(const char *s, size_t len, uint64_t *ms);

enum share_kind { SHARE_GRANT = 'G', SHARE_REVOKE = 'R' };

struct share_msg {
	enum share_kind kind;
	struct drac_addr addr;
	uint64_t t_ms;	  /* grant: its end; revocation: when */
	uint64_t sent_ms;
	char host[17];
};

/* One line of a channel message; 0 or -1 (garbage). */
int share_parse_msg(const char *s, size_t len, struct share_msg *m);
/* Format one; returns its length (< SHARE_MSG_MAX). */
int share_fmt_msg(const struct share_msg *m, char *buf, size_t len);

/* A key under prefix: PREFIX:g:ADDR or PREFIX:r:ADDR with ADDR in
 * canonical form.  Returns SHARE_GRANT or SHARE_REVOKE, or -1. */
int share_parse_key(const char *prefix, const char *key, size_t len, struct drac_addr *a);
/* PREFIX:g:ADDR / PREFIX:r:ADDR; returns the length or -1. */
int share_fmt_key(const char *prefix, enum share_kind k, const struct drac_addr *a, char *buf,
		  size_t len);

#endif
