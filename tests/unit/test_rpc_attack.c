/* test_rpc_attack.c - hostile input for the DRAC RPC server's decoder and
 * its TCP record reader: what a reviewer tried, kept so it stays refused.
 *
 *	- no answer is ever longer than the call (a forged UDP source
 *	  gets no amplification), checked on crafted and random calls
 *	- authenticator lengths near 2^32 and over 400, bodies cut short
 *	- RPC replies and unknown message types sent to the server
 *	- v2 vector elements that are not a byte, mapped addresses
 *	- over TCP: a record split into many fragments, 1000 empty
 *	  fragments, a 2 GB fragment length, and a caller that sends
 *	  hundreds of calls without reading an answer: the connection is
 *	  closed or throttled and other callers are served throughout
 *	- a burst of pipelined calls larger than the answer buffer: the
 *	  old server left the calls it had read unanswered until the idle
 *	  close (60 s), with nothing to wake it
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "allow.h"
#include "dracauth.h"
#include "log.h"
#include "loop.h"
#include "rpcsrv.h"
#include "xdr.h"
#include "t.h"

static int grant(const struct drac_addr *a, enum grant_source src, void *arg)
{
	(void)a;
	(void)src;
	(*(volatile int *)arg)++;
	return 0;
}

/* A call header: xid, CALL, rpcvers 2, prog, vers, proc, two AUTH_NONE. */
static size_t hdr(uint8_t *b, uint32_t vers, uint32_t proc)
{
	put32(b, 0x1234);
	put32(b + 4, 0);
	put32(b + 8, 2);
	put32(b + 12, DRACPROG);
	put32(b + 16, vers);
	put32(b + 20, proc);
	memset(b + 24, 0, 16);
	return 40;
}

static int decode_reply(const uint8_t *b, size_t n, size_t *rlen)
{
	struct rpc_call c;
	uint8_t out[RPC_REPLY_MAX];
	int v = rpc_call_decode(b, n, &c);

	*rlen = rpc_reply_encode(out, sizeof(out), &c, v, 0);
	return v;
}

