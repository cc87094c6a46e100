/* test_rpc.c - the DRAC RPC server, client library and forwarder.
 *
 *	test_rpc			unit tests, in-process, no rpcbind
 *	test_rpc serve ALLOW		a server registered with rpcbind, for
 *					tests/ns/rpc.sh: prints "ready PORT",
 *					"grant ADDR" per grant, stats on SIGUSR1,
 *					reloads on SIGHUP, stops on SIGTERM
 *	test_rpc forward CONF ADDR...	forward addresses with rpcfwd, print
 *					"forward sent=N acked=N failed=N maxlag=MS"
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <rpc/rpc.h>

#include "allow.h"
#include "dracauth.h"
#include "log.h"
#include "loop.h"
#include "rpcfwd.h"
#include "rpcsrv.h"
#include "t.h"

/* ---- grants seen by the server under test ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct drac_addr g_seen[256];
static int g_n;
static int g_print;

static int grant(const struct drac_addr *a, enum grant_source src, void *arg)
{
	struct drac_addr no;
	char b[ADDR_STRLEN];

	addr_parse("192.0.2.99", &no);
	if (src != SRC_RPC || addr_eq(a, &no))
		return -1;	/* stands in for "trusted network" */
	pthread_mutex_lock(&g_mu);
	if (g_n < 256)
		g_seen[g_n++] = *a;
	pthread_mutex_unlock(&g_mu);
	if (g_print) {
		printf("grant %s\n", addr_fmt(a, b, sizeof(b)));
		fflush(stdout);
	}
	return 0;
}

static bool seen(const char *ip)
{
	struct drac_addr a;
	bool r = false;

	addr_parse(ip, &a);
	pthread_mutex_lock(&g_mu);
	for (int i = 0; i < g_n; i++)
		r |= addr_eq(&g_seen[i], &a);
	pthread_mutex_unlock(&g_mu);
	return r;
}

static bool_t xdr_vector_char16(XDR *x, char *v)
{
	return xdr_vector(x, v, 16, sizeof(char), (xdrproc_t)xdr_char);
}

static uint64_t ms(void)
{
	return loop_now();
}

/* ---- wire format against libtirpc's own XDR ---- */

