/* bench_policy.c - the policy service as Postfix uses it: 16 clients on
 * persistent connections, each sending a full smtpd request and waiting
 * for the answer (as smtpd does), against a dracd-style loop with a
 * mirror of 10,000 grants; lookups/s and p50/p99 latency.  Beside it, in
 * the same run, the btree map lookup smtpd does for
 * check_client_access: flock(LOCK_SH), libdb5.3 DB->get, flock(LOCK_UN),
 * on the map the mirror wrote, from 1 and from 16 threads (16 smtpd).
 *
 * usage: bench_policy [-c CLIENTS] [-s SECONDS] [-n GRANTS] */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "loop.h"
#include "mirror.h"
#include "policy.h"

static int n_clients = 16, seconds = 3;
static unsigned n_grants = 10000;
static char dir[] = "/tmp/drac-bench-policy.XXXXXX";

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The i-th address: granted when i < n_grants; three IPv4 to one IPv6. */
static void nth_addr(unsigned i, struct drac_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (i % 4 == 3) {
		uint8_t b[16] = { 0x20, 0x01, 0x0d, 0xb8 };

		b[12] = i >> 24, b[13] = i >> 16, b[14] = i >> 8, b[15] = i;
		addr_from_bytes(a, AF_INET6, b);
	} else {
		uint8_t b[4] = { 10, i >> 16, i >> 8, i };

		addr_from_bytes(a, AF_INET, b);
	}
}

/* ---- the server: dracd's loop, policy service and mirror ---- */

static struct mirror *mirror;

static bool lookup(const struct drac_addr *a, void *arg)
{
	return policy_mirror_granted(mirror, a, wall_now());
}

static void on_term(void *arg)
{
	loop_stop(arg);
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	/* bench/run runs us in a fresh network namespace: lo is down. */
	strcpy(ifr.ifr_name, "lo");
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

static pid_t server_start(const char *endpoint)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	struct loop *l = loop_new();

	if (!l || loop_signal(l, SIGTERM, on_term, l) < 0 || !policy_new(l, endpoint, lookup, NULL))
		_exit(1);
	loop_run(l);
	_exit(0);
}

/* ---- the clients ---- */

struct client {
	pthread_t th;
	int id;
	const char *endpoint;
	uint64_t *lat; /* ns */
	size_t n, cap;
	uint64_t ok, dunno, errors;
	uint64_t stop_at;
	uint64_t interval_ns; /* paced: one request per interval; 0: back to back */
};

static int connect_ep(const char *endpoint)
{
	struct policy_endpoint ep;
	char err[256];
	int fd;

	if (policy_endpoint_parse(endpoint, &ep, err, sizeof(err)) < 0)
		return -1;
	fd = socket(ep.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		if (connect(fd, (struct sockaddr *)&ep.sa, ep.salen) == 0)
			return fd;
		usleep(10000);
	}
	close(fd);
	return -1;
}

/* What smtpd 3.7 sends for an RCPT, with its real attribute set. */
static int make_request(char *buf, size_t len, const struct drac_addr *a, unsigned seq)
{
	char ab[ADDR_STRLEN];

	return snprintf(buf, len,
			"request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
			"client_address=%s\nclient_name=unknown\nreverse_client_name=unknown\n"
			"client_port=40000\nhelo_name=client.example.net\nsender=sender@example.org\n"
			"recipient=user%u@example.net\nrecipient_count=0\nqueue_id=\n"
			"instance=1a2b.5f3c4d.%u.0\nsize=0\netrn_domain=\nstress=\nsasl_method=\n"
			"sasl_username=\nsasl_sender=\nccert_subject=\nccert_issuer=\n"
			"ccert_fingerprint=\nccert_pubkey_fingerprint=\nencryption_protocol=\n"
			"encryption_cipher=\nencryption_keysize=0\nserver_address=192.0.2.1\n"
			"server_port=25\npolicy_context=\ncompatibility_level=3.6\n"
			"mail_version=3.7.11\n\n",
			addr_fmt(a, ab, sizeof(ab)), seq, seq);
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	char req[2048], ans[256];
	int fd = connect_ep(c->endpoint);
	unsigned seq = c->id * 7919;

	if (fd < 0) {
		c->errors++;
		return NULL;
	}
	uint64_t next = mono_ns();

	while (mono_ns() < c->stop_at) {
		struct drac_addr a;
		/* Half the queries for granted addresses, half not. */
		unsigned i = (seq * 2654435761u) % (2 * n_grants);
		int len;
		size_t got = 0;
		uint64_t t0;

		nth_addr(i, &a);
		len = make_request(req, sizeof(req), &a, seq++);
		if (c->interval_ns) {
			struct timespec ts = { next / 1000000000ull, next % 1000000000ull };

			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			next += c->interval_ns;
		}
		t0 = mono_ns();
		if (write(fd, req, len) != len) {
			c->errors++;
			break;
		}
		while (got < 2 || memcmp(ans + got - 2, "\n\n", 2)) {
			ssize_t n = read(fd, ans + got, sizeof(ans) - 1 - got);

			if (n <= 0) {
				c->errors++;
				goto out;
			}
			got += n;
		}
		uint64_t dt = mono_ns() - t0;
		bool want = i < n_grants;
		bool ok = got >= 11 && !memcmp(ans, "action=OK\n\n", 11);

		if (ok != want || (!ok && memcmp(ans, "action=DUNNO\n\n", 14)))
			c->errors++; /* a wrong answer */
		if (ok)
			c->ok++;
		else
			c->dunno++;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			c->lat = realloc(c->lat, c->cap * sizeof(*c->lat));
		}
		c->lat[c->n++] = dt;
	}
