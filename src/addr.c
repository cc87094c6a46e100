/* addr.c - parse and print host addresses and networks */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int addr_parse_n(const char *s, size_t len, struct drac_addr *out)
{
	char buf[ADDR_STRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return addr_parse(buf, out);
}

int addr_parse(const char *s, struct drac_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return -1;
	/* inet_pton accepts exactly the dotted quad (no octal, no short
	 * forms) and the RFC 4291 forms; anything else is not an address. */
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->a) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

const char *addr_fmt(const struct drac_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

bool addr_eq(const struct drac_addr *x, const struct drac_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, addr_len(x)) == 0;
}

void addr_from_bytes(struct drac_addr *out, int family, const void *bytes)
{
	memset(out, 0, sizeof(*out));
	out->family = family;
	memcpy(out->a, bytes, family == AF_INET ? 4 : 16);
}

void addr_unmap(struct drac_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (a->family == AF_INET6 && memcmp(a->a, prefix, 12) == 0) {
		uint8_t v4[4];

		memcpy(v4, a->a + 12, 4);
		addr_from_bytes(a, AF_INET, v4);
	}
}

bool addr_is_v4mapped(const struct drac_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return a->family == AF_INET6 && memcmp(a->a, prefix, 12) == 0;
}

bool net_is_v4mapped(const char *s)
{
	char buf[ADDR_STRLEN];
	size_t n = strcspn(s, "/");
	struct drac_addr a;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return addr_parse(buf, &a) == 0 && addr_is_v4mapped(&a);
}

bool addr_is_loopback(const struct drac_addr *a)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->a[0] == 127;
	return memcmp(a->a, lo6, 16) == 0;
}

int net_parse(const char *s, struct drac_net *out)
{
	char buf[ADDR_STRLEN + 4];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, prefix;

	if (alen == 0 || alen >= ADDR_STRLEN)
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (addr_parse(buf, &out->addr) < 0)
		return -1;
	max = out->addr.family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		const char *p = slash + 1;
		char *end;
		unsigned long v;

		if (!isdigit((unsigned char)*p) || strlen(p) > 3)
			return -1;
		v = strtoul(p, &end, 10);
		if (*end || v > max)
			return -1;
		prefix = v;
	}
	out->prefix = prefix;
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;

		if (bits < 8)
			out->addr.a[i] &= (uint8_t)(0xff00 >> bits);
	}
	return 0;
}

bool net_contains(const struct drac_net *n, const struct drac_addr *a)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (n->addr.family != a->family)
		return false;
	if (memcmp(n->addr.a, a->a, full) != 0)
		return false;
	if (rest && (a->a[full] & (uint8_t)(0xff00 >> rest)) != n->addr.a[full])
		return false;
	return true;
}

int netlist_add(struct netlist *l, const struct drac_net *n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct drac_net *p = realloc(l->nets, cap * sizeof(*p));

		if (!p)
			return -1;
		l->nets = p;
		l->cap = cap;
	}
	l->nets[l->n++] = *n;
	return 0;
}

bool netlist_match(const struct netlist *l, const struct drac_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (net_contains(&l->nets[i], a))
			return true;
	return false;
}

void netlist_free(struct netlist *l)
{
	free(l->nets);
	memset(l, 0, sizeof(*l));
}

int netlist_parse(struct netlist *l, const char *s, char *badbuf, size_t badlen)
{
	while (*s) {
		char word[ADDR_STRLEN + 8];
		size_t n = strcspn(s, " \t,");
		struct drac_net net;

		if (n == 0) {
			s++;
			continue;
		}
		/* ::ffff:a.b.c.d never matches: IPv4 peers are compared as
		 * IPv4 and a mapped source on an IPv6 socket is forged. */
		if (n >= sizeof(word) || (memcpy(word, s, n), word[n] = '\0',
					  net_parse(word, &net) < 0) ||
		    net_is_v4mapped(word)) {
			snprintf(badbuf, badlen, "%.*s", (int)n, s);
			return -1;
		}
		if (netlist_add(l, &net) < 0) {
			snprintf(badbuf, badlen, "out of memory");
			return -1;
		}
		s += n;
	}
	return 0;
}