static void test_wire(void)
{
	uint8_t buf[256], x[256];
	struct drac_addr a;
	struct rpc_call c;
	XDR xdr;
	u_long v;
	char v6[16];
	size_t n;
	uint32_t stat;
	const char *why;
	uint16_t port;

	/* Version 1: what rpcgen code sends for ntohl(inet_addr(ip)) */
	addr_parse("192.0.2.7", &a);
	n = drac_call_encode(buf, sizeof(buf), 0x1234, &a);
	T_EQ_INT(n, 44, "v1 call is 44 bytes");
	xdrmem_create(&xdr, (char *)x, sizeof(x), XDR_ENCODE);
	v = ntohl(inet_addr("192.0.2.7"));
	xdr_u_long(&xdr, &v);
	T_OK(memcmp(buf + 40, x, 4) == 0 && buf[40] == 0xc0 && buf[43] == 7,
	     "v1 argument equals libtirpc's xdr_u_long(ntohl(inet_addr())): c0 00 02 07");
	xdr_destroy(&xdr);
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_CALL_OK, "server decodes it");
	T_OK(c.addr.family == AF_INET && addr_eq(&c.addr, &a) && c.xid == 0x1234 &&
	     c.vers == 1 && c.proc == 1, "to 192.0.2.7, v1 proc 1");

	/* Version 2: char ip_addr6[16] through xdr_vector(xdr_char) */
	addr_parse("2001:db8::fe:80ff", &a);
	n = drac_call_encode(buf, sizeof(buf), 7, &a);
	T_EQ_INT(n, 104, "v2 call is 40 + 64 bytes");
	memcpy(v6, a.a, 16);
	xdrmem_create(&xdr, (char *)x, sizeof(x), XDR_ENCODE);
	xdr_vector(&xdr, v6, 16, sizeof(char), (xdrproc_t)xdr_char);
	T_EQ_INT(xdr_getpos(&xdr), 64, "libtirpc: 64 bytes for 16 chars");
	T_OK(memcmp(buf + 40, x, 64) == 0, "v2 argument equals libtirpc's xdr_vector of chars");
	xdr_destroy(&xdr);
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_CALL_OK, "server decodes v2");
	T_OK(addr_eq(&c.addr, &a), "to 2001:db8::fe:80ff");
	/* unsigned-char platforms send 0..255 */
	for (int i = 0; i < 16; i++) {
		buf[40 + 4 * i] = buf[41 + 4 * i] = buf[42 + 4 * i] = 0;
		buf[43 + 4 * i] = a.a[i];
	}
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_CALL_OK, "v2 with unsigned chars");
	T_OK(addr_eq(&c.addr, &a), "gives the same address");
	buf[42] = 1;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_GARBAGE, "v2 char 0x1xx is garbage");
	buf[42] = 0;
	T_EQ_INT(rpc_call_decode(buf, n - 4, &c), RPC_GARBAGE, "v2 short arguments are garbage");
	addr_parse("::ffff:192.0.2.8", &a);
	n = drac_call_encode(buf, sizeof(buf), 7, &a);
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_CALL_OK, "v2 IPv4-mapped");
	T_OK(c.addr.family == AF_INET, "is unmapped to IPv4");

	/* headers */
	addr_parse("192.0.2.7", &a);
	n = drac_call_encode(buf, sizeof(buf), 9, &a);
	T_EQ_INT(rpc_call_decode(buf, n + 4, &c), RPC_GARBAGE, "v1 trailing bytes are garbage");
	T_EQ_INT(rpc_call_decode(buf, n - 1, &c), RPC_GARBAGE, "v1 short argument is garbage");
	T_EQ_INT(rpc_call_decode(buf, 30, &c), RPC_DROP, "truncated header dropped");
	T_EQ_INT(rpc_call_decode(buf, 3, &c), RPC_DROP, "3 bytes dropped");
	buf[7] = 1;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_DROP, "a reply is dropped");
	buf[7] = 0;
	buf[11] = 3;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_BAD_RPCVERS, "RPC version 3: mismatch");
	T_EQ_INT(rpc_call_decode(buf, 39, &c), RPC_DROP, "but no answer to a short message");
	n = rpc_reply_encode(x, sizeof(x), &c, RPC_BAD_RPCVERS, 0);
	T_OK(n == 24 && x[11] == 1, "answered MSG_DENIED");
	buf[11] = 2;
	buf[19] = 3;
	n = drac_call_encode(buf, sizeof(buf), 9, &a);
	buf[19] = 3;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_BAD_VERS, "DRAC version 3: mismatch");
	n = rpc_reply_encode(x, sizeof(x), &c, RPC_BAD_VERS, 0);
	T_OK(n == 32 && x[23] == 2 && x[27] == 1 && x[31] == 2, "PROG_MISMATCH 1..2");
	T_EQ_INT(drac_reply_decode(x, n, 9, &stat, &why), -2, "client sees an RPC error");
	n = drac_call_encode(buf, sizeof(buf), 9, &a);
	buf[23] = 2;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_BAD_PROC, "procedure 2 unavailable");
	buf[23] = 1;
	buf[14] = 0;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_BAD_PROG, "another program unavailable");
	n = drac_call_encode(buf, sizeof(buf), 9, &a);
	buf[30] = 1;	/* credential length 256+ */
	buf[31] = 0x91;
	T_EQ_INT(rpc_call_decode(buf, n, &c), RPC_DROP, "credential over 400 bytes dropped");

	/* replies as the client reads them */
	n = drac_call_encode(buf, sizeof(buf), 77, &a);
	rpc_call_decode(buf, n, &c);
	n = rpc_reply_encode(x, sizeof(x), &c, RPC_CALL_OK, ADD_PERM);
	T_EQ_INT(drac_reply_decode(x, n, 77, &stat, &why), 0, "reply decodes");
	T_EQ_INT(stat, ADD_PERM, "ADD_PERM");
	T_EQ_INT(drac_reply_decode(x, n, 78, &stat, &why), -1, "other xid ignored");
	T_EQ_INT(drac_reply_decode(x, n - 1, 77, &stat, &why), -1, "short reply ignored");

	/* rpcbind answers */
	n = 0;
	memset(x, 0, sizeof(x));
	x[3] = 5;
	x[7] = 1;	/* REPLY, accepted, AUTH_NONE, SUCCESS */
	x[27] = 0;
	x[24] = 0;
	x[26] = 0x03;
	x[27] = 0xd5;	/* port 981 */
	T_EQ_INT(drac_rpcb_decode(x, 28, 5, AF_INET, &port), 0, "portmap GETPORT reply");
	T_EQ_INT(port, 981, "port 981");
	{
		const char *ua = "2001:db8::1.3.213";
		size_t ul = strlen(ua);

		x[26] = 0;
		x[27] = ul;
		memcpy(x + 28, ua, ul);
		T_EQ_INT(drac_rpcb_decode(x, 28 + ((ul + 3) & ~3u), 5, AF_INET6, &port), 0,
			 "rpcbind GETADDR reply");
		T_EQ_INT(port, 3 * 256 + 213, "port from the universal address");
		x[28 + ul - 1] = 'x';
		T_EQ_INT(drac_rpcb_decode(x, 28 + ((ul + 3) & ~3u), 5, AF_INET6, &port), -1,
			 "bad universal address refused");
		x[27] = 0;
		T_EQ_INT(drac_rpcb_decode(x, 28, 5, AF_INET6, &port), 0, "empty address");
		T_EQ_INT(port, 0, "means not registered");
	}
}

