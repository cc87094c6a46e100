/* allow.c - parse dracd.allow and check RPC callers against it */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"

/* Bigger than any sane allow file; a bound so a wrong path (a device, a
 * log file) cannot make us read without end. */
#define ALLOW_MAX_FILE (1024 * 1024)
#define ALLOW_MAX_LINE 512

struct allow_entry {
	uint8_t family;
	uint8_t mask[16];
	uint8_t addr[16];
};

struct allowlist {
	struct allow_entry *e;
	size_t n, cap;
	bool defaulted;
	uint32_t *uids;		/* local_users: owners local callers may have */
	size_t nuids;
	bool local_users;	/* a local_users line was given */
};

static int allow_add(struct allowlist *l, const struct allow_entry *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct allow_entry *p = realloc(l->e, cap * sizeof(*p));

		if (!p)
			return -1;
		l->e = p;
		l->cap = cap;
	}
	l->e[l->n++] = *e;
	return 0;
}

void allow_free(struct allowlist *l)
{
	if (!l)
		return;
	free(l->e);
	free(l->uids);
	free(l);
}

struct allowlist *allow_default(void)
{
	struct allowlist *l = calloc(1, sizeof(*l));
	struct allow_entry e4 = { .family = AF_INET }, e6 = { .family = AF_INET6 };

	if (!l)
		return NULL;
	memset(e4.mask, 0xff, 4);
	e4.addr[0] = 127;
	e4.addr[3] = 1;
	memset(e6.mask, 0xff, 16);
	e6.addr[15] = 1;
	if (allow_add(l, &e4) < 0 || allow_add(l, &e6) < 0) {
		allow_free(l);
		return NULL;
	}
	l->defaulted = true;
	return l;
}

/* Callers come in as IPv4 on IPv4 sockets; a mapped source on dracd's
 * V6ONLY sockets is forged, so such a line could only ever admit forgers. */
#define MAPPED_WHY "\"%s\" is an IPv4-mapped IPv6 address: write the IPv4 address " \
	"(a.b.c.d or a.b.c.d/n); mapped callers are refused as forged"

/* One word of a line: at most one address or CIDR, so bounded. */
static int allow_word(const char *s, size_t n, char *buf, size_t len)
{
	if (n >= len)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

/* Parse one line (no newline, no NUL inside).  0, 1 for "nothing here",
 * -1 with reason. */
static int allow_line(const char *s, size_t len, struct allow_entry *e,
		      char *why, size_t whylen)
{
	const char *w[3];
	size_t wl[3], nw = 0, i = 0;
	char a[ADDR_STRLEN + 8], b[ADDR_STRLEN + 8];
	struct drac_addr mask, addr;

	while (i < len) {
		if (s[i] == '#')
			break;
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		if (nw == 3) {
			snprintf(why, whylen, "too many words (want \"netmask netaddr\" or \"addr/prefix\")");
			return -1;
		}
		w[nw] = s + i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
			i++;
		wl[nw] = s + i - w[nw];
		nw++;
	}
	if (nw == 0)
		return 1;
	if (nw == 3) {
		snprintf(why, whylen, "too many words (want \"netmask netaddr\" or \"addr/prefix\")");
		return -1;
	}
	memset(e, 0, sizeof(*e));
	if (nw == 1) {
		struct drac_net net;
		char *slash;

		if (allow_word(w[0], wl[0], a, sizeof(a)) < 0 || !(slash = strchr(a, '/'))) {
			snprintf(why, whylen, "\"%.*s\" is not \"netmask netaddr\" or \"addr/prefix\"",
				 (int)(wl[0] > 64 ? 64 : wl[0]), w[0]);
			return -1;
		}
		if (net_parse(a, &net) < 0) {
			snprintf(why, whylen, "bad network \"%s\"", a);
			return -1;
		}
		if (net_is_v4mapped(a)) {
			snprintf(why, whylen, MAPPED_WHY, a);
			return -1;
		}
		*slash = '\0';
		if (addr_parse(a, &addr) < 0 || !addr_eq(&addr, &net.addr)) {
			snprintf(why, whylen, "\"%s/%s\" has host bits set", a, slash + 1);
			return -1;
		}
		e->family = net.addr.family;
		for (unsigned bit = 0; bit < net.prefix; bit++)
			e->mask[bit / 8] |= 0x80 >> (bit % 8);
		memcpy(e->addr, net.addr.a, 16);
		return 0;
	}
	if (allow_word(w[0], wl[0], a, sizeof(a)) < 0 || addr_parse(a, &mask) < 0) {
		snprintf(why, whylen, "bad netmask \"%.*s\"", (int)(wl[0] > 64 ? 64 : wl[0]), w[0]);
		return -1;
	}
	if (allow_word(w[1], wl[1], b, sizeof(b)) < 0 || addr_parse(b, &addr) < 0) {
		snprintf(why, whylen, "bad netaddr \"%.*s\"", (int)(wl[1] > 64 ? 64 : wl[1]), w[1]);
		return -1;
	}
	if (addr_is_v4mapped(&addr)) {
		snprintf(why, whylen, MAPPED_WHY, b);
		return -1;
	}
	if (mask.family != addr.family) {
		snprintf(why, whylen, "netmask %s and netaddr %s are of different families", a, b);
		return -1;
	}
	for (i = 0; i < 16; i++) {
		if (addr.a[i] & ~mask.a[i]) {
			snprintf(why, whylen, "netaddr %s has bits outside netmask %s: it can never match", b, a);
			return -1;
		}
	}
	e->family = mask.family;
	memcpy(e->mask, mask.a, 16);
	memcpy(e->addr, addr.a, 16);
	return 0;
}

/* "local_users NAME|UID..." (s without the keyword): the owners a caller
 * on this host must have.  Names are resolved now, so a typo is an error
 * at start, not a refusal at the first call.  -1 with reason. */
static int allow_users(struct allowlist *l, const char *s, size_t len, char *why, size_t whylen)
{
	size_t i = 0;

	l->local_users = true;
	while (i < len && s[i] != '#') {
		char w[64], *end;
		size_t k = i;
		unsigned long v;
		uint32_t *p;

		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r') {
			i++;
			continue;
		}
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
			i++;
		if (allow_word(s + k, i - k, w, sizeof(w)) < 0) {
			snprintf(why, whylen, "user name too long");
			return -1;
		}
		errno = 0;
		v = strtoul(w, &end, 10);
		if (*w >= '0' && *w <= '9' && !*end && !errno && v < 0xffffffffu) {
			/* a uid */
		} else {
			struct passwd *pw = getpwnam(w);

			if (!pw) {
				snprintf(why, whylen, "local_users: no user \"%s\"", w);
				return -1;
			}
			v = pw->pw_uid;
		}
		p = realloc(l->uids, (l->nuids + 1) * sizeof(*p));
		if (!p) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		l->uids = p;
		l->uids[l->nuids++] = v;
	}
	return 0;
}