static void test_decode(void)
{
	uint8_t b[1200];
	size_t n, r;
	struct rpc_call c;

	/* authenticator lengths */
	n = hdr(b, DRACVERS, DRACPROC_ADD);
	put32(b + 28, 0xffffffffu);
	T_EQ_INT(decode_reply(b, n + 4, &r), RPC_DROP, "credential length 2^32-1: dropped");
	put32(b + 28, 0xfffffffdu);	/* +3 wraps to 0 when rounded in 32 bits */
	T_EQ_INT(decode_reply(b, n + 4, &r), RPC_DROP, "credential length 2^32-3: dropped");
	put32(b + 28, 401);
	memset(b + 32, 0, 404 + 8 + 4);
	T_EQ_INT(decode_reply(b, 32 + 404 + 8 + 4, &r), RPC_DROP, "credential 401 bytes: dropped");
	put32(b + 28, 400);
	put32(b + 24 + 8 + 400, 0);
	put32(b + 24 + 8 + 400 + 4, 0);
	put32(b + 24 + 8 + 400 + 8, 0xc0000201);
	T_EQ_INT(decode_reply(b, 24 + 8 + 400 + 8 + 4, &r), RPC_CALL_OK,
		 "credential of 400 bytes: accepted (RFC 5531's limit)");
	T_EQ_INT(decode_reply(b, 24 + 8 + 400 + 6, &r), RPC_DROP, "cut in the verifier: dropped");
	T_EQ_INT(decode_reply(b, 24 + 8 + 400 + 8 + 2, &r), RPC_GARBAGE, "cut in the arguments: garbage");
	put32(b + 28, 5);	/* padded to 8, body cut after 6 */
	T_EQ_INT(decode_reply(b, 24 + 8 + 6, &r), RPC_DROP, "short credential body: dropped");

	/* message types and numbers */
	n = hdr(b, DRACVERS, DRACPROC_NULL);
	put32(b + 4, 1);
	T_EQ_INT(decode_reply(b, n, &r), RPC_DROP, "an RPC reply sent to the server: dropped");
	T_EQ_INT(r, 0, "and not answered (no ping-pong between two servers)");
	put32(b + 4, 2);
	T_EQ_INT(decode_reply(b, n, &r), RPC_DROP, "message type 2: dropped");
	n = hdr(b, 3, DRACPROC_NULL);
	T_EQ_INT(decode_reply(b, n, &r), RPC_BAD_VERS, "version 3: PROG_MISMATCH");
	n = hdr(b, DRACVERS, 2);
	T_EQ_INT(decode_reply(b, n, &r), RPC_BAD_PROC, "procedure 2: PROC_UNAVAIL");
	n = hdr(b, DRACVERS, DRACPROC_ADD);
	put32(b + 12, 100000);
	T_EQ_INT(decode_reply(b, n + 4, &r), RPC_BAD_PROG, "rpcbind's program number: PROG_UNAVAIL");

	/* v2 vector elements */
	n = hdr(b, DRACVERS6, DRACPROC_ADD);
	for (int i = 0; i < 16; i++)
		put32(b + n + 4 * i, i == 15 ? 1 : 0);
	T_EQ_INT(rpc_call_decode(b, n + 64, &c), RPC_CALL_OK, "v2 ::1 decodes (the gate refuses it)");
	put32(b + n + 60, 0x101);
	T_EQ_INT(rpc_call_decode(b, n + 64, &c), RPC_GARBAGE, "element 0x101 (a byte 1 + 256): garbage");
	put32(b + n + 60, 0xffffff7fu);
	T_EQ_INT(rpc_call_decode(b, n + 64, &c), RPC_GARBAGE, "element -129: garbage");
	T_OK(c.addr.family == 0, "and no address left behind");
	put32(b + n + 60, 0xffffff80u);
	T_EQ_INT(rpc_call_decode(b, n + 64, &c), RPC_CALL_OK, "element -128: the byte 0x80");
	T_EQ_INT(c.addr.a[15], 0x80, "as 0x80");
	for (int i = 0; i < 16; i++)
		put32(b + n + 4 * i, (uint8_t[16]){ [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 }[i]);
	T_EQ_INT(rpc_call_decode(b, n + 64, &c), RPC_CALL_OK, "v2 ::ffff:127.0.0.1 decodes");
	T_EQ_INT(c.addr.family, AF_INET, "as IPv4 127.0.0.1, so the gate's loopback check sees it");
	T_EQ_INT(rpc_call_decode(b, n + 68, &c), RPC_GARBAGE, "a trailing word: garbage");

	/* no amplification: every answer is shorter than its call */
	{
		unsigned bad = 0, answered = 0;
		uint32_t seed = 12345;

		for (int k = 0; k < 200000; k++) {
			size_t len = (seed = seed * 1103515245 + 12345) % 120;

			for (size_t i = 0; i < len; i++)
				b[i] = (seed = seed * 1103515245 + 12345) >> 16;
			if (len >= 24 && k % 2) {	/* mostly well-formed headers */
				hdr(b, (seed >> 8) % 4, (seed >> 12) % 4);
				if (k % 4 == 1)
					put32(b + 8, seed % 3);
				if (k % 8 == 3)
					put32(b + 12, seed);
			}
			decode_reply(b, len, &r);
			answered += r > 0;
			bad += r > len || (len < 40 && r);
		}
		T_EQ_INT(bad, 0, "200000 calls: no answer longer than its call (%u answered)",
			 answered);
	}
}

/* "local_users" lines in dracd.allow */
static void test_local_users(void)
{
	struct allowlist *l = NULL;
	char err[256] = "";
	const char *f = "127.0.0.1/32\n  local_users root 1001 # the POP server\r\nlocal_users 7\n";

	T_EQ_INT(allow_parse(f, strlen(f), "A", &l, err, sizeof(err)), 0, "local_users parses (%s)", err);
	T_OK(allow_has_local_users(l), "the list has local_users");
	T_OK(allow_local_user(l, 0) && allow_local_user(l, 1001) && allow_local_user(l, 7),
	     "root, 1001 and 7 (two lines add up)");
	T_OK(!allow_local_user(l, 65534), "nobody is not");
	T_EQ_INT(allow_count(l), 1, "one address entry");
	allow_free(l);
	f = "local_users\n";
	T_EQ_INT(allow_parse(f, strlen(f), "A", &l, err, sizeof(err)), 0, "an empty local_users line");
	T_OK(allow_has_local_users(l) && !allow_local_user(l, 0), "allows no local caller");
	allow_free(l);
	f = "127.0.0.1/32\n";
	T_EQ_INT(allow_parse(f, strlen(f), "A", &l, err, sizeof(err)), 0, "no local_users line");
	T_OK(!allow_has_local_users(l), "any local user, as rpc.dracd");
	allow_free(l);
	f = "::1/128\nlocal_users root no_such_user_here\n";
	T_EQ_INT(allow_parse(f, strlen(f), "A", &l, err, sizeof(err)), -1, "an unknown user");
	T_EQ_STR(err, "A:2: local_users: no user \"no_such_user_here\"", "named with FILE:LINE");
	f = "local_usersx root\n";
	T_EQ_INT(allow_parse(f, strlen(f), "A", &l, err, sizeof(err)), -1, "local_usersx is no keyword");
	f = "local_users 4294967295\n";
	T_EQ_INT(allow_parse(f, strlen(f), "A", &l, err, sizeof(err)), -1, "uid -1 is no user");
}

/* ---- the real server over TCP on loopback ---- */

struct srv {
	struct loop *l;
	struct rpcsrv *s;
	pthread_t th;
	int stop[2];
	volatile int grants;
};

static void srv_stop(int fd, uint32_t ev, void *arg)
{
	(void)fd;
	(void)ev;
	loop_stop(((struct srv *)arg)->l);
}

static void *srv_main(void *arg)
{
	loop_run(((struct srv *)arg)->l);
	return NULL;
}

static int tcp_open(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read until EOF or reset (0: closed) or until the timeout (-1); bytes
 * read in *got.  A server that closes with our bytes unread resets. */
static int tcp_drain(int fd, size_t *got)
{
	uint8_t b[4096];
	ssize_t r;

	*got = 0;
	while ((r = recv(fd, b, sizeof(b), 0)) > 0)
		*got += r;
	return r == 0 || errno == ECONNRESET ? 0 : -1;
}

static int udp_null(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 1, 0 };
	uint8_t b[64];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sendto(fd, b, hdr(b, DRACVERS, DRACPROC_NULL), 0, (struct sockaddr *)&sin, sizeof(sin));
	r = recv(fd, b, sizeof(b), 0);
	close(fd);
	return (int)r;
}

static void test_tcp(void)
{
	struct srv sv = { 0 };
	char allow[] = "/tmp/test_rpc_attack.XXXXXX";
	struct rpcsrv_opts o = { .allow_path = allow, .no_rpcbind = true };
	uint8_t b[8192], c[64];
	uint16_t port;
	size_t n, got;
	int fd = mkstemp(allow);

	if (write(fd, "127.0.0.1/32\n", 13) != 13)
		T_OK(0, "write allow");
	close(fd);
	sv.l = loop_new();
	sv.s = rpcsrv_new_opts(sv.l, &o, grant, (void *)&sv.grants);
	T_OK(sv.s != NULL, "server starts");
	if (!sv.s || pipe(sv.stop) < 0)
		return;
	port = rpcsrv_port(sv.s);
	loop_add_fd(sv.l, sv.stop[0], EPOLLIN, srv_stop, &sv);
	pthread_create(&sv.th, NULL, srv_main, &sv);

	/* one call in 11 fragments (the last with the last-fragment bit) */
	n = hdr(c, DRACVERS, DRACPROC_ADD);
	put32(c + n, 0xc0000207);
	n += 4;
	{
		size_t pos = 0, off = 0;

		for (int i = 0; i < 11; i++) {
			size_t k = i < 10 ? 4 : n - off;

			put32(b + pos, (i == 10 ? 0x80000000u : 0) | k);
			memcpy(b + pos + 4, c + off, k);
			pos += 4 + k;
			off += k;
		}
		fd = tcp_open(port);
		T_OK(send(fd, b, pos, MSG_NOSIGNAL) == (ssize_t)pos, "a call in 11 fragments sent");
		T_EQ_INT(recv(fd, b, sizeof(b), 0), 4 + 28, "answered as one call");
		T_EQ_INT(get32(b + 28), ADD_SUCCESS, "ADD_SUCCESS");
		T_EQ_INT(sv.grants, 1, "granted once");
		close(fd);
	}

	/* 1100 empty fragments: never a whole record within the buffer */
	fd = tcp_open(port);
	for (int i = 0; i < 1100; i++)
		put32(b + 4 * i, 0);
	send(fd, b, 4400, MSG_NOSIGNAL);
	T_EQ_INT(tcp_drain(fd, &got), 0, "1100 empty fragments: the server closes the connection");
	close(fd);

	/* a fragment that claims 2 GB */
	fd = tcp_open(port);
	put32(b, 0xffffffffu);
	memcpy(b + 4, c, n);
	send(fd, b, 4 + n, MSG_NOSIGNAL);
	T_EQ_INT(tcp_drain(fd, &got), 0, "a 2 GB fragment: closed at once");
	T_EQ_INT(got, 0, "unanswered");
	close(fd);

	/* 2000 NULL calls without reading: the server stops reading when
	 * its answers pile up, keeps serving others, and answers all once
	 * the caller reads */
	{
		uint8_t *big = malloc(2000 * 44);
		size_t m = hdr(c, DRACVERS, DRACPROC_NULL), sent = 0, want = 2000 * (4 + 24);
		int nb;

		for (int i = 0; i < 2000; i++) {
			put32(big + i * (4 + m), 0x80000000u | m);
			memcpy(big + i * (4 + m) + 4, c, m);
		}
		fd = tcp_open(port);
		nb = 1;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &nb, sizeof(nb));	/* smallest */
		{
			struct timeval tv = { 0, 200000 };

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		while (sent < 2000 * (4 + m)) {
			ssize_t w = send(fd, big + sent, 2000 * (4 + m) - sent, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			sent += w;
		}
		T_EQ_INT(udp_null(port), 24, "a caller that does not read: others are still served");
		{
			struct timeval tv = { 1, 0 };

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		got = 0;
		while (got < want) {
			ssize_t r;

			if (sent < 2000 * (4 + m)) {
				ssize_t w = send(fd, big + sent, 2000 * (4 + m) - sent,
						 MSG_NOSIGNAL | MSG_DONTWAIT);

				if (w > 0)
					sent += w;
			}
			r = recv(fd, b, sizeof(b), 0);
			if (r <= 0) {
				break;
			}
			got += r;
		}
		T_EQ_INT(got, want, "once it reads, every one of its 2000 calls is answered");
		close(fd);
		free(big);
	}

	/* a burst of 300 pipelined calls, as the forwarder sends after many
	 * logins at once, from a caller that reads at once: the server
	 * reads more than its answer buffer holds in one go */
	{
		size_t m = hdr(c, DRACVERS, DRACPROC_NULL), want = 300 * (4 + 24);
		uint8_t *burst = malloc(300 * (4 + m));

		for (int i = 0; i < 300; i++) {
			put32(burst + i * (4 + m), 0x80000000u | m);
			memcpy(burst + i * (4 + m) + 4, c, m);
		}
		fd = tcp_open(port);
		T_OK(send(fd, burst, 300 * (4 + m), MSG_NOSIGNAL) == (ssize_t)(300 * (4 + m)),
		     "300 pipelined calls sent at once");
		for (got = 0; got < want;) {
			ssize_t r = recv(fd, b, sizeof(b), 0);

			if (r <= 0)
				break;
			got += r;
		}
		T_EQ_INT(got, want, "all 300 answered (the old server stalled after 145)");
		close(fd);
		free(burst);
	}

	if (write(sv.stop[1], "q", 1) != 1)
		T_OK(0, "stop");
	pthread_join(sv.th, NULL);
	rpcsrv_free(sv.s);
	loop_free(sv.l);
	unlink(allow);
}

int main(void)
{
	log_init("test_rpc_attack", LOG_TO_STDERR, 0);
	test_decode();
	test_local_users();
	test_tcp();
	return T_DONE();
}