out:
	close(fd);
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p * (n - 1) + 0.5);

	return n ? v[k < n ? k : n - 1] : 0;
}

static void report(const char *what, uint64_t *all, size_t n, double secs, uint64_t errors)
{
	qsort(all, n, sizeof(*all), cmp_u64);
	printf("%-50s %7.0f lookups/s  p50 %6.1f us  p99 %6.1f us  max %7.1f us  errors %llu\n",
	       what, n / secs, pct(all, n, 0.5) / 1000.0, pct(all, n, 0.99) / 1000.0,
	       n ? all[n - 1] / 1000.0 : 0, (unsigned long long)errors);
}

static int bench_policy(const char *endpoint, unsigned rate)
{
	pid_t srv = server_start(endpoint);
	struct client *cl = calloc(n_clients, sizeof(*cl));
	uint64_t t0, t1, errors = 0;
	size_t total = 0;
	uint64_t *all;
	char what[128];

	/* Wait for the listener. */
	int probe = connect_ep(endpoint);

	if (srv < 0 || probe < 0) {
		fprintf(stderr, "bench_policy: the service on %s did not start\n", endpoint);
		return -1;
	}
	close(probe);
	t0 = mono_ns();
	for (int i = 0; i < n_clients; i++) {
		cl[i].id = i;
		cl[i].endpoint = endpoint;
		cl[i].stop_at = t0 + (uint64_t)seconds * 1000000000ull;
		cl[i].interval_ns = rate ? 1000000000ull * n_clients / rate : 0;
		pthread_create(&cl[i].th, NULL, client_run, &cl[i]);
	}
	for (int i = 0; i < n_clients; i++) {
		pthread_join(cl[i].th, NULL);
		total += cl[i].n;
		errors += cl[i].errors;
	}
	t1 = mono_ns();
	kill(srv, SIGTERM);
	struct rusage ru;

	wait4(srv, NULL, 0, &ru);
	all = malloc((total ? total : 1) * sizeof(*all));
	total = 0;
	for (int i = 0; i < n_clients; i++) {
		memcpy(all + total, cl[i].lat, cl[i].n * sizeof(*all));
		total += cl[i].n;
		free(cl[i].lat);
	}
	if (rate)
		snprintf(what, sizeof(what), "policy %s, %d clients, paced %u/s:",
			 strchr(endpoint, '/') ? "unix" : "inet", n_clients, rate);
	else
		snprintf(what, sizeof(what), "policy %s, %d clients, flat out:",
			 strchr(endpoint, '/') ? "unix" : "inet", n_clients);
	report(what, all, total, (t1 - t0) / 1e9, errors);
	printf("%-50s %7.2f us CPU per lookup (user %.2f s, system %.2f s)\n", "  the service's own cost:",
	       total ? (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6) * 1e6 / total : 0,
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	free(all);
	free(cl);
	return 0;
}

/* The service's work per request without the sockets: parse a full
 * smtpd request and look the client up, as conn_process does. */
static void bench_inproc(void)
{
	size_t cap = 1 << 20, n = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat)), t_end, t0 = mono_ns(), errors = 0;
	char req[2048];

	t_end = t0 + (uint64_t)seconds * 1000000000ull;
	for (unsigned seq = 0; mono_ns() < t_end; seq++) {
		unsigned i = (seq * 2654435761u) % (2 * n_grants);
		struct policy_request r;
		struct drac_addr a;
		int len;

		nth_addr(i, &a);
		len = make_request(req, sizeof(req), &a, seq);
		uint64_t t1 = mono_ns();
		bool ok = policy_parse(req, len, &r) == (size_t)len && r.valid && r.has_client &&
			  lookup(&r.client, NULL);
		uint64_t dt = mono_ns() - t1;

		if (ok != (i < n_grants))
			errors++;
		if (n == cap)
			lat = realloc(lat, (cap *= 2) * sizeof(*lat));
		lat[n++] = dt;
	}
	/* The rate counts only the timed part, as for the btree get. */
	uint64_t sum = 0;

	for (size_t k = 0; k < n; k++)
		sum += lat[k];
	report("parse + mirror lookup in-process (timed part):", lat, n, sum / 1e9, errors);
	free(lat);
}

