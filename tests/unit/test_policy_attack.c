/* test_policy_attack.c - hostile inputs to the policy service that a
 * review tried (tests/ns/policy_attack.sh has the ones that need the real
 * daemon and Postfix).  Each block says what the attack was; the ones that
 * once worked say so. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "policy.h"
#include "t.h"

static struct drac_addr granted4, granted6;

static bool lookup(const struct drac_addr *a, void *arg)
{
	return addr_eq(a, &granted4) || addr_eq(a, &granted6);
}

/* The request Postfix sends, with client_address = addr. */
static int ask_parse(const char *body, struct policy_request *r)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "request=smtpd_access_policy\nprotocol_state=RCPT\n%s\n", body);
	return (int)policy_parse(buf, strlen(buf), r);
}

/* granted: the parse gives a valid request whose client is granted. */
static bool grants(const char *body)
{
	struct policy_request r;

	return ask_parse(body, &r) > 0 && r.valid && r.has_client && lookup(&r.client, NULL);
}

/* Address forms and attribute games: none may reach a granted address
 * that is not literally the one in client_address. */
static void test_forms(void)
{
	addr_parse("192.0.2.7", &granted4);
	addr_parse("2001:db8::7", &granted6);

	T_OK(grants("client_address=192.0.2.7\n"), "control: the granted address is OK");
	T_OK(grants("client_address=2001:DB8:0:0::7\n"), "control: any spelling of the IPv6 one");
	T_OK(grants("client_address=::ffff:192.0.2.7\n"), "control: its IPv4-mapped form");

	const char *no[] = {
		"client_address=192.0.2.07\n",	  /* leading zero: octal to some */
		"client_address=0300.0.2.7\n",	  /* octal */
		"client_address=3221226247\n",	  /* 192.0.2.7 as one number */
		"client_address=0xc0.0.2.7\n",
		"client_address=192.0.2.7 \n",	  /* trailing blank */
		"client_address=\t192.0.2.7\n",
		"client_address=192.0.2.7\r\r\n", /* a CR left inside */
		"client_address=::192.0.2.7\n",	  /* IPv4-compatible: another address */
		"client_address=64:ff9b::192.0.2.7\n", /* NAT64: another address */
		"client_address=2001:db8::7%lo\n", /* zone id */
		"client_address=[2001:db8::7]\n",
		"client_address=2001:db8::7/128\n",
		"client_address=192.0.2.8\nclient_address=192.0.2.7\n", /* a second one */
		"client_address=192.0.2.7\nclient_address=192.0.2.7\n",
		"client_address=bogus\nclient_address=192.0.2.7\n",
		"Client_Address=192.0.2.7\n",	  /* another name to Postfix */
		"client_address =192.0.2.7\n",
		" client_address=192.0.2.7\n",
		"xclient_address=192.0.2.7\n",
		"client_name=192.0.2.7\nreverse_client_name=192.0.2.7\n"
		"server_address=192.0.2.7\nhelo_name=192.0.2.7\n", /* other address fields */
		"client_address=192.0.2.8\nhelo_name=x\rclient_address=192.0.2.7\n",
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
		if (grants(no[i])) {
			printf("# granted: %s", no[i]);
			n++;
		}
	T_EQ_INT(n, 0, "no other form or field grants (%zu tried)", sizeof(no) / sizeof(*no));

	/* A NUL inside the value: "192.0.2.7\0junk" must not be read as
	 * 192.0.2.7. */
	struct policy_request r;
	char nul[] = "request=smtpd_access_policy\nclient_address=192.0.2.7\0x\n\n";
	policy_parse(nul, sizeof(nul) - 1, &r);
	T_OK(!r.valid, "a NUL inside client_address: malformed");

	/* A line that is a lone CR ends the request (as CRLF does): the
	 * address after it belongs to the next request, not this one. */
	const char *split = "request=smtpd_access_policy\n\r\nclient_address=192.0.2.7\n\n";
	size_t used = policy_parse(split, strlen(split), &r);
	T_OK(used > 0 && !(r.valid && r.has_client), "a lone CR line ends a request without client_address: DUNNO");
}

/* ---- the socket ---- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Once worked: a socket another process still listens on (a second
 * dracd, another policy server, one of Postfix's own services in
 * private/) was unlinked and its name taken, cutting its clients off;
 * when the usurper stopped, it removed the name, and the first dracd's
 * listener was unreachable: every smtpd got "no service" (no relay). */
static void test_live_socket(void)
{
	char dir[] = "/tmp/drac-policy-attack.XXXXXX", path[128], ep[160];
	struct loop *l = loop_new();
	struct policy *p;
	int other, c, s;

	if (!mkdtemp(dir)) {
		T_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/policy", dir);
	snprintf(ep, sizeof(ep), "unix:%s", path);
	other = listen_unix(path);
	T_OK(other >= 0, "another process listens on %s", path);
	p = policy_new(l, ep, lookup, NULL);
	T_OK(p == NULL, "the policy service refuses a live socket's name");
	policy_free(p);
	c = connect_unix(path);
	s = c >= 0 ? accept(other, NULL, NULL) : -1;
	T_OK(c >= 0 && s >= 0, "and the other listener still gets its clients");
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);

	/* The same socket once its owner is gone: stale, replaced. */
	close(other);
	p = policy_new(l, ep, lookup, NULL);
	T_OK(p != NULL, "a stale socket (nobody listening) is replaced");
	struct stat st;
	T_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0666, "mode 0666");
	policy_free(p);
	T_OK(access(path, F_OK) < 0, "and removed at the end");
	loop_free(l);
	rmdir(dir);
}

