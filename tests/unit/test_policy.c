/* test_policy.c - the policy request parser, the endpoint notation, and
 * the service itself on a unix socket in /tmp (no root needed): answers,
 * pipelining, malformed and oversized requests, a silent client. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "policy.h"
#include "t.h"

#define REQ(addr) "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n" \
		  "client_address=" addr "\nclient_name=unknown\nhelo_name=c.example.net\n"    \
		  "sender=a@example.net\nrecipient=b@example.com\ninstance=1.2.3\n\n"

static size_t parse_str(const char *s, struct policy_request *r)
{
	return policy_parse(s, strlen(s), r);
}

static void test_parser(void)
{
	struct policy_request r;
	struct drac_addr want;
	const char *s;

	s = REQ("192.0.2.7");
	T_EQ_INT(parse_str(s, &r), strlen(s), "a whole request is taken through its empty line");
	addr_parse("192.0.2.7", &want);
	T_OK(r.valid && r.has_client && addr_eq(&r.client, &want), "IPv4 client_address");

	s = REQ("2001:db8::7");
	T_EQ_INT(parse_str(s, &r), strlen(s), "IPv6 request taken");
	addr_parse("2001:db8::7", &want);
	T_OK(r.valid && r.has_client && addr_eq(&r.client, &want), "IPv6 client_address");

	s = REQ("::ffff:192.0.2.7");
	parse_str(s, &r);
	addr_parse("192.0.2.7", &want);
	T_OK(r.valid && addr_eq(&r.client, &want), "an IPv4-mapped address is the IPv4 one");

	s = "request=smtpd_access_policy\r\nclient_address=192.0.2.7\r\n\r\n";
	T_EQ_INT(parse_str(s, &r), strlen(s), "CRLF lines (a person with telnet)");
	T_OK(r.valid && r.has_client, "CRLF request valid");

	s = REQ("192.0.2.7") REQ("192.0.2.8");
	T_EQ_INT(parse_str(s, &r), strlen(s) / 2, "pipelined: the first request only");

	/* incomplete: every proper prefix gives 0 */
	s = REQ("192.0.2.7");
	size_t bad_prefix = 0;
	for (size_t n = 0; n < strlen(s); n++)
		if (policy_parse(s, n, &r) != 0)
			bad_prefix++;
	T_EQ_INT(bad_prefix, 0, "no proper prefix of a request is taken as complete");

	s = "client_address=192.0.2.7\n\n";
	T_EQ_INT(parse_str(s, &r), strlen(s), "no request= line: still framed");
	T_OK(!r.valid && !r.has_client, "no request= line: malformed, no client");

	s = "request=other_policy\nclient_address=192.0.2.7\n\n";
	parse_str(s, &r);
	T_OK(!r.valid && !r.has_client, "another request type: malformed");

	s = "request=smtpd_access_policy\nclient_address=192.0.2.7\nclient_address=192.0.2.8\n\n";
	parse_str(s, &r);
	T_OK(!r.valid && !r.has_client, "client_address twice: malformed");

	s = "request=smtpd_access_policy\nrequest=smtpd_access_policy\nclient_address=192.0.2.7\n\n";
	parse_str(s, &r);
	T_OK(!r.valid, "request= twice: malformed");

	const char *bad_addrs[] = { "", "192.0.2.7 ", " 192.0.2.7", "[2001:db8::7]", "192.0.2.7x",
				    "mail.example.net", "192.0.2", "2001:db8::7%eth0", "192.0.2.7/32" };
	int accepted = 0;
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(*bad_addrs); i++) {
		char buf[256];

		snprintf(buf, sizeof(buf), "request=smtpd_access_policy\nclient_address=%s\n\n",
			 bad_addrs[i]);
		parse_str(buf, &r);
		if (r.valid || r.has_client)
			accepted++;
	}
	T_EQ_INT(accepted, 0, "unparsable client addresses are malformed (%zu forms)",
		 sizeof(bad_addrs) / sizeof(*bad_addrs));

	s = "request=smtpd_access_policy\nno equals sign\nclient_address=192.0.2.7\n\n";
	T_EQ_INT(parse_str(s, &r), strlen(s), "a line without '=' is still framed");
	T_OK(!r.valid && !r.has_client, "a line without '=': malformed");

	s = "request=smtpd_access_policy\n=x\nclient_address=192.0.2.7\n\n";
	parse_str(s, &r);
	T_OK(!r.valid, "an empty name: malformed");

	char nul[] = "request=smtpd_access_policy\nclient_address=192.0.2.7\nx=a\0b\n\n";
	T_EQ_INT(policy_parse(nul, sizeof(nul) - 1, &r), sizeof(nul) - 1, "NUL byte: framed");
	T_OK(!r.valid, "a NUL byte: malformed");

	s = "\n";
	T_EQ_INT(parse_str(s, &r), 1, "an empty line alone is an (empty) request");
	T_OK(!r.valid, "the empty request is malformed");

	s = "request=smtpd_access_policy\nsender=\nrecipient=x=y@example.com\nclient_address=192.0.2.7\n\n";
	parse_str(s, &r);
	T_OK(r.valid && r.has_client, "empty values and '=' inside values are fine");

	s = "request=smtpd_access_policy\nclient_address=192.0.2.7\n";
	T_EQ_INT(parse_str(s, &r), 0, "no empty line yet: incomplete");
}