static void test_conf(void)
{
	char **v = NULL, err[256];
	const char *good = "# DRAC servers\nsmtp1.example.org\n\n  192.0.2.1  # lan\n2001:db8::1\n";

	T_EQ_INT(drac_conf_parse(good, strlen(good), "dracd.conf", &v, err, sizeof(err)), 3,
		 "three servers (%s)", err);
	T_OK(v && !strcmp(v[0], "smtp1.example.org") && !strcmp(v[1], "192.0.2.1") &&
	     !strcmp(v[2], "2001:db8::1") && !v[3], "names in order");
	drac_conf_free(v);
	T_EQ_INT(drac_conf_parse("a b\n", 4, "dracd.conf", &v, err, sizeof(err)), -1, "two words");
	T_OK(strstr(err, "dracd.conf:1:") != NULL, "FILE:LINE (%s)", err);
	T_EQ_INT(drac_conf_parse("ok\nbad/name\n", 12, "c", &v, err, sizeof(err)), -1, "bad name");
	T_OK(strstr(err, "c:2:") != NULL, "FILE:LINE (%s)", err);
	T_EQ_INT(drac_conf_load("/nonexistent/dracd.conf", &v, err, sizeof(err)), 1, "missing file");
	T_OK(v && !strcmp(v[0], "localhost"), "means localhost");
	drac_conf_free(v);
}

struct lagmeter {
	struct loop *l;
	struct loop_timer *t;
	uint64_t due, max;
	bool (*done)(void *);
	void *arg;
	uint64_t until;
};

static void lag_tick(void *arg)
{
	struct lagmeter *m = arg;
	uint64_t now = loop_now();

	if (m->due && now > m->due && now - m->due > m->max)
		m->max = now - m->due;
	if ((m->done && m->done(m->arg)) || now >= m->until) {
		loop_stop(m->l);
		return;
	}
	m->due = now + 5;
	loop_timer_at(m->t, m->due);
}

static void run_until(struct loop *l, bool (*done)(void *), void *arg, unsigned max_ms,
		      uint64_t *maxlag)
{
	struct lagmeter m = { .l = l, .done = done, .arg = arg, .until = loop_now() + max_ms };

	m.t = loop_timer_new(l, lag_tick, &m);
	loop_timer_after(m.t, 1);
	loop_run(l);
	loop_timer_free(m.t);
	if (maxlag)
		*maxlag = m.max;
}

/* loop_free() leaves descriptors removed during the last run on the
 * loop's dead list; one more pass frees them (keeps ASan quiet). */
static void reap(struct loop *l)
{
	run_until(l, NULL, NULL, 0, NULL);
}

/* ---- a server in a thread, commands through a pipe ---- */

struct srv {
	struct loop *l;
	struct rpcsrv *s;
	int cmd[2];
	pthread_t th;
	int reload_rc;
};

static void srv_cmd(int fd, uint32_t ev, void *arg)
{
	struct srv *sv = arg;
	char c;

	if (read(fd, &c, 1) != 1)
		return;
	if (c == 'r')
		sv->reload_rc = rpcsrv_reload(sv->s);
	if (c == 'q')
		loop_stop(sv->l);
	if (write(sv->cmd[1] + 0, "", 0) < 0)
		return;
}

static int ack[2];

static void srv_cmd_ack(int fd, uint32_t ev, void *arg)
{
	srv_cmd(fd, ev, arg);
	if (write(ack[1], "k", 1) != 1)
		return;
}

static void *srv_main(void *arg)
{
	struct srv *sv = arg;

	loop_run(sv->l);
	return NULL;
}

static void srv_send(struct srv *sv, char c)
{
	char k;

	if (write(sv->cmd[1], &c, 1) != 1 || read(ack[0], &k, 1) != 1)
		T_OK(0, "command pipe");
}

static int add(const char *server, uint16_t port, const char *ip, unsigned tmo, char **msg)
{
	struct drac_addr a;
	struct drac_client *c;
	int rc;

	if (addr_parse(ip, &a) < 0)
		return 99;
	c = drac_client_open(server, port, tmo, &rc, msg);
	if (!c)
		return rc;
	rc = drac_client_add(c, &a, tmo, msg);
	drac_client_close(c);
	return rc;
}

