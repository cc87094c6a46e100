/* test_loghook_attack.c - a hostile review of the log hook's sources:
 * each check is an attack that got (or would get) a grant without a
 * real login, and must not.
 *
 *  * followed file: a log file that others may write (mode o+w, or an
 *    owner who is neither root, dracd's user nor in DRAC_LOGHOOK_UIDS)
 *    lets them append a login line; a directory that others may write
 *    lets them put a symlink to an old rotated log in its place, whose
 *    history is then read "from the start" as a new file: old logins
 *    replayed after their window.
 *    A file that becomes readable only after a while (dracd as
 *    DRAC_USER, the rotated file 0600 root) holds lines of unknown age:
 *    read from its start, they were granted long after their window.
 *  * datagram socket: a sender in its own user namespace, where it is
 *    uid 0, claiming uid 0 in SCM_CREDENTIALS; nobody claiming uid 0.
 *  * journal trust: a unit alone (its mail processes run as the users).
 *
 * The cases that need another user run as root only (they skip
 * otherwise). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loghook.h"
#include "logtrust.h"
#include "loop.h"
#include "t.h"

#define NOBODY 65534
#define MAXG 64
static char granted[MAXG][ADDR_STRLEN];
static int ngranted;
static char dir[64];

static int grant_cb(const struct drac_addr *a, enum grant_source src, void *arg)
{
	if (ngranted < MAXG)
		addr_fmt(a, granted[ngranted++], ADDR_STRLEN);
	return 0;
}

static int count(const char *addr)
{
	int n = 0;

	for (int i = 0; i < ngranted; i++)
		n += strcmp(granted[i], addr) == 0;
	return n;
}

static void stop_cb(void *arg)
{
	loop_stop(arg);
}

static void run_for(struct loop *l, unsigned ms)
{
	struct loop_timer *t = loop_timer_new(l, stop_cb, l);

	loop_timer_after(t, ms);
	loop_run(l);
	loop_timer_free(t);
}

static char line_buf[300];

static const char *login(const char *addr)
{
	snprintf(line_buf, sizeof(line_buf),
		 "Nov 27 21:00:00 mx dovecot[1]: imap-login: Login: user=<u>, method=PLAIN, "
		 "rip=%s, lip=192.0.2.1, mpid=9, TLS, session=<s>\n", addr);
	return line_buf;
}

static int append(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	int ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Run fn(arg) as nobody in a child; its exit status (0: done). */
static int as_nobody(int (*fn)(void *), void *arg)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(100);
		_exit(fn(arg));
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

struct wr {
	const char *path, *text;
};

static int nobody_append(void *arg)
{
	struct wr *w = arg;

	return append(w->path, w->text) < 0 ? 1 : 0;
}

/* A log file that nobody may write: nobody's login line grants nothing. */
static void test_file_others_write(const char *what, mode_t mode, uid_t owner)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { .uids = "0" };
	struct loghook *h;
	char path[128];
	struct wr w;

	snprintf(path, sizeof(path), "%s/open.log", dir);
	unlink(path);
	append(path, "Nov 27 20:59:59 mx dovecot[1]: master: started\n");
	if (chmod(path, mode) < 0 || chown(path, owner, owner) < 0)
		perror(path);
	cfg.file_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "following a log file %s", what);
	if (!h)
		return;
	ngranted = 0;
	w.path = path;
	w.text = login("192.0.2.60");
	T_EQ_INT(as_nobody(nobody_append, &w), 0, "  nobody appends a login line for 192.0.2.60");
	run_for(l, 1200);
	T_EQ_INT(count("192.0.2.60"), 0, "  it grants nothing");
	T_OK(loghook_stats(h)->untrusted >= 1, "  and is counted as untrusted");
	loghook_free(h);
	run_for(l, 0);
	loop_free(l);
	unlink(path);
}

static int nobody_swap(void *arg)
{
	struct wr *w = arg;
	char tmp[160];

	/* the old rotated log put in the followed file's place */
	snprintf(tmp, sizeof(tmp), "%s.new", w->path);
	return symlink(w->text, tmp) < 0 || rename(tmp, w->path) < 0 ? 1 : 0;
}

/* A directory that nobody may write: a symlink to yesterday's log (a
 * root file full of real, old logins) put in place of the followed
 * file is a "new file", read from its start: old logins come back. */
