/* settings.c - the settings file: shell-style KEY="value" lines, read the
 * way the classic init script sourced /etc/sysconfig/dracd, but parsed
 * (never executed) and checked against one table of keys and bounds. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logtrust.h"
#include "policy.h"
#include "settings.h"
#include "sharemsg.h"

#define WINDOW_MIN_MS 1000ULL
#define WINDOW_MAX_MS (31ULL * 24 * 3600 * 1000)

enum kind { K_BOOL, K_WINDOW, K_PATH, K_UINT, K_PORTS, K_NETS, K_STR, K_ENDPOINT,
	    K_JOURNAL, K_UIDS, K_SHARE, K_SENTINELS, K_PREFIX };

struct key {
	const char *name;
	enum kind kind;
	size_t off;   /* into struct settings */
	size_t size;  /* of a string field */
	unsigned long min, max; /* K_UINT */
	size_t count_off; /* K_PORTS: offset of the count */
	const char *def;
};

#define F(field) offsetof(struct settings, field), sizeof(((struct settings *)0)->field)

static const struct key keys[] = {
	{ "ENABLE_DRAC", K_BOOL, F(enable), 0, 0, 0, "no" },
	{ "EXPIRE_TIME", K_WINDOW, F(window_ms), 0, 0, 0, "30" },
	{ "DRAC_MAP", K_PATH, F(map_path), 0, 0, 0, "/etc/dracd/dracd.db" },
	{ "DRAC_TAP", K_BOOL, F(tap), 0, 0, 0, "yes" },
	{ "DRAC_NFLOG_GROUP", K_UINT, F(nflog_group), 1, 65535, 0, "4110" },
	{ "DRAC_POP3_PORTS", K_PORTS, F(pop3_ports), 0, 0, offsetof(struct settings, n_pop3), "110" },
	{ "DRAC_IMAP_PORTS", K_PORTS, F(imap_ports), 0, 0, offsetof(struct settings, n_imap), "143" },
	{ "DRAC_TRUSTED", K_NETS, F(trusted), 0, 0, 0, "" },
	{ "DRAC_GATE_PORTS", K_PORTS, F(gate_ports), 0, 0, offsetof(struct settings, n_gate), "" },
	{ "DRAC_MAX_FLOWS", K_UINT, F(max_flows), 16, 10000000, 0, "200000" },
	{ "DRAC_EVENT_BUFFER", K_UINT, F(event_buffer), 65536, 1u << 30, 0, "16777216" },
	{ "DRAC_MAP_INTERVAL", K_UINT, F(write_interval_ms), 0, 60000, 0, "50" },
	{ "DRAC_LOGHOOK_SOCKET", K_PATH, F(loghook_socket), 0, 0, 0, "" },
	{ "DRAC_LOGHOOK_FILE", K_PATH, F(loghook_file), 0, 0, 0, "" },
	{ "DRAC_LOGHOOK_STDIN", K_BOOL, F(loghook_stdin), 0, 0, 0, "no" },
	{ "DRAC_LOGHOOK_JOURNAL", K_JOURNAL, F(loghook_journal), 0, 0, 0, "" },
	{ "DRAC_LOGHOOK_UIDS", K_UIDS, F(loghook_uids), 0, 0, 0, "0" },
	{ "DRAC_RPC", K_BOOL, F(rpc), 0, 0, 0, "no" },
	{ "DRAC_ALLOW", K_PATH, F(allow_path), 0, 0, 0, "/etc/dracd/dracd.allow" },
	{ "DRAC_FORWARD", K_BOOL, F(forward), 0, 0, 0, "no" },
	{ "DRAC_SERVERS", K_PATH, F(conf_path), 0, 0, 0, "/etc/dracd/dracd.conf" },
	{ "DRAC_USER", K_STR, F(user), 0, 0, 0, "" },
	{ "DRAC_PIDFILE", K_PATH, F(pidfile), 0, 0, 0, "/run/dracd.pid" },
	{ "DRAC_CONTROL", K_PATH, F(control), 0, 0, 0, "/run/dracd.sock" },
	{ "DRAC_POLICY", K_ENDPOINT, F(policy), 0, 0, 0, "" },
	{ "DRAC_RPC_UDP", K_BOOL, F(rpc_udp), 0, 0, 0, "yes" },
	{ "DRAC_SHARE", K_SHARE, F(share), 0, 0, 0, "" },
	{ "DRAC_SHARE_AUTH", K_PATH, F(share_auth), 0, 0, 0, "" },
	{ "DRAC_SHARE_SENTINELS", K_SENTINELS, F(share_sentinels), 0, 0, 0, "" },
	{ "DRAC_SHARE_MASTER", K_STR, F(share_master), 0, 0, 0, "drac" },
	{ "DRAC_SHARE_PREFIX", K_PREFIX, F(share_prefix), 0, 0, 0, "drac" },
	{ "DRAC_SHARE_QUEUE", K_UINT, F(share_queue), 16, 10000000, 0, "100000" },
};