static void test_endpoint(void)
{
	struct policy_endpoint ep;
	char err[256];

	T_OK(policy_endpoint_parse("unix:/var/spool/postfix/private/dracd", &ep, err, sizeof(err)) == 0 &&
		     ep.family == AF_UNIX && !strcmp(ep.path, "/var/spool/postfix/private/dracd"),
	     "unix:/var/spool/postfix/private/dracd");
	T_OK(policy_endpoint_parse("inet:127.0.0.1:10040", &ep, err, sizeof(err)) == 0 &&
		     ep.family == AF_INET, "inet:127.0.0.1:10040");
	T_OK(policy_endpoint_parse("inet:[::1]:10040", &ep, err, sizeof(err)) == 0 &&
		     ep.family == AF_INET6, "inet:[::1]:10040");
	T_OK(policy_endpoint_parse("inet:[2001:db8::1]:1", &ep, err, sizeof(err)) == 0,
	     "inet:[2001:db8::1]:1");
	const char *bad[] = { "unix:private/dracd", "inet:::1:10040", "inet:127.0.0.1",
			      "inet:127.0.0.1:0", "inet:127.0.0.1:65536", "inet:localhost:10040",
			      "inet:[127.0.0.1]:10040", "inet:[::1]10040", "inet:127.0.0.1:10040x",
			      "tcp:127.0.0.1:10040", "/run/dracd-policy", "unix:", "inet::10040",
			      "unix:/tmp/a\"b", "inet:127.0.0.1:-1" };
	int accepted = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (policy_endpoint_parse(bad[i], &ep, err, sizeof(err)) == 0) {
			printf("# accepted %s\n", bad[i]);
			accepted++;
		}
	T_EQ_INT(accepted, 0, "bad endpoints refused (%zu forms)", sizeof(bad) / sizeof(*bad));
	policy_endpoint_parse("unix:private/dracd", &ep, err, sizeof(err));
	T_OK(strstr(err, "/var/spool/postfix/private") != NULL,
	     "the error for unix:private/NAME says where Postfix's chroot puts it");
}

/* ---- the service ---- */

static struct drac_addr granted4, granted6;

static bool lookup(const struct drac_addr *a, void *arg)
{
	return addr_eq(a, &granted4) || addr_eq(a, &granted6);
}

static void stop_cb(void *arg)
{
	loop_stop(arg);
}