/* One DRACPROC_ADD over a connected TCP socket: the addstat, or -1. */
static int tcp_call(int fd, uint32_t xid, const char *ip)
{
	uint8_t b[4 + DRAC_CALL_MAX], r[64];
	struct drac_addr a;
	size_t n;
	ssize_t got = 0, k;

	addr_parse(ip, &a);
	n = drac_call_encode(b + 4, DRAC_CALL_MAX, xid, &a);
	b[0] = 0x80;
	b[1] = 0;
	b[2] = n >> 8;
	b[3] = n & 0xff;
	if (send(fd, b, 4 + n, MSG_NOSIGNAL) != (ssize_t)(4 + n))
		return -1;
	while (got < 32 && (k = recv(fd, r + got, sizeof(r) - got, 0)) > 0)
		got += k;
	if (got != 32 || r[4] != (xid >> 24) || r[7] != (xid & 0xff))
		return -1;
	return r[31];
}

static int udp_raw(uint16_t port, const void *msg, size_t len, uint8_t *reply, size_t rlen)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 0, 300000 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sendto(fd, msg, len, 0, (struct sockaddr *)&sin, sizeof(sin));
	r = recv(fd, reply, rlen, 0);
	close(fd);
	return (int)r;
}

static void test_server(void)
{
	struct srv sv = { 0 };
	char allow[] = "/tmp/test_rpc_allow.XXXXXX";
	struct rpcsrv_opts o = { .allow_path = allow, .no_rpcbind = true };
	const struct rpcsrv_stats *st;
	uint16_t port;
	char *msg = NULL;
	int fd = mkstemp(allow), rc;
	uint64_t t0;

	if (write(fd, "255.255.255.255 127.0.0.1\n", 26) != 26)
		T_OK(0, "write allow");
	close(fd);
	sv.l = loop_new();
	sv.s = rpcsrv_new_opts(sv.l, &o, grant, NULL);
	T_OK(sv.s != NULL, "server starts without rpcbind");
	if (!sv.s)
		return;
	port = rpcsrv_port(sv.s);
	st = rpcsrv_stats(sv.s);
	if (pipe(sv.cmd) < 0 || pipe(ack) < 0)
		return;
	loop_add_fd(sv.l, sv.cmd[0], EPOLLIN, srv_cmd_ack, &sv);
	pthread_create(&sv.th, NULL, srv_main, &sv);

	/* our client */
	T_EQ_INT(add("127.0.0.1", port, "192.0.2.7", 1000, &msg), 0, "IPv4 add (%s)", msg);
	T_OK(seen("192.0.2.7"), "granted 192.0.2.7");
	T_EQ_INT(add("127.0.0.1", port, "2001:db8::7", 1000, &msg), 0, "IPv6 add (%s)", msg);
	T_OK(seen("2001:db8::7"), "granted 2001:db8::7");
	T_EQ_INT(add("127.0.0.1", port, "::ffff:192.0.2.8", 1000, &msg), 0, "IPv4-mapped add");
	T_OK(seen("192.0.2.8"), "granted as 192.0.2.8");
	T_EQ_INT(add("127.0.0.1", port, "192.0.2.99", 1000, &msg), 0,
		 "grant declined by policy: still ADD_SUCCESS");
	T_OK(!seen("192.0.2.99") && st->ignored == 1, "not granted, counted as ignored");
	T_EQ_INT(add("127.0.0.1", port, "0.0.0.0", 1000, &msg), ADD_UNKOWN, "0.0.0.0: ADD_UNKOWN");
	T_EQ_INT(add("127.0.0.1", port, "224.0.0.1", 1000, &msg), ADD_UNKOWN, "multicast: ADD_UNKOWN");
	T_EQ_INT(add("127.0.0.1", port, "ff02::1", 1000, &msg), ADD_UNKOWN, "IPv6 multicast");
	T_EQ_INT(add("::1", port, "192.0.2.50", 1000, &msg), ADD_PERM,
		 "caller ::1 not in the allow file: ADD_PERM");
	T_EQ_STR(msg, "Server reports permission denied", "classic message");
	T_OK(!seen("192.0.2.50") && st->refused == 1, "nothing granted, refusal counted");

	/* libtirpc's own clients: the classic rpcgen byte order */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct timeval tv = { 1, 0 };
		int sock = RPC_ANYSOCK, res = -1;
		u_long arg = ntohl(inet_addr("198.51.100.1"));
		CLIENT *cl = clntudp_create(&sin, DRACPROG, DRACVERS, tv, &sock);
		enum clnt_stat cs;
		char v6[16];
		struct in6_addr in6;

		T_OK(cl != NULL, "libtirpc UDP client");
		if (cl) {
			cs = clnt_call(cl, DRACPROC_ADD, (xdrproc_t)xdr_u_long, (char *)&arg,
				       (xdrproc_t)xdr_int, (char *)&res, tv);
			T_OK(cs == RPC_SUCCESS && res == ADD_SUCCESS, "libtirpc UDP v1 add");
			T_OK(seen("198.51.100.1"), "granted 198.51.100.1: byte order as rpcgen's");
			cs = clnt_call(cl, 0, (xdrproc_t)(void (*)(void))xdr_void, NULL, (xdrproc_t)(void (*)(void))xdr_void, NULL, tv);
			T_OK(cs == RPC_SUCCESS, "null procedure");
			clnt_destroy(cl);
		}
		sock = RPC_ANYSOCK;
		cl = clnttcp_create(&sin, DRACPROG, DRACVERS6, &sock, 0, 0);
		T_OK(cl != NULL, "libtirpc TCP client");
		if (cl) {
			inet_pton(AF_INET6, "2001:db8::ff:1", &in6);
			memcpy(v6, &in6, 16);
			res = -1;
			cs = clnt_call(cl, DRACPROC_ADD, (xdrproc_t)xdr_vector_char16, (char *)v6,
				       (xdrproc_t)xdr_int, (char *)&res, tv);
			T_OK(cs == RPC_SUCCESS && res == ADD_SUCCESS, "libtirpc TCP v2 add");
			T_OK(seen("2001:db8::ff:1"), "granted 2001:db8::ff:1");
			clnt_destroy(cl);
		}
		sock = RPC_ANYSOCK;
		cl = clntudp_create(&sin, DRACPROG, 3, tv, &sock);
		if (cl) {
			struct rpc_err e;

			cs = clnt_call(cl, 0, (xdrproc_t)(void (*)(void))xdr_void, NULL, (xdrproc_t)(void (*)(void))xdr_void, NULL, tv);
			clnt_geterr(cl, &e);
			T_OK(cs == RPC_PROGVERSMISMATCH && e.re_vers.low == 1 && e.re_vers.high == 2,
			     "version 3: PROG_MISMATCH 1..2");
			clnt_destroy(cl);
		}
	}

	/* malformed input is answered or dropped, counted, and harmless */
	{
		uint8_t call[128], reply[128];
		struct drac_addr a;
		uint64_t m0 = st->malformed;
		size_t n;
		int r;

		addr_parse("192.0.2.60", &a);
		n = drac_call_encode(call, sizeof(call), 42, &a);
		r = udp_raw(port, call, n - 1, reply, sizeof(reply));
		T_OK(r == 24 && reply[23] == 4, "short argument: GARBAGE_ARGS");
		r = udp_raw(port, "\x01\x02\x03\x04\x05", 5, reply, sizeof(reply));
		T_OK(r < 0, "5 junk bytes: no answer");
		memset(call, 0xff, sizeof(call));
		udp_raw(port, call, sizeof(call), reply, sizeof(reply));
		T_EQ_INT(st->malformed - m0, 3, "three malformed messages counted");
		T_OK(!seen("192.0.2.60"), "nothing granted from them");
		T_EQ_INT(add("127.0.0.1", port, "192.0.2.61", 1000, &msg), 0, "server still answers");
	}

	/* TCP: a half-sent record must not stall anyone else */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int t = socket(AF_INET, SOCK_STREAM, 0), t2 = socket(AF_INET, SOCK_STREAM, 0);
		uint8_t part[10] = { 0x80, 0, 0, 100, 1, 2, 3, 4, 5, 6 };
		uint8_t huge[8] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4 }, b[8];
		struct timeval tv = { 1, 0 };

		connect(t, (struct sockaddr *)&sin, sizeof(sin));
		if (write(t, part, sizeof(part)) != sizeof(part))
			T_OK(0, "write");
		t0 = ms();
		T_EQ_INT(add("127.0.0.1", port, "192.0.2.62", 1000, &msg), 0,
			 "UDP answered while a TCP record is half sent");
		T_OK(ms() - t0 < 100, "promptly (%llu ms)", (unsigned long long)(ms() - t0));
		connect(t2, (struct sockaddr *)&sin, sizeof(sin));
		setsockopt(t2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (write(t2, huge, sizeof(huge)) != sizeof(huge))
			T_OK(0, "write");
		T_EQ_INT(read(t2, b, sizeof(b)), 0, "an oversized TCP record closes the connection");
		close(t);
		close(t2);
	}

	/* 64 idle TCP connections cannot lock out a real TCP client */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct timeval tv = { 1, 0 };
		int idle[70], sock = RPC_ANYSOCK, res = -1;
		u_long arg = ntohl(inet_addr("198.51.100.2"));
		CLIENT *cl;

		for (int i = 0; i < 70; i++) {
			idle[i] = socket(AF_INET, SOCK_STREAM, 0);
			connect(idle[i], (struct sockaddr *)&sin, sizeof(sin));
		}
		usleep(100000);
		cl = clnttcp_create(&sin, DRACPROG, DRACVERS, &sock, 0, 0);
		T_OK(cl && clnt_call(cl, DRACPROC_ADD, (xdrproc_t)xdr_u_long, (char *)&arg,
				     (xdrproc_t)xdr_int, (char *)&res, tv) == RPC_SUCCESS && res == 0,
		     "TCP client served with 70 idle connections open");
		if (cl)
			clnt_destroy(cl);
		for (int i = 0; i < 70; i++)
			close(idle[i]);
	}

	/* reload: a good file replaces the list, a bad one keeps it */
	fd = open(allow, O_WRONLY | O_TRUNC);
	if (write(fd, "255.255.255.255 127.0.0.1\n::1/128\n", 34) != 34)
		T_OK(0, "rewrite");
	close(fd);
	srv_send(&sv, 'r');
	T_EQ_INT(sv.reload_rc, 0, "reload");
	T_EQ_INT(add("::1", port, "192.0.2.51", 1000, &msg), 0, "::1 allowed after reload");
	fd = open(allow, O_WRONLY | O_TRUNC);
	if (write(fd, "garbage\n", 8) != 8)
		T_OK(0, "rewrite");
	close(fd);
	srv_send(&sv, 'r');
	T_EQ_INT(sv.reload_rc, -1, "bad file: reload fails");
	T_EQ_INT(add("::1", port, "192.0.2.52", 1000, &msg), 0, "old list still in force");
	T_OK(seen("192.0.2.52"), "granted 192.0.2.52");

	/* A kept connection from one source survives a crowd of
	 * connections from another: each source may hold a share only. */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		struct timeval tv = { 1, 0 };
		int kept = socket(AF_INET6, SOCK_STREAM, 0), crowd[70];

		setsockopt(kept, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		T_OK(connect(kept, (struct sockaddr *)&s6, sizeof(s6)) == 0, "kept connection from ::1");
		T_EQ_INT(tcp_call(kept, 0x501, "192.0.2.53"), ADD_SUCCESS, "first call on it");
		usleep(50000);	/* now the idlest connection of all */
		for (int i = 0; i < 70; i++) {
			crowd[i] = socket(AF_INET, SOCK_STREAM, 0);
			connect(crowd[i], (struct sockaddr *)&sin, sizeof(sin));
		}
		usleep(200000);
		T_EQ_INT(tcp_call(kept, 0x502, "192.0.2.54"), ADD_SUCCESS,
			 "after 70 connections from 127.0.0.1 the ::1 connection still answers");
		T_OK(st->evicted >= 70 - 16, "127.0.0.1 lost its own connections (%llu evicted)",
		     (unsigned long long)st->evicted);
		for (int i = 0; i < 70; i++)
			close(crowd[i]);
		close(kept);
	}

	/* a server that never answers: bounded by the timeout */
	{
		int dead = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sin);

		bind(dead, (struct sockaddr *)&sin, sizeof(sin));
		getsockname(dead, (struct sockaddr *)&sin, &sl);
		t0 = ms();
		rc = add("127.0.0.1", ntohs(sin.sin_port), "192.0.2.70", 300, &msg);
		T_EQ_INT(rc, -2, "silent server: call failed (%s)", msg);
		T_OK(ms() - t0 >= 290 && ms() - t0 < 600, "after about 300 ms (%llu ms)",
		     (unsigned long long)(ms() - t0));
		close(dead);
		t0 = ms();
		rc = dracauth_addr("127.0.0.1", &(struct drac_addr){ .family = AF_INET }, 1000, &msg);
		T_EQ_INT(rc, -1, "no rpcbind: -1 (%s)", msg);
		T_OK(ms() - t0 < 200, "quickly, the port is closed (%llu ms)",
		     (unsigned long long)(ms() - t0));
	}

	srv_send(&sv, 'q');
	pthread_join(sv.th, NULL);
	T_OK(st->calls >= 20 && st->granted >= 8,
	     "stats: calls %llu granted %llu refused %llu ignored %llu malformed %llu errors %llu",
	     (unsigned long long)st->calls, (unsigned long long)st->granted,
	     (unsigned long long)st->refused, (unsigned long long)st->ignored,
	     (unsigned long long)st->malformed, (unsigned long long)st->errors);
	rpcsrv_free(sv.s);
	loop_del_fd(sv.l, sv.cmd[0]);
	reap(sv.l);
	loop_free(sv.l);
	close(sv.cmd[0]);
	close(sv.cmd[1]);
	unlink(allow);
}