/* ---- the btree map, read as smtpd reads it ---- */

struct dbclient {
	pthread_t th;
	const char *path;
	int id;
	uint64_t *lat;
	size_t n, cap;
	uint64_t found, errors, stop_at;
};

static void *db_run(void *arg)
{
	struct dbclient *c = arg;
	DB *db;
	int fd;
	unsigned seq = c->id * 7919;

	if (db_create(&db, NULL, 0) || db->open(db, NULL, c->path, NULL, DB_BTREE, DB_RDONLY, 0) ||
	    db->fd(db, &fd)) {
		c->errors++;
		return NULL;
	}
	while (mono_ns() < c->stop_at) {
		struct drac_addr a;
		unsigned i = (seq++ * 2654435761u) % (2 * n_grants);
		char key[ADDR_STRLEN];
		DBT k = { 0 }, v = { 0 };
		uint64_t t0;
		int ret;

		nth_addr(i, &a);
		addr_fmt(&a, key, sizeof(key));
		t0 = mono_ns();
		/* smtpd's dict_db_lookup: a shared lock per lookup, the key
		 * with its NUL (postmap's style, which dracd writes). */
		k.data = key;
		k.size = strlen(key) + 1;
		flock(fd, LOCK_SH);
		ret = db->get(db, NULL, &k, &v, 0);
		flock(fd, LOCK_UN);
		uint64_t dt = mono_ns() - t0;

		if ((ret == 0) != (i < n_grants))
			c->errors++;
		if (ret == 0)
			c->found++;
		if (c->n == c->cap) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			c->lat = realloc(c->lat, c->cap * sizeof(*c->lat));
		}
		c->lat[c->n++] = dt;
	}
	db->close(db, 0);
	return NULL;
}

static void bench_btree(const char *path, int threads)
{
	struct dbclient *cl = calloc(threads, sizeof(*cl));
	uint64_t t0 = mono_ns(), errors = 0, *all;
	size_t total = 0;
	char what[128];

	for (int i = 0; i < threads; i++) {
		cl[i].path = path;
		cl[i].id = i;
		cl[i].stop_at = t0 + (uint64_t)seconds * 1000000000ull;
		pthread_create(&cl[i].th, NULL, db_run, &cl[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(cl[i].th, NULL);
		total += cl[i].n;
		errors += cl[i].errors;
	}
	double secs = (mono_ns() - t0) / 1e9;

	all = malloc((total ? total : 1) * sizeof(*all));
	total = 0;
	for (int i = 0; i < threads; i++) {
		memcpy(all + total, cl[i].lat, cl[i].n * sizeof(*all));
		total += cl[i].n;
		free(cl[i].lat);
	}
	snprintf(what, sizeof(what), "btree map get (flock+DB->get), %d thread%s:", threads,
		 threads == 1 ? "" : "s");
	report(what, all, total, secs, errors);
	free(all);
	free(cl);
}

int main(int argc, char **argv)
{
	char map[256], sock[256], ep[300];
	struct mirror_config cfg = { .map_path = map };
	uint64_t now;
	int c;

	while ((c = getopt(argc, argv, "c:s:n:")) != -1) {
		switch (c) {
		case 'c': n_clients = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'n': n_grants = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bench_policy [-c CLIENTS] [-s SECONDS] [-n GRANTS]\n");
			return 2;
		}
	}
	if (n_clients < 1 || seconds < 1 || n_grants < 1)
		return 2;
	log_init("bench_policy", LOG_TO_STDERR, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(map, sizeof(map), "%s/dracd.db", dir);
	snprintf(sock, sizeof(sock), "%s/policy", dir);
	mirror = mirror_new(&cfg);
	if (!mirror)
		return 1;
	now = wall_now();
	for (unsigned i = 0; i < n_grants; i++) {
		struct drac_addr a;

		nth_addr(i, &a);
		mirror_set(mirror, &a, now + 3600 * 1000);
	}
	if (mirror_write_now(mirror) < 0)
		return 1;
	printf("grants: %u (half the queries granted, a quarter IPv6); %d s per run; %ld cores\n",
	       n_grants, seconds, sysconf(_SC_NPROCESSORS_ONLN));
	printf("target: policy >= 50000 lookups/s, p99 <= 200 us\n");
	snprintf(ep, sizeof(ep), "unix:%s", sock);
	prctl(PR_SET_TIMERSLACK, 1);
	/* Flat out, the latency is queueing (16 requests always in flight:
	 * about 16 / rate); paced below capacity, it is the service's own. */
	bench_policy(ep, 0);
	bench_policy(ep, 10000);
	lo_up();
	bench_policy("inet:127.0.0.1:10049", 0);
	bench_inproc();
	bench_btree(map, 1);
	bench_btree(map, n_clients);
	mirror_free(mirror);
	unlink(map);
	char lock[300];

	snprintf(lock, sizeof(lock), "%s.lock", map);
	unlink(lock);
	rmdir(dir);
	return 0;
}
