/* allow.h - dracd.allow: the hosts trusted to add addresses over RPC
 *
 * File format (DRAC 1.12, extended for IPv6):
 *
 *	# comment; a '#' anywhere starts a comment
 *	255.255.255.0 192.0.2.0		netmask netaddr (dotted quads)
 *	ffff:ffff:ffff:ffff:: 2001:db8::	the same for IPv6
 *	192.0.2.0/24			CIDR form, IPv4 or IPv6
 *	2001:db8::/64
 *	local_users root dovecot 1001	owners a caller on this host must have
 *
 * A caller matches a line when (caller & mask) == addr, as in rpc.dracd.
 * Masks need not be contiguous.  An IPv4-mapped IPv6 caller
 * (::ffff:a.b.c.d) never matches: dracd's IPv6 sockets are V6ONLY, so such
 * a source is forged; lines written that way are errors.  A line whose address has bits outside its mask could never match
 * and is an error, as is anything else that is not one of the forms above.
 *
 * A missing file means "255.255.255.255 127.0.0.1" and "::1/128".  An empty
 * file (or one with only comments) allows no one.
 */
#ifndef DRAC_ALLOW_H
#define DRAC_ALLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

#define ALLOW_PATH "/etc/dracd/dracd.allow"

struct allowlist;

/* Load path.  0 and *out set; -1 with "FILE:LINE: reason" in err (and
 * *out untouched, so the caller keeps its old list). */
int allow_load(const char *path, struct allowlist **out, char *err, size_t errlen);
/* The same for the contents of a file; name is used in messages. */
int allow_parse(const char *buf, size_t len, const char *name,
		struct allowlist **out, char *err, size_t errlen);
/* The built-in default (loopback only). */
struct allowlist *allow_default(void);
bool allow_check(const struct allowlist *l, const struct drac_addr *caller);
size_t allow_count(const struct allowlist *l);
/* True when the list is the default because the file was missing. */
bool allow_defaulted(const struct allowlist *l);
/* "local_users NAME|UID...": a caller whose socket is on this host may
 * add only when its owner is listed.  Without the line, any local user
 * may (as in rpc.dracd). */
bool allow_has_local_users(const struct allowlist *l);
bool allow_local_user(const struct allowlist *l, uint32_t uid);
void allow_free(struct allowlist *l);

#endif