static void test_dir_symlink_replay(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { .uids = "0" };
	struct loghook *h;
	char sub[96], path[128], old[128];
	struct wr w;

	snprintf(sub, sizeof(sub), "%s/shared", dir);
	mkdir(sub, 0755);
	chmod(sub, 01777);	/* like /tmp: sticky does not help here */
	snprintf(path, sizeof(path), "%s/mail.log", sub);
	snprintf(old, sizeof(old), "%s/mail.log.1", sub);
	append(old, login("192.0.2.70"));	/* a login of yesterday */
	append(path, "Nov 27 20:59:59 mx dovecot[1]: master: started\n");
	cfg.file_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "following a log file in a directory anyone may write");
	if (!h)
		return;
	ngranted = 0;
	run_for(l, 100);
	unlink(path);	/* rotated away by root: a moment without the file */
	w.path = path;
	w.text = old;
	T_EQ_INT(as_nobody(nobody_swap, &w), 0,
		 "  nobody puts a symlink to the old log in its place");
	run_for(l, 1200);
	T_EQ_INT(count("192.0.2.70"), 0, "  the old login (192.0.2.70) is not replayed");
	loghook_free(h);
	run_for(l, 0);
	loop_free(l);
	unlink(path);
	unlink(old);
	rmdir(sub);
}

/* dracd as DRAC_USER (nobody here): the file made at rotation is 0600
 * root for a while, then readable.  What it holds by then is of unknown
 * age: reading it from its start would grant logins long after their
 * window (here a few seconds; in life, hours).  Lines after it opened
 * grant.  The loop runs in a child that is nobody. */
static void test_file_unreadable_then_readable(void)
{
	char path[128], path1[160];
	int st = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/late.log", dir);
	snprintf(path1, sizeof(path1), "%s.1", path);
	append(path, "Nov 27 20:59:59 mx dovecot[1]: master: started\n");
	chmod(path, 0644);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct loop *l = loop_new();
		struct loghook_config cfg = { .uids = "0", .file_path = path };
		struct loghook *h;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(100);
		h = loghook_new(l, &cfg, grant_cb, NULL);
		if (!h)
			_exit(101);
		ngranted = 0;
		run_for(l, 9500);
		_exit((count("192.0.2.90") ? 1 : 0) | (count("192.0.2.91") ? 2 : 0));
	}
	usleep(500 * 1000);
	rename(path, path1);
	append(path, login("192.0.2.90")); /* 0600: nobody cannot read it */
	sleep(6);
	chmod(path, 0644);
	usleep(1500 * 1000);
	append(path, login("192.0.2.91"));
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) < 100, "dracd's loop as nobody ran (status %d)",
	     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	T_OK(WIFEXITED(st) && !(WEXITSTATUS(st) & 1),
	     "a line of a file unreadable for 6 s is not granted when it opens at last");
	T_OK(WIFEXITED(st) && (WEXITSTATUS(st) & 2), "  a line written after it opened is");
	unlink(path);
	unlink(path1);
}

/* The kernel translates SCM_CREDENTIALS into the receiver's user
 * namespace: uid 0 of nobody's own namespace arrives as nobody. */
