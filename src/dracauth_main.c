/* dracauth - tell the DRAC servers that an address has just logged in
 *
 *	dracauth [-T] [-c dracd.conf] [-s server]... [-t timeout_ms] [-p port] ADDRESS
 *
 * Updates every server named with -s, or else every server in dracd.conf.
 * Over UDP, as the classic client, unless -T or a server written
 * "tcp:NAME" (a UDP caller's address can be forged; TCP's cannot).
 * One line per failed server on stderr.  Exit 0 when every server added
 * the address, 1 when any failed, 2 on bad usage or a bad address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dracauth.h"

static void usage(void)
{
	fprintf(stderr, "usage: dracauth [-T] [-c dracd.conf] [-s server]... [-t timeout_ms] "
		"[-p port] ADDRESS\n");
	exit(2);
}

static unsigned long number(const char *s, unsigned long min, unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max || *s == '-' || *s == '+') {
		fprintf(stderr, "dracauth: bad %s \"%s\" (want %lu..%lu)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *conf = DRACAUTH_CONF;
	char **servers = NULL, **given = NULL;
	size_t ngiven = 0;
	unsigned timeout = DRACAUTH_TIMEOUT_MS;
	uint16_t port = 0;
	struct drac_addr a;
	char err[512];
	int c, n, failed = 0, proto = IPPROTO_UDP;

	while ((c = getopt(argc, argv, "c:s:t:p:Th")) != -1) {
		switch (c) {
		case 'T':
			proto = IPPROTO_TCP;
			break;
		case 'c':
			conf = optarg;
			break;
		case 's':
			given = realloc(given, (ngiven + 2) * sizeof(*given));
			if (!given) {
				fprintf(stderr, "dracauth: out of memory\n");
				return 2;
			}
			given[ngiven++] = optarg;
			given[ngiven] = NULL;
			break;
		case 't':
			timeout = number(optarg, 1, 600000, "timeout");
			break;
		case 'p':
			port = number(optarg, 1, 65535, "port");
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1) {
		free(given);
		usage();
	}
	if (addr_parse(argv[optind], &a) < 0) {
		fprintf(stderr, "dracauth: \"%s\" is not an IPv4 or IPv6 address\n", argv[optind]);
		free(given);
		return 2;
	}
	if (given) {
		servers = given;
		n = ngiven;
	} else {
		n = drac_conf_load(conf, &servers, err, sizeof(err));
		if (n < 0) {
			fprintf(stderr, "dracauth: %s\n", err);
			return 2;
		}
		if (n == 0) {
			fprintf(stderr, "dracauth: %s names no server\n", conf);
			return 2;
		}
	}
	for (int i = 0; i < n; i++) {
		char *msg = NULL;
		struct drac_client *cl;
		int rc;

		if (port) {
			cl = drac_client_open_proto(servers[i], port, proto, timeout, &rc, &msg);
			if (cl) {
				rc = drac_client_add(cl, &a, timeout, &msg);
				drac_client_close(cl);
			}
		} else {
			rc = dracauth_addr_proto(servers[i], &a, proto, timeout, &msg);
		}
		if (rc != 0) {
			fprintf(stderr, "dracauth: %s: %s: %s\n", servers[i], argv[optind],
				msg ? msg : "failed");
			failed = 1;
		}
	}
	if (given)
		free(given);
	else
		drac_conf_free(servers);
	return failed;
}