/* The line's first word is "local_users". */
static bool allow_is_users(const char *s, size_t n, size_t *kw_end)
{
	static const char kw[] = "local_users";
	size_t i = 0;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i < sizeof(kw) - 1 || memcmp(s + i, kw, sizeof(kw) - 1) != 0)
		return false;
	i += sizeof(kw) - 1;
	if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '#')
		return false;
	*kw_end = i;
	return true;
}

int allow_parse(const char *buf, size_t len, const char *name,
		struct allowlist **out, char *err, size_t errlen)
{
	struct allowlist *l = calloc(1, sizeof(*l));
	size_t pos = 0;
	unsigned lineno = 0;
	char why[256];

	if (!l) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	while (pos < len) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		struct allow_entry e;
		int rc;

		lineno++;
		pos += n + (nl ? 1 : 0);
		if (n > ALLOW_MAX_LINE) {
			snprintf(err, errlen, "%s:%u: line longer than %d bytes", name, lineno, ALLOW_MAX_LINE);
			goto bad;
		}
		if (memchr(s, '\0', n)) {
			snprintf(err, errlen, "%s:%u: NUL byte in line", name, lineno);
			goto bad;
		}
		{
			size_t kw;

			if (allow_is_users(s, n, &kw)) {
				if (allow_users(l, s + kw, n - kw, why, sizeof(why)) < 0) {
					snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
					goto bad;
				}
				continue;
			}
		}
		rc = allow_line(s, n, &e, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
			goto bad;
		}
		if (rc == 0 && allow_add(l, &e) < 0) {
			snprintf(err, errlen, "%s:%u: out of memory", name, lineno);
			goto bad;
		}
	}
	*out = l;
	return 0;
bad:
	allow_free(l);
	return -1;
}

int allow_load(const char *path, struct allowlist **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		struct allowlist *l = allow_default();

		if (!l) {
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
		*out = l;
		return 0;
	}
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto bad;
	}
	if (st.st_size > ALLOW_MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, ALLOW_MAX_FILE);
		goto bad;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto bad;
	}
	/* Read to EOF (the file may change size under us), never past the
	 * bound. */
	for (;;) {
		ssize_t r = read(fd, buf + len, st.st_size + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto bad;
		}
		if (r == 0)
			break;
		len += r;
		if (len > (size_t)st.st_size) {
			snprintf(err, errlen, "%s: changed while being read", path);
			goto bad;
		}
	}
	close(fd);
	rc = allow_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
bad:
	free(buf);
	close(fd);
	return -1;
}

bool allow_check(const struct allowlist *l, const struct drac_addr *caller)
{
	const struct drac_addr *c = caller;

	/* Never unmapped here: only a forged datagram carries a mapped
	 * source to dracd (its IPv6 sockets are V6ONLY). */
	if (!l || addr_is_v4mapped(c))
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct allow_entry *e = &l->e[i];
		size_t k, n = e->family == AF_INET ? 4 : 16;

		if (e->family != c->family)
			continue;
		for (k = 0; k < n; k++)
			if ((c->a[k] & e->mask[k]) != e->addr[k])
				break;
		if (k == n)
			return true;
	}
	return false;
}

size_t allow_count(const struct allowlist *l)
{
	return l ? l->n : 0;
}

bool allow_defaulted(const struct allowlist *l)
{
	return l && l->defaulted;
}

bool allow_has_local_users(const struct allowlist *l)
{
	return l && l->local_users;
}

bool allow_local_user(const struct allowlist *l, uint32_t uid)
{
	for (size_t i = 0; l && i < l->nuids; i++)
		if (l->uids[i] == uid)
			return true;
	return false;
}