/* ---- forwarding inside one loop: server and forwarder together ---- */

static bool fwd_done(void *arg)
{
	struct rpcfwd *f = arg;
	const struct rpcfwd_stats *s = rpcfwd_stats(f);

	return s->sent && s->acked + s->failed >= s->sent;
}

static void test_forward(void)
{
	struct loop *l = loop_new();
	struct rpcsrv_opts so = { .allow_path = "/nonexistent", .no_rpcbind = true };
	struct rpcsrv *s = rpcsrv_new_opts(l, &so, grant, NULL);
	char conf[] = "/tmp/test_rpc_conf.XXXXXX";
	int fd = mkstemp(conf);
	struct rpcfwd_opts fo = { .conf_path = conf, .keep_local = true };
	struct rpcfwd *f;
	struct drac_addr a;
	uint64_t lag = 0, t0;
	int dead;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);

	if (write(fd, "# split setup\n127.0.0.1\n::1\n", 28) != 28)
		T_OK(0, "write conf");
	close(fd);
	T_OK(s != NULL, "forward target server (loopback allowed by default)");
	if (!s)
		return;
	fo.port = rpcsrv_port(s);
	f = rpcfwd_new_opts(l, &fo);
	T_OK(f != NULL && rpcfwd_servers(f) == 2, "forwarder with two servers");
	addr_parse("203.0.113.5", &a);
	rpcfwd_send(f, &a);
	rpcfwd_send(f, &a);	/* duplicate while in flight */
	addr_parse("2001:db8:5::5", &a);
	rpcfwd_send(f, &a);
	run_until(l, fwd_done, f, 3000, &lag);
	T_EQ_INT(rpcfwd_stats(f)->sent, 4, "2 addresses x 2 servers sent over TCP (duplicate merged)");
	T_EQ_INT(rpcfwd_stats(f)->acked, 4, "all acknowledged");
	T_OK(seen("203.0.113.5") && seen("2001:db8:5::5"), "granted at the server");
	/* the kept connection carries the next one too */
	addr_parse("203.0.113.6", &a);
	rpcfwd_send(f, &a);
	run_until(l, fwd_done, f, 3000, &lag);
	T_EQ_INT(rpcfwd_stats(f)->acked, 6, "a later grant on the same connections");
	rpcfwd_free(f);

	/* the classic transport on request */
	fo.proto = IPPROTO_UDP;
	f = rpcfwd_new_opts(l, &fo);
	addr_parse("203.0.113.7", &a);
	rpcfwd_send(f, &a);
	run_until(l, fwd_done, f, 3000, &lag);
	T_EQ_INT(rpcfwd_stats(f)->acked, 2, "over UDP too");
	T_OK(seen("203.0.113.7"), "granted at the server");
	rpcfwd_free(f);
	fo.proto = 0;

	/* this host is skipped unless asked */
	fo.keep_local = false;
	f = rpcfwd_new_opts(l, &fo);
	T_EQ_INT(rpcfwd_servers(f), 0, "127.0.0.1 and ::1 are this host: no forwarding");
	rpcfwd_send(f, &a);
	T_EQ_INT(rpcfwd_stats(f)->sent, 0, "nothing sent");
	rpcfwd_free(f);

	/* a silent server: given up after the limit, the loop never waits */
	dead = socket(AF_INET, SOCK_DGRAM, 0);
	bind(dead, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(dead, (struct sockaddr *)&sin, &sl);
	fd = open(conf, O_WRONLY | O_TRUNC);
	if (write(fd, "127.0.0.1\n", 10) != 10)
		T_OK(0, "rewrite");
	close(fd);
	fo.keep_local = true;
	fo.port = ntohs(sin.sin_port);
	fo.give_up_ms = 600;
	fo.proto = IPPROTO_UDP;
	f = rpcfwd_new_opts(l, &fo);
	t0 = loop_now();
	for (int i = 0; i < 50; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 10);
		addr_parse(ip, &a);
		rpcfwd_send(f, &a);
	}
	run_until(l, fwd_done, f, 3000, &lag);
	T_EQ_INT(rpcfwd_stats(f)->failed, 50, "50 additions to a silent server failed");
	T_OK(loop_now() - t0 >= 550 && loop_now() - t0 < 1000, "after the 600 ms limit (%llu ms)",
	     (unsigned long long)(loop_now() - t0));
	T_OK(lag < 200, "the loop never stalled (max lateness %llu ms)", (unsigned long long)lag);
	{
		char b[2048];
		ssize_t r = recv(dead, b, sizeof(b), MSG_DONTWAIT);

		T_OK(r == 44, "the silent server did get the calls");
	}
	rpcfwd_free(f);
	close(dead);

	/* the same over TCP: a listener that never answers */
	dead = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = 0;
	bind(dead, (struct sockaddr *)&sin, sizeof(sin));
	listen(dead, 4);
	sl = sizeof(sin);
	getsockname(dead, (struct sockaddr *)&sin, &sl);
	fo.port = ntohs(sin.sin_port);
	fo.proto = IPPROTO_TCP;
	f = rpcfwd_new_opts(l, &fo);
	t0 = loop_now();
	lag = 0;
	for (int i = 0; i < 50; i++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "198.51.100.%d", i + 10);
		addr_parse(ip, &a);
		rpcfwd_send(f, &a);
	}
	run_until(l, fwd_done, f, 3000, &lag);
	T_EQ_INT(rpcfwd_stats(f)->failed, 50, "50 additions to a silent TCP server failed");
	T_OK(loop_now() - t0 >= 550 && loop_now() - t0 < 1000, "after the 600 ms limit (%llu ms)",
	     (unsigned long long)(loop_now() - t0));
	T_OK(lag < 200, "the loop never stalled (max lateness %llu ms)", (unsigned long long)lag);
	{
		int c = accept(dead, NULL, NULL);
		char b[8192];
		ssize_t r = c >= 0 ? recv(c, b, sizeof(b), MSG_DONTWAIT) : -1;

		T_OK(r == 50 * 48, "one connection carried the 50 calls (%zd bytes)", r);
		if (c >= 0)
			close(c);
	}
	rpcfwd_free(f);
	close(dead);
	rpcsrv_free(s);
	reap(l);
	loop_free(l);
	unlink(conf);
}