int parse_window(const char *s, uint64_t *ms, char *err, size_t errlen)
{
	unsigned long long v, unit = 60000; /* bare number: minutes */
	char *end;

	if (!isdigit((unsigned char)*s)) {
		snprintf(err, errlen, "window \"%s\" is not a number (e.g. 30, 90s, 45m, 2h)", s);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > 1000000000ULL)
		goto range;
	if (*end) {
		if (end[1]) {
			snprintf(err, errlen, "window \"%s\" has an unknown unit", s);
			return -1;
		}
		switch (*end) {
		case 's': unit = 1000; break;
		case 'm': unit = 60000; break;
		case 'h': unit = 3600000; break;
		case 'd': unit = 86400000; break;
		default:
			snprintf(err, errlen, "window \"%s\" has an unknown unit (s, m, h, d)", s);
			return -1;
		}
	}
	if (v * unit < WINDOW_MIN_MS || v * unit > WINDOW_MAX_MS)
		goto range;
	*ms = v * unit;
	return 0;
range:
	snprintf(err, errlen, "window \"%s\" is out of range (1s to 31d)", s);
	return -1;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static int parse_ports(const char *v, uint16_t *ports, unsigned *n, char *err, size_t errlen)
{
	unsigned count = 0;

	while (*v) {
		size_t len = strcspn(v, " \t,");
		char *end;
		unsigned long p;

		if (len == 0) {
			v++;
			continue;
		}
		p = strtoul(v, &end, 10);
		if (!isdigit((unsigned char)*v) || end != v + len || p == 0 || p > 65535) {
			snprintf(err, errlen, "\"%.*s\" is not a port number", (int)len, v);
			return -1;
		}
		if (count == SETTINGS_MAX_PORTS) {
			snprintf(err, errlen, "more than %d ports", SETTINGS_MAX_PORTS);
			return -1;
		}
		ports[count++] = p;
		v += len;
	}
	*n = count;
	return 0;
}

static const struct key *key_find(const char *name)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int key_apply(struct settings *s, const struct key *k, const char *v, char *err, size_t errlen)
{
	char *field = (char *)s + k->off;

	switch (k->kind) {
	case K_BOOL:
		if (parse_bool(v, (bool *)field) < 0) {
			snprintf(err, errlen, "%s=\"%s\": expected yes or no", k->name, v);
			return -1;
		}
		return 0;
	case K_WINDOW: {
		char why[128];

		if (parse_window(v, (uint64_t *)field, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", k->name, why);
			return -1;
		}
		return 0;
	}
	case K_SHARE:
	case K_SENTINELS:
	case K_PREFIX:
	case K_JOURNAL:
	case K_UIDS: {
		/* checked here so that a mistake names FILE:LINE */
		char why[256];
		struct logtrust_journal j;
		struct logtrust_uids u;
		struct share_endpoint ep;
		struct share_hostport hp[SHARE_MAX_SENTINELS];

		if ((k->kind == K_SHARE && share_parse_endpoint(v, &ep, why, sizeof(why)) < 0) ||
		    (k->kind == K_SENTINELS && share_parse_sentinels(v, hp, why, sizeof(why)) < 0) ||
		    (k->kind == K_PREFIX && share_parse_prefix(v, why, sizeof(why)) < 0)) {
			snprintf(err, errlen, "%s: %s", k->name, why);
			return -1;
		}

		if (k->kind == K_JOURNAL && *v && logtrust_journal_parse(v, &j, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", k->name, why);
			return -1;
		}
		if (k->kind == K_UIDS && logtrust_uids_parse(v, &u, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", k->name, why);
			return -1;
		}
	}
		/* fall through */
	case K_PATH:
	case K_STR:
		if (strlen(v) >= k->size) {
			snprintf(err, errlen, "%s: value too long", k->name);
			return -1;
		}
		if (k->kind == K_PATH && *v && *v != '/') {
			snprintf(err, errlen, "%s=\"%s\": expected an absolute path", k->name, v);
			return -1;
		}
		strcpy(field, v);
		return 0;
	case K_UINT: {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (!isdigit((unsigned char)*v) || *end || errno || n < k->min || n > k->max) {
			snprintf(err, errlen, "%s=\"%s\": expected a number from %lu to %lu",
				 k->name, v, k->min, k->max);
			return -1;
		}
		*(unsigned *)field = n;
		return 0;
	}
	case K_PORTS: {
		char why[128];
		uint16_t ports[SETTINGS_MAX_PORTS];
		unsigned n;

		if (parse_ports(v, ports, &n, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s", k->name, why);
			return -1;
		}
		memcpy(field, ports, sizeof(ports));
		*(unsigned *)((char *)s + k->count_off) = n;
		return 0;
	}
	case K_ENDPOINT: {
		struct policy_endpoint ep;
		char why[256];

		if (strlen(v) >= k->size) {
			snprintf(err, errlen, "%s: value too long", k->name);
			return -1;
		}
		if (*v && policy_endpoint_parse(v, &ep, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s=%s", k->name, why);
			return -1;
		}
		strcpy(field, v);
		return 0;
	}
	case K_NETS: {
		struct netlist l = { 0 };
		char bad[64];

		if (netlist_parse(&l, v, bad, sizeof(bad)) < 0) {
			netlist_free(&l);
			snprintf(err, errlen, "%s: \"%s\" is not an address or network", k->name, bad);
			return -1;
		}
		netlist_free((struct netlist *)field);
		*(struct netlist *)field = l;
		return 0;
	}
	}
	return -1;
}

int settings_set(struct settings *s, const char *key, const char *value, char *err, size_t errlen)
{
	const struct key *k = key_find(key);

	if (!k) {
		snprintf(err, errlen, "unknown setting %s", key);
		return -1;
	}
	return key_apply(s, k, value, err, errlen);
}

void settings_defaults(struct settings *s)
{
	char err[128];

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (key_apply(s, &keys[i], keys[i].def, err, sizeof(err)) < 0)
			msg_fatal("built-in default: %s", err);
}

void settings_free(struct settings *s)
{
	netlist_free(&s->trusted);
}

/* Parse one value: "double quoted" (with \" \\ \$ \` escapes), 'single
 * quoted', or bare; then only blanks and a # comment may follow. */
static int parse_value(const char *p, char *out, size_t outlen, const char **why)
{
	size_t n = 0;

	while (*p && !isspace((unsigned char)*p) && *p != '#') {
		char q = *p;

		if (q == '"' || q == '\'') {
			p++;
			while (*p && *p != q) {
				if (q == '"' && *p == '\\' && strchr("\"\\$`", p[1]))
					p++;
				else if (q == '"' && (*p == '$' || *p == '`'))
					return *why = "shell expansion ($ or `) is not supported", -1;
				if (n + 1 >= outlen)
					return *why = "value too long", -1;
				out[n++] = *p++;
			}
			if (*p != q)
				return *why = "unterminated quote", -1;
			p++;
		} else {
			if (strchr("$`;&|<>()\\", q))
				return *why = "unquoted shell syntax is not supported", -1;
			if (n + 1 >= outlen)
				return *why = "value too long", -1;
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p && *p != '#')
		return *why = "text after the value", -1;
	return 0;
}

int settings_load(struct settings *s, const char *path, bool must_exist, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	unsigned lineno = 0;
	struct settings tmp;

	if (!f) {
		if (errno == ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Parse into a copy so that a bad file changes nothing. */
	tmp = *s;
	memset(&tmp.trusted, 0, sizeof(tmp.trusted));
	for (size_t i = 0; i < s->trusted.n; i++)
		netlist_add(&tmp.trusted, &s->trusted.nets[i]);

	while (fgets(line, sizeof(line), f)) {
		char key[64], value[PATH_MAX], why[256];
		const char *p = line, *msg = NULL;
		size_t klen;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line too long", path, lineno);
			goto bad;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (strncmp(p, "export", 6) == 0 && isspace((unsigned char)p[6]))
			for (p += 6; isspace((unsigned char)*p);)
				p++;
		klen = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		if (klen == 0 || klen >= sizeof(key) || p[klen] != '=' || isdigit((unsigned char)*p)) {
			snprintf(err, errlen, "%s:%u: expected KEY=\"value\"", path, lineno);
			goto bad;
		}
		memcpy(key, p, klen);
		key[klen] = '\0';
		if (parse_value(p + klen + 1, value, sizeof(value), &msg) < 0) {
			snprintf(err, errlen, "%s:%u: %s: %s", path, lineno, key, msg);
			goto bad;
		}
		if (!key_find(key)) {
			/* Site files carry other variables (DRAC_OPTIONS...). */
			msg_warn("%s:%u: unknown setting %s ignored", path, lineno, key);
			continue;
		}
		if (settings_set(&tmp, key, value, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			goto bad;
		}
	}
	fclose(f);
	settings_free(s);
	*s = tmp;
	return 0;
bad:
	fclose(f);
	settings_free(&tmp);
	return -1;
}

void settings_print(const struct settings *s, FILE *f)
{
	char buf[ADDR_STRLEN];

	fprintf(f, "ENABLE_DRAC=\"%s\"\n", s->enable ? "yes" : "no");
	if (s->window_ms % 60000 == 0)
		fprintf(f, "EXPIRE_TIME=\"%llu\"\n", (unsigned long long)(s->window_ms / 60000));
	else
		fprintf(f, "EXPIRE_TIME=\"%llus\"\n", (unsigned long long)(s->window_ms / 1000));
	fprintf(f, "DRAC_MAP=\"%s\"\nDRAC_TAP=\"%s\"\nDRAC_NFLOG_GROUP=\"%u\"\n",
		s->map_path, s->tap ? "yes" : "no", s->nflog_group);
	fputs("DRAC_POP3_PORTS=\"", f);
	for (unsigned i = 0; i < s->n_pop3; i++)
		fprintf(f, "%s%u", i ? " " : "", s->pop3_ports[i]);
	fputs("\"\nDRAC_IMAP_PORTS=\"", f);
	for (unsigned i = 0; i < s->n_imap; i++)
		fprintf(f, "%s%u", i ? " " : "", s->imap_ports[i]);
	fputs("\"\nDRAC_TRUSTED=\"", f);
	for (size_t i = 0; i < s->trusted.n; i++)
		fprintf(f, "%s%s/%u", i ? " " : "",
			addr_fmt(&s->trusted.nets[i].addr, buf, sizeof(buf)),
			s->trusted.nets[i].prefix);
	fputs("\"\nDRAC_GATE_PORTS=\"", f);
	for (unsigned i = 0; i < s->n_gate; i++)
		fprintf(f, "%s%u", i ? " " : "", s->gate_ports[i]);
	fprintf(f, "\"\nDRAC_MAX_FLOWS=\"%u\"\nDRAC_EVENT_BUFFER=\"%u\"\nDRAC_MAP_INTERVAL=\"%u\"\n",
		s->max_flows, s->event_buffer, s->write_interval_ms);
	fprintf(f, "DRAC_LOGHOOK_SOCKET=\"%s\"\nDRAC_LOGHOOK_FILE=\"%s\"\nDRAC_LOGHOOK_STDIN=\"%s\"\n",
		s->loghook_socket, s->loghook_file, s->loghook_stdin ? "yes" : "no");
	fprintf(f, "DRAC_LOGHOOK_JOURNAL=\"%s\"\nDRAC_LOGHOOK_UIDS=\"%s\"\n", s->loghook_journal,
		s->loghook_uids);
	fprintf(f, "DRAC_RPC=\"%s\"\nDRAC_ALLOW=\"%s\"\nDRAC_FORWARD=\"%s\"\nDRAC_SERVERS=\"%s\"\n",
		s->rpc ? "yes" : "no", s->allow_path, s->forward ? "yes" : "no", s->conf_path);
	fprintf(f, "DRAC_USER=\"%s\"\nDRAC_PIDFILE=\"%s\"\nDRAC_CONTROL=\"%s\"\n", s->user,
		s->pidfile, s->control);
	fprintf(f, "DRAC_POLICY=\"%s\"\n", s->policy);
	fprintf(f, "DRAC_RPC_UDP=\"%s\"\n", s->rpc_udp ? "yes" : "no");
}