static int userns_send(void *arg)
{
	const char *path = arg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	union {
		char b[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct ucred cr;
	struct iovec iov;
	struct msghdr m = { 0 };
	struct cmsghdr *c;
	char map[64];
	int fd, s;

	/* as a user who logged in: setuid() from root left us undumpable,
	 * which hides /proc/self from us */
	prctl(PR_SET_DUMPABLE, 1);
	if (unshare(CLONE_NEWUSER) < 0)
		return 10;
	fd = open("/proc/self/setgroups", O_WRONLY);
	if (fd < 0 || write(fd, "deny", 4) != 4)
		return 11;
	close(fd);
	snprintf(map, sizeof(map), "0 %d 1", NOBODY);
	fd = open("/proc/self/uid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return 12;
	close(fd);
	fd = open("/proc/self/gid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		return 13;
	close(fd);
	if (getuid() != 0)
		return 14;
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	login("192.0.2.80");
	iov.iov_base = line_buf;
	iov.iov_len = strlen(line_buf);
	m.msg_name = &sun;
	m.msg_namelen = sizeof(sun);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl.b;
	m.msg_controllen = sizeof(ctl.b);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(cr));
	cr.pid = getpid();
	cr.uid = 0;
	cr.gid = 0;
	memcpy(CMSG_DATA(c), &cr, sizeof(cr));
	return sendmsg(s, &m, 0) < 0 ? 15 : 0;
}

/* nobody claiming uid 0 outright: the kernel refuses to send it. */
static int claim_root(void *arg)
{
	const char *path = arg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	union {
		char b[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;
	struct ucred cr = { .pid = getpid(), .uid = 0, .gid = 0 };
	struct iovec iov;
	struct msghdr m = { 0 };
	struct cmsghdr *c;
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);

	strcpy(sun.sun_path, path);
	login("192.0.2.81");
	iov.iov_base = line_buf;
	iov.iov_len = strlen(line_buf);
	m.msg_name = &sun;
	m.msg_namelen = sizeof(sun);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl.b;
	m.msg_controllen = sizeof(ctl.b);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_CREDENTIALS;
	c->cmsg_len = CMSG_LEN(sizeof(cr));
	memcpy(CMSG_DATA(c), &cr, sizeof(cr));
	if (sendmsg(s, &m, 0) == 0)
		return 0;
	return errno == EPERM ? 20 : 21;
}

static void test_socket_claims(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { .uids = "0" };
	struct loghook *h;
	char path[128];
	int r;

	snprintf(path, sizeof(path), "%s/claim.sock", dir);
	cfg.socket_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "socket source trusting uid 0");
	if (!h)
		return;
	chmod(path, 0666); /* a careless setup: the uid check alone decides */
	ngranted = 0;
	r = as_nobody(claim_root, path);
	T_EQ_INT(r, 20, "nobody claiming uid 0 in SCM_CREDENTIALS: EPERM");
	r = as_nobody(userns_send, path);
	if (r == 10) {
		printf("ok - # skip no unprivileged user namespaces here\n");
	} else {
		T_EQ_INT(r, 0, "nobody, uid 0 in its own user namespace, sends as \"uid 0\"");
	}
	run_for(l, 200);
	T_EQ_INT(count("192.0.2.80"), 0, "  that datagram grants nothing (arrives as nobody)");
	T_EQ_INT(count("192.0.2.81"), 0, "  nor does the refused one");
	loghook_free(h);
	run_for(l, 0);
	loop_free(l);
}

static int count_fds(void)
{
	char p[64];
	int n = 0;

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n += access(p, F_OK) == 0;
	}
	return n;
}

/* Descriptors passed in datagrams (SCM_RIGHTS) land in the receiver
 * when its control buffer has room: a sender (anyone, on a socket opened
 * to all) could fill dracd's descriptor table.  Ours has room for the
 * credentials only, so the kernel closes them. */
static void test_socket_fd_passing(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { .uids = "0" };
	struct loghook *h;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[128];
	int before, after, s, sent = 0;

	snprintf(path, sizeof(path), "%s/fds.sock", dir);
	cfg.socket_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "socket source for descriptor passing");
	if (!h)
		return;
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	run_for(l, 10);
	before = count_fds();
	for (int i = 0; i < 200; i++) {
		union {
			char b[CMSG_SPACE(3 * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		int fds[3] = { 0, 1, 2 };
		struct iovec iov = { (void *)"x", 1 };
		struct msghdr m = { .msg_name = &sun, .msg_namelen = sizeof(sun),
				    .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(c), fds, sizeof(fds));
		/* sender and receiver in one process: never block */
		run_for(l, 0);
		sent += sendmsg(s, &m, MSG_DONTWAIT) == 1;
	}
	run_for(l, 50);
	after = count_fds();
	T_EQ_INT(sent, 200, "200 datagrams carrying 3 descriptors each sent");
	T_OK(after <= before, "  no descriptor stays in the receiver (%d before, %d after)", before,
	     after);
	close(s);
	loghook_free(h);
	run_for(l, 0);
	loop_free(l);
}

static void test_trust_unit_alone(void)
{
	struct logtrust_journal j;
	char err[512];

	T_OK(logtrust_journal_parse("dovecot.service", &j, err, sizeof(err)) < 0,
	     "a unit alone is refused (%s)", err);
	T_OK(logtrust_journal_parse("dovecot", &j, err, sizeof(err)) < 0,
	     "a bare unit name alone is refused");
	T_OK(logtrust_journal_parse("_SYSTEMD_UNIT=dovecot.service _EXE=/usr/lib/dovecot/log",
				    &j, err, sizeof(err)) < 0,
	     "unit and executable without a uid are refused");
	T_OK(logtrust_journal_parse("_UID=0 + dovecot.service", &j, err, sizeof(err)) < 0,
	     "an alternative with a unit alone is refused");
	T_OK(logtrust_journal_parse("dovecot.service _UID=0", &j, err, sizeof(err)) == 0,
	     "unit and uid are accepted");
}

int main(void)
{
	log_init("test_loghook_attack", LOG_TO_STDERR, 0);
	snprintf(dir, sizeof(dir), "/tmp/drac-lhattack.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_trust_unit_alone();
	test_socket_fd_passing();
	if (getuid() != 0) {
		printf("ok - # skip the attacks by another user need root\n");
	} else {
		chmod(dir, 0711); /* nobody may reach the files, not list them */
		test_file_others_write("anyone may write (0666)", 0666, 0);
		test_file_others_write("owned by nobody (0644)", 0644, NOBODY);
		test_dir_symlink_replay();
		test_file_unreadable_then_readable();
		test_socket_claims();
	}
	rmdir(dir);
	return T_DONE();
}