/* ---- modes for tests/ns/rpc.sh ---- */

static struct rpcsrv *serve_srv;
static struct loop *serve_loop;

static void on_usr1(void *arg)
{
	const struct rpcsrv_stats *st = rpcsrv_stats(serve_srv);

	printf("stats calls=%llu granted=%llu refused=%llu ignored=%llu malformed=%llu errors=%llu\n",
	       (unsigned long long)st->calls, (unsigned long long)st->granted,
	       (unsigned long long)st->refused, (unsigned long long)st->ignored,
	       (unsigned long long)st->malformed, (unsigned long long)st->errors);
	fflush(stdout);
}

static void on_hup(void *arg)
{
	printf("reload %d\n", rpcsrv_reload(serve_srv));
	fflush(stdout);
}

static void on_term(void *arg)
{
	loop_stop(serve_loop);
}

static int serve(const char *allow)
{
	serve_loop = loop_new();
	g_print = 1;
	serve_srv = rpcsrv_new(serve_loop, allow, grant, NULL);
	if (!serve_srv)
		return 1;
	loop_signal(serve_loop, SIGUSR1, on_usr1, NULL);
	loop_signal(serve_loop, SIGHUP, on_hup, NULL);
	loop_signal(serve_loop, SIGTERM, on_term, NULL);
	loop_signal(serve_loop, SIGINT, on_term, NULL);
	printf("ready %u\n", rpcsrv_port(serve_srv));
	fflush(stdout);
	loop_run(serve_loop);
	rpcsrv_free(serve_srv);
	reap(serve_loop);
	loop_free(serve_loop);
	printf("stopped\n");
	return 0;
}

static int forward(const char *conf, int n, char **ips)
{
	struct loop *l = loop_new();
	struct rpcfwd *f = rpcfwd_new(l, conf);
	uint64_t lag = 0;

	if (!f)
		return 1;
	for (int i = 0; i < n; i++) {
		struct drac_addr a;

		if (addr_parse(ips[i], &a) < 0)
			return 2;
		rpcfwd_send(f, &a);
	}
	/* names resolve in the background: wait for the sends too */
	run_until(l, fwd_done, f, 10000, &lag);
	printf("forward servers=%u sent=%llu acked=%llu failed=%llu maxlag=%llu\n",
	       rpcfwd_servers(f), (unsigned long long)rpcfwd_stats(f)->sent,
	       (unsigned long long)rpcfwd_stats(f)->acked,
	       (unsigned long long)rpcfwd_stats(f)->failed, (unsigned long long)lag);
	rpcfwd_free(f);
	reap(l);
	loop_free(l);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("test_rpc", LOG_TO_STDERR, 0);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "forward"))
		return forward(argv[2], argc - 3, argv + 3);
	test_wire();
	test_conf();
	test_server();
	test_forward();
	return T_DONE();
}
