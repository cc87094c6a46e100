/* sharemsg.c - strict parsing of the fleet's settings, keys, values and
 * messages (see sharemsg.h).  Whatever fails here is garbage: counted by
 * the caller and ignored, never guessed at. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sharemsg.h"

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long p = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *c = s; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return -1;
		p = p * 10 + (unsigned long)(*c - '0');
	}
	if (p == 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* HOST[:PORT] or [V6][:PORT] of length len; port stays when absent. */
static int parse_hostport(const char *s, size_t len, struct share_hostport *hp, bool need_port,
			  char *err, size_t errlen)
{
	char buf[SHARE_HOSTLEN + 16];
	const char *host = buf, *port = NULL;
	struct drac_addr a;

	if (len == 0 || len >= sizeof(buf)) {
		snprintf(err, errlen, "\"%.*s\": empty or too long host", (int)len, s);
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = 0;
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || (close[1] && close[1] != ':')) {
			snprintf(err, errlen, "\"%s\": expected [IPv6 address]:port", buf);
			return -1;
		}
		*close = 0;
		host = buf + 1;
		if (close[1] == ':')
			port = close + 2;
		if (addr_parse(host, &a) < 0 || a.family != AF_INET6) {
			snprintf(err, errlen, "\"%s\" is not an IPv6 address", host);
			return -1;
		}
	} else {
		char *colon = strchr(buf, ':');

		if (colon) {
			if (strchr(colon + 1, ':')) {
				snprintf(err, errlen, "\"%s\": write an IPv6 address as [ADDR]:PORT", buf);
				return -1;
			}
			*colon = 0;
			port = colon + 1;
		}
		for (const char *c = host; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' && *c != '_') {
				snprintf(err, errlen, "\"%s\" is not a host name or address", host);
				return -1;
			}
		if (!*host) {
			snprintf(err, errlen, "\"%.*s\": no host", (int)len, s);
			return -1;
		}
	}
	if (port && parse_port(port, &hp->port) < 0) {
		snprintf(err, errlen, "\"%s\" is not a port number", port);
		return -1;
	}
	if (!port && need_port) {
		snprintf(err, errlen, "\"%s\": a port is needed (HOST:PORT)", buf);
		return -1;
	}
	if (strlen(host) >= sizeof(hp->host)) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	strcpy(hp->host, host);
	return 0;
}

int share_parse_endpoint(const char *s, struct share_endpoint *ep, char *err, size_t errlen)
{
	memset(ep, 0, sizeof(*ep));
	if (!*s)
		return 1;
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= sizeof(ep->path)) {
			snprintf(err, errlen, "\"%s\": expected unix:/absolute/path", s);
			return -1;
		}
		ep->is_unix = true;
		strcpy(ep->path, s + 5);
		return 0;
	}
	if (strncmp(s, "redis://", 8) == 0) {
		const char *h = s + 8, *slash = strchr(h, '/');
		size_t hl = slash ? (size_t)(slash - h) : strlen(h);

		if (memchr(h, '@', hl)) {
			snprintf(err, errlen, "\"%s\": no credentials in the URL; "
				 "name a file in DRAC_SHARE_AUTH", s);
			return -1;
		}
		ep->hp.port = 6379;
		if (parse_hostport(h, hl, &ep->hp, false, err, errlen) < 0)
			return -1;
		if (slash && slash[1]) {
			char *end;
			unsigned long db = strtoul(slash + 1, &end, 10);

			if (!isdigit((unsigned char)slash[1]) || *end || db > 65535) {
				snprintf(err, errlen, "\"%s\": the database is a number (/0)", s);
				return -1;
			}
			ep->db = (unsigned)db;
		}
		return 0;
	}
	snprintf(err, errlen, "\"%s\": expected redis://HOST[:PORT][/DB] or unix:PATH", s);
	return -1;
}

int share_parse_sentinels(const char *s, struct share_hostport *out, char *err, size_t errlen)
{
	int n = 0;

	while (*s) {
		size_t len = strcspn(s, " \t,");

		if (len == 0) {
			s++;
			continue;
		}
		if (n == SHARE_MAX_SENTINELS) {
			snprintf(err, errlen, "more than %d sentinels", SHARE_MAX_SENTINELS);
			return -1;
		}
		if (parse_hostport(s, len, &out[n], true, err, errlen) < 0)
			return -1;
		n++;
		s += len;
	}
	return n;
}

int share_parse_prefix(const char *s, char *err, size_t errlen)
{
	size_t len = strlen(s);

	if (len == 0 || len >= SHARE_PREFIX_MAX)
		goto bad;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
			goto bad;
	return 0;
bad:
	snprintf(err, errlen, "\"%s\": a prefix is 1 to %d letters, digits, '_', '-' or '.'", s,
		 SHARE_PREFIX_MAX - 1);
	return -1;
}

