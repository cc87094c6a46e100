/* drac.c - the operator's command: add, remove and list grants, status
 *
 * It talks to nf_tables directly (like nft), so it works with or without
 * dracd; a running dracd sees every change through its events and
 * mirrors it into the Postfix map.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "control.h"
#include "log.h"
#include "loop.h"
#include "nftset.h"
#include "ruleset.h"
#include "settings.h"
#include "statusdoc.h"

static void usage(FILE *f)
{
	fputs("usage: drac [-c settings] COMMAND\n"
	      "  add ADDRESS [WINDOW]   grant (or refresh) ADDRESS for WINDOW (default: dracd's)\n"
	      "  del ADDRESS            revoke ADDRESS\n"
	      "  list [--json]          grants in force with their remaining time\n"
	      "  flush                  revoke every grant\n"
	      "  status [--json]        table, sets, counts and the daemon's counters\n",
	      f);
}

/* A host address or exit 2 saying exactly what is wrong with it. */
static void parse_host(const char *s, struct drac_addr *a)
{
	struct drac_net n;

	if (addr_parse(s, a) == 0) {
		addr_unmap(a); /* ::ffff:192.0.2.7 is 192.0.2.7, as dracd grants it */
		return;
	}
	if (!*s)
		fprintf(stderr, "drac: empty address\n");
	else if (strchr(s, '/') && net_parse(s, &n) == 0)
		fprintf(stderr, "drac: %s is a network; a host address is expected\n", s);
	else
		fprintf(stderr, "drac: %s is not an IPv4 or IPv6 address (names are not resolved)\n",
			s);
	exit(2);
}

static struct nftset *open_set(void)
{
	struct nftset *ns = nftset_open();

	if (!ns) {
		fprintf(stderr, "drac: cannot talk to nf_tables: %s%s\n", strerror(errno),
			errno == EPERM ? " (needs root or CAP_NET_ADMIN)" : "");
		exit(1);
	}
	return ns;
}

/* The running dracd's window (dracd -e may differ from the settings
 * file); the file's EXPIRE_TIME when no dracd answers. */
static uint64_t window_in_force(const struct settings *s)
{
	char doc[8192];
	ssize_t n = control_query(s->control, doc, sizeof(doc));
	uint64_t sec;

	if (n > 0 && statusdoc_u64(doc, n, "window_s", &sec) == 0 &&
	    sec >= 1 && sec <= 31 * 24 * 3600)	/* EXPIRE_TIME's bounds */
		return sec * 1000;
	return s->window_ms;
}

static int cmd_add(const struct settings *s, int argc, char **argv)
{
	struct drac_addr a;
	uint64_t window = s->window_ms;
	struct nftset *ns;
	char err[512], buf[ADDR_STRLEN];

	if (argc < 2 || argc > 3) {
		usage(stderr);
		return 2;
	}
	parse_host(argv[1], &a);
	if (argc == 3 && parse_window(argv[2], &window, err, sizeof(err)) < 0) {
		fprintf(stderr, "drac: %s\n", err);
		return 2;
	}
	if (argc == 2)
		window = window_in_force(s);
	ns = open_set();
	nftset_queue(ns, &a, window);
	if (nftset_commit(ns, err, sizeof(err)) < 0 && errno == ENOENT) {
		char err2[512];

		/* No table yet: make it (without the tap, dracd's job). */
		if (ruleset_apply(s, false, err2, sizeof(err2)) < 0) {
			fprintf(stderr, "drac: cannot create table inet drac: %s\n", err2);
			return 1;
		}
		if (nftset_commit(ns, err, sizeof(err)) >= 0)
			goto done;
	} else if (!nftset_queued(ns)) {
		goto done;
	}
	fprintf(stderr, "drac: %s\n", err);
	nftset_close(ns);
	return 1;
done:
	printf("%s granted for %llus in inet drac %s\n", addr_fmt(&a, buf, sizeof(buf)),
	       (unsigned long long)(window / 1000), nftset_name(a.family));
	nftset_close(ns);
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	struct drac_addr a;
	struct nftset *ns;
	char buf[ADDR_STRLEN];
	int rc;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	parse_host(argv[1], &a);
	addr_fmt(&a, buf, sizeof(buf));
	ns = open_set();
	rc = nftset_revoke(ns, &a);
	if (rc == 1) {
		/* Not here, but perhaps on other hosts: a dracd sharing with
		 * a fleet (DRAC_SHARE) passes on deletes it sees, so make one
		 * (an element of one second, deleted at once). */
		char err[256];

		if (nftset_queue(ns, &a, 1000) == 0 && nftset_commit(ns, err, sizeof(err)) >= 0)
			nftset_revoke(ns, &a);
	}
	nftset_close(ns);
	if (rc == 1) {
		fprintf(stderr, "drac: %s is not in inet drac %s\n", buf, nftset_name(a.family));
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "drac: cannot remove %s from inet drac %s: %s\n", buf,
			nftset_name(a.family), strerror(errno));
		return 1;
	}
	printf("%s revoked\n", buf);
	return 0;
}

struct list_ctx {
	bool json;
	int n;
};