static void spin(struct loop *l, unsigned ms)
{
	struct loop_timer *t = loop_timer_new(l, stop_cb, l);

	loop_timer_after(t, ms);
	loop_run(l);
	loop_timer_free(t);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* What fd has to read now: the text, "EOF" when closed, "" when nothing. */
static const char *drain(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	buf[off] = '\0';
	if (off == 0 && n == 0)
		return "EOF";
	return buf;
}

static void test_service(void)
{
	char dir[] = "/tmp/drac-policy.XXXXXX", path[128], ep[160], buf[4096];
	struct loop *l = loop_new();
	struct policy *p;
	const struct policy_stats *st;
	int a, b, c;

	addr_parse("192.0.2.7", &granted4);
	addr_parse("2001:db8::7", &granted6);
	if (!mkdtemp(dir)) {
		T_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/policy", dir);
	snprintf(ep, sizeof(ep), "unix:%s", path);
	p = policy_new(l, ep, lookup, NULL);
	T_OK(p != NULL, "policy service listens on %s", ep);
	if (!p)
		return;
	st = policy_stats(p);
	policy_set_deadlines(p, 1000, 60000); /* a quick test */

	a = connect_to(path);
	b = connect_to(path);
	c = connect_to(path);
	T_OK(a >= 0 && b >= 0 && c >= 0, "three clients connect");
	const char *two = REQ("192.0.2.7") REQ("2001:db8::7") REQ("192.0.2.8");
	T_OK(write(a, two, strlen(two)) == (ssize_t)strlen(two), "three pipelined requests sent");
	spin(l, 50);
	T_EQ_STR(drain(a, buf, sizeof(buf)), "action=OK\n\naction=OK\n\naction=DUNNO\n\n",
		 "granted v4 and v6 OK, the other DUNNO, in order");

	/* A request in pieces over several turns, a silent client beside. */
	const char *r = REQ("192.0.2.7");
	size_t half = strlen(r) / 2;
	T_OK(write(b, r, half) == (ssize_t)half, "half a request");
	spin(l, 20);
	T_EQ_STR(drain(b, buf, sizeof(buf)), "", "no answer to half a request");
	T_OK(write(b, r + half, strlen(r) - half) > 0, "the rest");
	spin(l, 20);
	T_EQ_STR(drain(b, buf, sizeof(buf)), "action=OK\n\n", "answered when whole");

	/* Malformed: DUNNO, and the connection carries on. */
	const char *mal = "request=smtpd_access_policy\nclient_address=192.0.2.7\nclient_address=192.0.2.7\n\n";
	T_OK(write(b, mal, strlen(mal)) > 0, "a malformed request");
	spin(l, 20);
	T_EQ_STR(drain(b, buf, sizeof(buf)), "action=DUNNO\n\n", "malformed: DUNNO");
	T_OK(write(b, r, strlen(r)) > 0, "then a good one on the same connection");
	spin(l, 20);
	T_EQ_STR(drain(b, buf, sizeof(buf)), "action=OK\n\n", "still served");

	/* Oversized: DUNNO or nothing, then closed. */
	char *big = malloc(POLICY_MAX_REQUEST + 100);
	memcpy(big, "request=smtpd_access_policy\nclient_address=192.0.2.7\nx=", 56);
	memset(big + 56, 'a', POLICY_MAX_REQUEST + 100 - 56);
	size_t sent = 0;
	for (int i = 0; i < 50 && sent < POLICY_MAX_REQUEST + 100; i++) {
		ssize_t n = write(c, big + sent, POLICY_MAX_REQUEST + 100 - sent);

		if (n > 0)
			sent += n;
		spin(l, 5);
	}
	free(big);
	spin(l, 20);
	const char *got = drain(c, buf, sizeof(buf));
	T_OK(!strcmp(got, "action=DUNNO\n\n") || !strcmp(got, "EOF"), "oversized: DUNNO or closed (%s)",
	     !strcmp(got, "EOF") ? "closed" : "DUNNO");
	T_EQ_STR(drain(c, buf, sizeof(buf)), "EOF", "oversized: then closed");
	T_EQ_INT(st->oversized, 1, "counted as oversized");
	T_EQ_INT(st->malformed, 1, "one malformed counted");
	T_EQ_INT(st->ok, 4, "four OK counted");
	T_EQ_INT(st->requests, 7, "seven requests counted");
	T_EQ_INT(st->dunno, 3, "three DUNNO (unknown, malformed, oversized)");

	/* The other clients still get answers. */
	T_OK(write(a, r, strlen(r)) > 0, "client a asks again");
	spin(l, 20);
	T_EQ_STR(drain(a, buf, sizeof(buf)), "action=OK\n\n", "and is answered");

	/* 200 (empty, malformed) requests in one write: many more answers
	 * than the output buffer holds, and no further read to prompt the
	 * rest. */
	char many[200];
	memset(many, '\n', sizeof(many));
	T_OK(write(a, many, sizeof(many)) == (ssize_t)sizeof(many), "200 pipelined requests in one write");
	spin(l, 50);
	drain(a, buf, sizeof(buf));
	int dunnos = 0;
	for (char *q = buf; (q = strstr(q, "action=DUNNO\n\n")); q += 14)
		dunnos++;
	T_EQ_INT(dunnos, 200, "all 200 answered DUNNO, in one go");

	/* A client that connects and says nothing is closed after the
	 * request deadline; one that was answered stays (idle limit). */
	int silent = connect_to(path);
	spin(l, 1000 + 1500);
	T_EQ_STR(drain(silent, buf, sizeof(buf)), "EOF", "a silent client is closed after the "
		 "request deadline");
	T_EQ_STR(drain(a, buf, sizeof(buf)), "", "an answered idle client stays open");
	T_OK(st->timeouts >= 1, "timeout counted");

	close(a);
	close(b);
	close(c);
	close(silent);
	/* Cap: more connections than POLICY_MAX_CONNS evict the oldest. */
	int fds[POLICY_MAX_CONNS + 10], opened = 0;
	for (int i = 0; i < POLICY_MAX_CONNS + 10; i++) {
		fds[i] = connect_to(path);
		if (fds[i] >= 0)
			opened++;
		if (i % 32 == 0)
			spin(l, 2);
	}
	spin(l, 50);
	T_EQ_INT(opened, POLICY_MAX_CONNS + 10, "%d connections made", POLICY_MAX_CONNS + 10);
	T_OK(st->connections <= POLICY_MAX_CONNS, "at most %d kept (%llu)", POLICY_MAX_CONNS,
	     (unsigned long long)st->connections);
	T_OK(st->evicted >= 10, "the oldest evicted (%llu)", (unsigned long long)st->evicted);
	int last = fds[POLICY_MAX_CONNS + 9];
	T_OK(write(last, r, strlen(r)) > 0, "the newest asks");
	spin(l, 20);
	T_EQ_STR(drain(last, buf, sizeof(buf)), "action=OK\n\n", "and is answered");
	T_EQ_STR(drain(fds[0], buf, sizeof(buf)), "EOF", "the oldest was closed");
	for (int i = 0; i < POLICY_MAX_CONNS + 10; i++)
		if (fds[i] >= 0)
			close(fds[i]);

	policy_free(p);
	T_OK(access(path, F_OK) < 0, "the socket is removed at the end");
	loop_free(l);
	rmdir(dir);
}

int main(void)
{
	struct rlimit rl;

	/* Both ends of every connection live in this process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	log_init("test_policy", LOG_TO_STDERR, 0);
	test_parser();
	test_endpoint();
	test_service();
	return T_DONE();
}
