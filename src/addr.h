/* addr.h - IPv4 and IPv6 host addresses and networks, one type for both */
#ifndef DRAC_ADDR_H
#define DRAC_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Room for the compressed text form of any address, with its NUL. */
#define ADDR_STRLEN INET6_ADDRSTRLEN

/* family is AF_INET (bytes 0..3 used, the rest zero) or AF_INET6. */
struct drac_addr {
	uint8_t family;
	uint8_t a[16];
};

struct drac_net {
	struct drac_addr addr; /* masked to prefix */
	uint8_t prefix;
};

/* Strict host address: dotted quad or RFC 4291 text, no names, no
 * prefix, no brackets, no zone, no surrounding blanks. 0 or -1. */
int addr_parse(const char *s, struct drac_addr *out);
/* Same for a buffer that is not NUL-terminated. */
int addr_parse_n(const char *s, size_t len, struct drac_addr *out);
/* Lowercase compressed form, the one Postfix looks up. Returns buf. */
const char *addr_fmt(const struct drac_addr *a, char *buf, size_t len);
static inline size_t addr_len(const struct drac_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}
bool addr_eq(const struct drac_addr *x, const struct drac_addr *y);
/* Build from raw network-order bytes (4 or 16). */
void addr_from_bytes(struct drac_addr *out, int family, const void *bytes);
/* An IPv4-mapped IPv6 address becomes the IPv4 address. */
void addr_unmap(struct drac_addr *a);
bool addr_is_loopback(const struct drac_addr *a);
/* ::ffff:a.b.c.d, an IPv4 address written as IPv6. */
bool addr_is_v4mapped(const struct drac_addr *a);
/* "ADDR" or "ADDR/PREFIX" whose ADDR (before any masking) is one. */
bool net_is_v4mapped(const char *s);

/* "ADDR" or "ADDR/PREFIX"; a host address gets the full prefix. */
int net_parse(const char *s, struct drac_net *out);
bool net_contains(const struct drac_net *n, const struct drac_addr *a);

/* A small list of networks (trusted networks, allow lists). */
struct netlist {
	struct drac_net *nets;
	size_t n, cap;
};
int netlist_add(struct netlist *l, const struct drac_net *n);
bool netlist_match(const struct netlist *l, const struct drac_addr *a);
void netlist_free(struct netlist *l);
/* Parse a blank- or comma-separated list; on error *bad points at the
 * offending word (NUL-terminated copy in badbuf). */
int netlist_parse(struct netlist *l, const char *s, char *badbuf, size_t badlen);

#endif