static void list_one(const struct drac_addr *a, uint64_t timeout, uint64_t expires, void *arg)
{
	struct list_ctx *c = arg;
	char buf[ADDR_STRLEN];

	addr_fmt(a, buf, sizeof(buf));
	if (c->json)
		printf("%s{\"address\":\"%s\",\"family\":\"%s\",\"expires_ms\":%llu,\"timeout_ms\":%llu}",
		       c->n ? "," : "", buf, a->family == AF_INET ? "ipv4" : "ipv6",
		       (unsigned long long)expires, (unsigned long long)timeout);
	else
		printf("%-40s %-5s %6llus\n", buf, a->family == AF_INET ? "ipv4" : "ipv6",
		       (unsigned long long)((expires + 999) / 1000));
	c->n++;
}

static int cmd_list(int argc, char **argv)
{
	struct list_ctx c = { argc == 2 && strcmp(argv[1], "--json") == 0, 0 };
	struct nftset *ns;
	int rc = 0;

	if (argc > 2 || (argc == 2 && !c.json)) {
		usage(stderr);
		return 2;
	}
	ns = open_set();
	if (c.json)
		fputs("[", stdout);
	else
		printf("%-40s %-5s %7s\n", "ADDRESS", "FAMILY", "EXPIRES");
	for (int v6 = 0; v6 < 2; v6++) {
		int family = v6 ? AF_INET6 : AF_INET;

		if (nftset_dump(ns, family, list_one, &c) < 0) {
			fprintf(stderr, "drac: cannot list inet drac %s: %s\n", nftset_name(family),
				strerror(errno));
			rc = 1;
		}
	}
	if (c.json)
		puts("]");
	nftset_close(ns);
	return rc;
}

static int cmd_flush(void)
{
	struct nftset *ns = open_set();
	int rc = 0;

	for (int v6 = 0; v6 < 2; v6++) {
		int family = v6 ? AF_INET6 : AF_INET;

		if (nftset_flush(ns, family) < 0) {
			fprintf(stderr, "drac: cannot flush inet drac %s: %s\n", nftset_name(family),
				strerror(errno));
			rc = 1;
		}
	}
	nftset_close(ns);
	if (!rc)
		puts("all grants revoked");
	return rc;
}

/* The daemon's JSON status as "path: value" lines. */
static void print_one(const char *path, const char *value, size_t len, void *arg)
{
	printf("  %-28s %.*s\n", path, (int)(len > 200 ? 200 : len), value);
}

static void count_one(const struct drac_addr *a, uint64_t t, uint64_t e, void *arg)
{
	(*(int *)arg)++;
}

static int cmd_status(const struct settings *s, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	struct nftset *ns = open_set();
	int present[2], count[2] = { 0, 0 };
	char daemon[8192];
	ssize_t dlen;
	bool up, valid;

	if (argc > 2 || (argc == 2 && !json)) {
		usage(stderr);
		return 2;
	}
	for (int v6 = 0; v6 < 2; v6++) {
		present[v6] = nftset_exists(ns, v6 ? AF_INET6 : AF_INET);
		if (present[v6] == 1)
			nftset_dump(ns, v6 ? AF_INET6 : AF_INET, count_one, &count[v6]);
	}
	nftset_close(ns);
	dlen = control_query(s->control, daemon, sizeof(daemon));
	up = dlen > 0;
	/* Whatever answers on the socket is not trusted to be dracd. */
	valid = up && statusdoc_walk(daemon, dlen, NULL, NULL) == 0;
	if (json) {
		printf("{\"table\":\"inet drac\",\"authed\":{\"present\":%s,\"elements\":%d},"
		       "\"authed6\":{\"present\":%s,\"elements\":%d},\"daemon\":%s}\n",
		       present[0] == 1 ? "true" : "false", count[0],
		       present[1] == 1 ? "true" : "false", count[1], valid ? daemon : "null");
		return 0;
	}
	printf("set inet drac authed:  %s, %d elements\n", present[0] == 1 ? "present" : "MISSING",
	       count[0]);
	printf("set inet drac authed6: %s, %d elements\n", present[1] == 1 ? "present" : "MISSING",
	       count[1]);
	if (up) {
		printf("dracd: running\n");
		if (statusdoc_walk(daemon, dlen, print_one, NULL) < 0)
			printf("  (the reply on %s is malformed or cut short)\n", s->control);
	}
	else
		printf("dracd: not running (no answer on %s)\n", s->control);
	return present[0] == 1 && present[1] == 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	struct settings s;
	char err[512];
	int c;

	log_init("drac", LOG_TO_STDERR, 0);
	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	settings_defaults(&s);
	if (!path)
		path = access("/etc/sysconfig/dracd", F_OK) == 0 ? "/etc/sysconfig/dracd"
								 : "/etc/default/dracd";
	if (settings_load(&s, path, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "drac: %s\n", err);
		return 2;
	}
	if (strcmp(argv[0], "add") == 0)
		return cmd_add(&s, argc, argv);
	if (strcmp(argv[0], "del") == 0 || strcmp(argv[0], "delete") == 0)
		return cmd_del(argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return cmd_list(argc, argv);
	if (strcmp(argv[0], "flush") == 0)
		return argc == 1 ? cmd_flush() : (usage(stderr), 2);
	if (strcmp(argv[0], "status") == 0)
		return cmd_status(&s, argc, argv);
	fprintf(stderr, "drac: unknown command %s\n", argv[0]);
	usage(stderr);
	return 2;
}