int share_parse_auth(const char *line, char *user, size_t ulen, char *pass, size_t plen,
		     char *err, size_t errlen)
{
	size_t len = strcspn(line, "\r\n");
	const char *sp = memchr(line, ' ', len);

	*user = 0;
	if (sp) {
		size_t n = (size_t)(sp - line);

		if (n == 0 || n >= ulen || memchr(sp + 1, ' ', len - n - 1)) {
			snprintf(err, errlen, "expected \"PASSWORD\" or \"USER PASSWORD\"");
			return -1;
		}
		memcpy(user, line, n);
		user[n] = 0;
		line = sp + 1;
		len -= n + 1;
	}
	if (len == 0 || len >= plen) {
		snprintf(err, errlen, "the password is empty or too long");
		return -1;
	}
	memcpy(pass, line, len);
	pass[len] = 0;
	return 0;
}

int share_parse_ms(const char *s, size_t len, uint64_t *ms)
{
	uint64_t v = 0;

	/* One spelling per number: no leading zeros. */
	if (len == 0 || len > 16 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ms = v;
	return 0;
}

/* A canonical address of exactly len bytes. */
static int parse_canon(const char *s, size_t len, struct drac_addr *a)
{
	char buf[ADDR_STRLEN];

	if (len == 0 || len >= sizeof(buf) || addr_parse_n(s, len, a) < 0)
		return -1;
	addr_fmt(a, buf, sizeof(buf));
	return strlen(buf) == len && memcmp(buf, s, len) == 0 ? 0 : -1;
}

/* Cut the next blank-separated field; NULL when none is left. */
static const char *field(const char **p, const char *end, size_t *flen)
{
	const char *s = *p, *sp;

	if (s >= end)
		return NULL;
	sp = memchr(s, ' ', (size_t)(end - s));
	*flen = sp ? (size_t)(sp - s) : (size_t)(end - s);
	*p = sp ? sp + 1 : end;
	return s;
}

int share_parse_msg(const char *s, size_t len, struct share_msg *m)
{
	const char *p = s, *end = s + len, *f[5];
	size_t fl[5];

	if (len < 8 || len >= SHARE_MSG_MAX)
		return -1;
	for (int i = 0; i < 5; i++)
		if (!(f[i] = field(&p, end, &fl[i])) || fl[i] == 0)
			return -1;
	if (p != end || (end[-1] == ' '))
		return -1;
	if (fl[0] != 1 || (f[0][0] != SHARE_GRANT && f[0][0] != SHARE_REVOKE))
		return -1;
	m->kind = (enum share_kind)f[0][0];
	if (parse_canon(f[1], fl[1], &m->addr) < 0 || share_parse_ms(f[2], fl[2], &m->t_ms) < 0 ||
	    share_parse_ms(f[3], fl[3], &m->sent_ms) < 0 || fl[4] != 16)
		return -1;
	for (size_t i = 0; i < 16; i++)
		if (!isxdigit((unsigned char)f[4][i]) || isupper((unsigned char)f[4][i]))
			return -1;
	memcpy(m->host, f[4], 16);
	m->host[16] = 0;
	return 0;
}

int share_fmt_msg(const struct share_msg *m, char *buf, size_t len)
{
	char a[ADDR_STRLEN];

	return snprintf(buf, len, "%c %s %llu %llu %s", (char)m->kind, addr_fmt(&m->addr, a, sizeof(a)),
			(unsigned long long)m->t_ms, (unsigned long long)m->sent_ms, m->host);
}

int share_parse_key(const char *prefix, const char *key, size_t len, struct drac_addr *a)
{
	size_t pl = strlen(prefix);
	char kind;

	if (len < pl + 4 || memcmp(key, prefix, pl) != 0 || key[pl] != ':' || key[pl + 2] != ':')
		return -1;
	kind = key[pl + 1];
	if (kind != 'g' && kind != 'r')
		return -1;
	if (parse_canon(key + pl + 3, len - pl - 3, a) < 0)
		return -1;
	return kind == 'g' ? SHARE_GRANT : SHARE_REVOKE;
}

int share_fmt_key(const char *prefix, enum share_kind k, const struct drac_addr *a, char *buf,
		  size_t len)
{
	char s[ADDR_STRLEN];
	int n = snprintf(buf, len, "%s:%c:%s", prefix, k == SHARE_GRANT ? 'g' : 'r',
			 addr_fmt(a, s, sizeof(s)));

	return n < 0 || (size_t)n >= len ? -1 : n;
}