/* Once worked: a socket in a directory anyone may write, such as /tmp.
 * While dracd was not running anyone could bind their own socket at the
 * name, answer OK to every client, and (now that a live socket is left
 * alone) keep it. */
static void test_open_dir(void)
{
	char dir[] = "/tmp/drac-policy-attack.XXXXXX", path[128], ep[160];
	struct loop *l = loop_new();
	struct policy *p;

	if (!mkdtemp(dir)) {
		T_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/policy", dir);
	snprintf(ep, sizeof(ep), "unix:%s", path);
	chmod(dir, 01777);
	p = policy_new(l, ep, lookup, NULL);
	T_OK(p == NULL, "a socket in a directory writable by everyone (1777) is refused");
	policy_free(p);
	T_OK(access(path, F_OK) < 0, "and nothing was made there");
	chmod(dir, 0775);
	p = policy_new(l, ep, lookup, NULL);
	T_OK(p != NULL, "group-writable (0775) is the administrator's choice: served");
	policy_free(p);
	loop_free(l);
	rmdir(dir);
}

static void stop_cb(void *arg)
{
	loop_stop(arg);
}

/* Runs the loop for one turn: the events ready now, then due timers. */
static void one_turn(struct loop *l)
{
	struct loop_timer *t = loop_timer_new(l, stop_cb, l);

	loop_timer_after(t, 0);
	loop_run(l);
	loop_timer_free(t);
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

static size_t drain(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off + 1 < len && (n = recv(fd, buf + off, len - 1 - off, MSG_DONTWAIT)) > 0)
		off += n;
	buf[off] = '\0';
	return off;
}

/* Once worked (a stall): one 8 kB read of one-byte requests ("\n") was
 * answered whole in one loop turn, 8000 answers, while every other
 * client, smtpd's too, waited; with many such connections a turn took
 * a large fraction of a second.  Now each connection has a budget per
 * turn and the rest follows in later turns. */
static void test_turn_budget(void)
{
	char dir[] = "/tmp/drac-policy-attack.XXXXXX", path[128], ep[160];
	static char buf[200000];
	struct loop *l = loop_new();
	struct policy *p;
	int a, b, got = 0;

	if (!mkdtemp(dir)) {
		T_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/policy", dir);
	snprintf(ep, sizeof(ep), "unix:%s", path);
	p = policy_new(l, ep, lookup, NULL);
	T_OK(p != NULL, "service on %s", ep);
	if (!p)
		return;
	a = connect_unix(path);
	b = connect_unix(path);
	one_turn(l); /* accept both */
	char flood[8000];
	memset(flood, '\n', sizeof(flood));
	const char *req = "request=smtpd_access_policy\nclient_address=192.0.2.7\n\n";
	T_OK(write(a, flood, sizeof(flood)) == (ssize_t)sizeof(flood), "a: 8000 one-byte requests");
	T_OK(write(b, req, strlen(req)) == (ssize_t)strlen(req), "b: one real request");
	one_turn(l);
	drain(b, buf, sizeof(buf));
	T_EQ_STR(buf, "action=OK\n\n", "b is answered in the first turn");
	drain(a, buf, sizeof(buf));
	got = count(buf, "action=DUNNO\n\n");
	T_OK(got > 0 && got <= 256, "a got only a share in that turn (%d of 8000)", got);
	for (int i = 0; i < 200 && got < 8000; i++) {
		struct loop_timer *t = loop_timer_new(l, stop_cb, l);

		loop_timer_after(t, 5);
		loop_run(l);
		loop_timer_free(t);
		drain(a, buf, sizeof(buf));
		got += count(buf, "action=DUNNO\n\n");
	}
	T_EQ_INT(got, 8000, "and all 8000 in later turns, in order, none lost");
	T_OK(write(a, req, strlen(req)) > 0, "a asks a real question after them");
	for (int i = 0; i < 5; i++)
		one_turn(l);
	drain(a, buf, sizeof(buf));
	T_EQ_STR(buf, "action=OK\n\n", "and is answered");
	close(a);
	close(b);
	policy_free(p);
	loop_free(l);
	rmdir(dir);
}

int main(void)
{
	log_init("test_policy_attack", LOG_TO_STDERR, 0);
	test_forms();
	test_live_socket();
	test_open_dir();
	test_turn_budget();
	return T_DONE();
}
