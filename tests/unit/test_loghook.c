/* test_loghook.c - the log hook's sources in a real event loop: datagram
 * socket, followed file (rename and truncate rotation), stdin. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loghook.h"
#include "logtrust.h"
#include "loop.h"
#include "t.h"

#define MAXG 256
static char granted[MAXG][ADDR_STRLEN];
static int ngranted;

static int grant_cb(const struct drac_addr *a, enum grant_source src, void *arg)
{
	char buf[ADDR_STRLEN];

	addr_fmt(a, buf, sizeof(buf));
	if (src != SRC_LOGHOOK)
		return -1;
	if (addr_is_loopback(a))
		return -1; /* as the daemon refuses it */
	if (ngranted < MAXG)
		strcpy(granted[ngranted++], buf);
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

/* loop_del_fd() parks entries until the next loop turn; give it one
 * before loop_free() so leak checkers stay quiet. */
static void reap(struct loop *l)
{
	run_for(l, 0);
}

static char line_buf[300];

static const char *login(const char *addr)
{
	snprintf(line_buf, sizeof(line_buf),
		 "Nov 27 21:00:00 mx dovecot[1]: pop3-login: Login: user=<u>, method=PLAIN, "
		 "rip=%s, lip=192.0.2.1, mpid=9, TLS, session=<s>", addr);
	return line_buf;
}

static void append(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		perror(path);
	close(fd);
}

static void append_line(const char *path, const char *s)
{
	append(path, s);
	append(path, "\n");
}

static char dir[64];

static void test_socket(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { 0 };
	struct loghook *h;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[128], big[9000], msg[1024];
	struct stat st;
	int c, s;

	snprintf(path, sizeof(path), "%s/log.sock", dir);
	cfg.socket_path = path;
	cfg.uids = getuid() == 0 ? "0" : "0 65534"; /* also when not run as root */

	/* a regular file in the way is not removed */
	append(path, "x");
	T_OK(loghook_new(l, &cfg, grant_cb, NULL) == NULL, "regular file at socket path: refused");
	T_OK(stat(path, &st) == 0 && S_ISREG(st.st_mode), "  and left in place");
	unlink(path);

	/* a stale socket from an earlier run is replaced */
	strcpy(sun.sun_path, path);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	T_OK(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0, "stale socket made");
	close(s);
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "socket source starts over a stale socket");
	if (!h)
		return;
	T_OK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0660,
	     "socket mode 0660 (%o)", st.st_mode & 0777);

	c = socket(AF_UNIX, SOCK_DGRAM, 0);
	ngranted = 0;
	snprintf(msg, sizeof(msg), "<22>%s\n", login("192.0.2.7"));
	sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof(sun));
	snprintf(msg, sizeof(msg), "%s", login("2001:db8::7")); /* no newline */
	sendto(c, msg, strlen(msg) + 1, 0, (struct sockaddr *)&sun, sizeof(sun)); /* with NUL */
	snprintf(msg, sizeof(msg), "<22>1 2026-11-27T21:00:00Z mx dovecot 1 - - imap-login: Login: user=<u>, method=PLAIN, rip=::ffff:192.0.2.8, lip=192.0.2.1");
	sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof(sun));
	/* a newline inside a datagram does not start a second line */
	snprintf(msg, sizeof(msg), "<22>Nov 27 21:00:00 mx imapd[1]: Login failed user=x\n%s", login("192.0.2.66"));
	sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof(sun));
	snprintf(msg, sizeof(msg), "<22>%s\n%s\n", login("192.0.2.67"), login("192.0.2.68"));
	sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof(sun));
	/* too long */
	memset(big, 'a', sizeof(big));
	sendto(c, big, sizeof(big), 0, (struct sockaddr *)&sun, sizeof(sun));
	/* loopback: recognised but refused by the grant function */
	snprintf(msg, sizeof(msg), "%s", login("127.0.0.1"));
	sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof(sun));
	sendto(c, "hello", 5, 0, (struct sockaddr *)&sun, sizeof(sun));
	/* syslog(3) and logger(1) to a local socket: no host name */
	snprintf(msg, sizeof(msg), "<13>Nov 27 21:45:27 dovecot[7]: imap-login: Login: user=<u>, method=PLAIN, rip=192.0.2.9, lip=192.0.2.1");
	sendto(c, msg, strlen(msg), 0, (struct sockaddr *)&sun, sizeof(sun));
	run_for(l, 100);

	const struct loghook_stats *stt = loghook_stats(h);

	T_EQ_INT(count("192.0.2.7"), 1, "datagram with <PRI> and newline granted once");
	T_EQ_INT(count("2001:db8::7"), 1, "datagram with trailing NUL, IPv6");
	T_EQ_INT(count("192.0.2.8"), 1, "RFC 5424 datagram, mapped address unmapped");
	T_EQ_INT(count("192.0.2.66") + count("192.0.2.67") + count("192.0.2.68"), 0,
		 "embedded newlines never grant");
	T_EQ_INT(count("192.0.2.9"), 1, "syslog(3) format without host name");
	T_EQ_INT(ngranted, 4, "nothing else granted");
	T_EQ_INT(stt->lines, 8, "lines counted");
	T_EQ_INT(stt->matched, 5, "matched counted");
	T_EQ_INT(stt->granted, 4, "granted counted");
	T_EQ_INT(stt->refused, 1, "refused counted");
	T_EQ_INT(stt->overlong, 1, "overlong datagram counted");
	close(c);
	loghook_free(h);
	T_OK(access(path, F_OK) < 0, "socket removed on free");
	reap(l);
	loop_free(l);
}

static void test_file(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { 0 };
	struct loghook *h;
	char path[128], path1[128], path2[128], big[10001];
	const struct loghook_stats *st;
	int fd;

	snprintf(path, sizeof(path), "%s/mail.log", dir);
	snprintf(path1, sizeof(path1), "%s/mail.log.1", dir);
	snprintf(path2, sizeof(path2), "%s/mail.log.2", dir);
	cfg.file_path = path;

	/* history, ending inside a line */
	append_line(path, login("192.0.2.1"));
	append(path, "Nov 27 21:00:00 mx dovecot[1]: pop3-login: Login: user=<u>, method=PLAIN, rip=192.0.2.");
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "file source starts");
	if (!h)
		return;
	st = loghook_stats(h);
	ngranted = 0;
	run_for(l, 50);
	T_EQ_INT(ngranted, 0, "history is not replayed");

	/* the tail of the line we started inside is not a line of its own */
	append(path, "2, lip=192.0.2.1\n");
	append_line(path, login("192.0.2.3"));
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.2"), 0, "line started before we did: dropped");
	T_EQ_INT(count("192.0.2.3"), 1, "appended line granted");

	/* a line written in pieces waits for its newline */
	append(path, login("192.0.2.4"));
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.4"), 0, "partial line waits");
	append(path, "\n");
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.4"), 1, "completed line granted once");

	/* overlong line, then resynchronise at the next newline */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	append(path, big);
	run_for(l, 50);
	append(path, big);
	append(path, login("192.0.2.66"));
	append(path, "\n");
	append_line(path, login("192.0.2.5"));
	run_for(l, 100);
	T_EQ_INT(st->overlong, 1, "overlong line counted once");
	T_EQ_INT(count("192.0.2.66"), 0, "tail of an overlong line never grants");
	T_EQ_INT(count("192.0.2.5"), 1, "next line after an overlong one granted");

	/* rotation by rename: old file drained, new file from its start,
	 * late writes to the old file still read */
	append_line(path, login("192.0.2.10"));
	T_OK(rename(path, path1) == 0, "rename mail.log -> mail.log.1");
	append_line(path1, login("192.0.2.11")); /* writer not reopened yet */
	append_line(path, login("192.0.2.12"));  /* new file */
	run_for(l, 100);
	append_line(path1, login("192.0.2.13")); /* very late writer */
	append_line(path, login("192.0.2.14"));
	run_for(l, 100);
	T_EQ_INT(st->rotations, 1, "rename rotation counted");
	T_EQ_INT(count("192.0.2.10"), 1, "last line of the old file: once");
	T_EQ_INT(count("192.0.2.11"), 1, "line written to the old file after rename: once");
	T_EQ_INT(count("192.0.2.12"), 1, "first line of the new file: once");
	T_EQ_INT(count("192.0.2.13"), 1, "late write to the rotated file: once");
	T_EQ_INT(count("192.0.2.14"), 1, "next line of the new file: once");

	/* a second rotation, with the new file created only later */
	T_OK(rename(path, path2) == 0, "rename mail.log -> mail.log.2");
	append_line(path2, login("192.0.2.15"));
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.15"), 1, "file gone: still reading the renamed one");
	append_line(path, login("192.0.2.16"));
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.16"), 1, "new file appears: read from its start");
	T_EQ_INT(st->rotations, 2, "second rotation counted");

	/* copytruncate: truncated, then written again */
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	run_for(l, 100);
	append_line(path, login("192.0.2.17"));
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.17"), 1, "line after truncation: once");
	T_EQ_INT(st->rotations, 3, "truncation counted");
	/* truncated and refilled (shorter) before we looked */
	append_line(path, login("192.0.2.18"));
	append_line(path, login("192.0.2.19"));
	run_for(l, 100);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (write(fd, login("192.0.2.20"), strlen(line_buf)) < 0 || write(fd, "\n", 1) < 0)
		perror("write");
	close(fd);
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.20"), 1, "line written right after truncation: once");
	T_EQ_INT(st->rotations, 4, "second truncation counted");

	/* nothing was granted twice, nothing else was granted */
	{
		int dup = 0;

		for (int i = 0; i < ngranted; i++)
			dup += count(granted[i]) != 1;
		T_EQ_INT(dup, 0, "no line granted twice");
	}
	T_EQ_INT(ngranted, 14, "14 grants in all");
	T_EQ_INT(st->read_errors, 0, "no read errors");
	loghook_free(h);
	reap(l);
	loop_free(l);
	unlink(path);
	unlink(path1);
	unlink(path2);
}

static void test_file_appears(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { 0 };
	struct loghook *h;
	char path[128];

	snprintf(path, sizeof(path), "%s/later.log", dir);
	cfg.file_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "file source starts before the file exists");
	if (!h)
		return;
	ngranted = 0;
	run_for(l, 50);
	append_line(path, login("192.0.2.30"));
	append_line(path, login("192.0.2.31"));
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.30") + count("192.0.2.31"), 2,
		 "file created later: read from its start");
	loghook_free(h);
	reap(l);
	loop_free(l);
	unlink(path);
}

static void test_stdin(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { .use_stdin = 1 };
	struct loghook *h;
	char path[128];
	int p[2], saved = dup(0), fd;

	/* a pipe, as from journalctl -f */
	if (pipe(p) < 0)
		return;
	dup2(p[0], 0);
	close(p[0]);
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "stdin source starts (pipe)");
	if (!h)
		return;
	ngranted = 0;
	if (write(p[1], login("192.0.2.40"), strlen(line_buf)) < 0 || write(p[1], "\n", 1) < 0)
		perror("write");
	run_for(l, 50);
	T_EQ_INT(count("192.0.2.40"), 1, "line from a pipe granted");
	/* last line without newline at EOF: may be cut short, dropped */
	if (write(p[1], login("192.0.2.41"), strlen(line_buf)) < 0)
		perror("write");
	close(p[1]);
	run_for(l, 50);
	T_EQ_INT(count("192.0.2.41"), 0, "partial line at end of input dropped");
	loghook_free(h);
	reap(l);
	loop_free(l);

	/* a regular file on stdin (epoll cannot watch one) */
	snprintf(path, sizeof(path), "%s/stdin.log", dir);
	{
		/* more than one read budget of filler, then a login */
		char filler[1001];

		memset(filler, 'f', sizeof(filler) - 1);
		filler[sizeof(filler) - 1] = '\0';
		for (int i = 0; i < 400; i++)
			append_line(path, filler);
		append_line(path, login("192.0.2.43"));
	}
	fd = open(path, O_RDONLY);
	dup2(fd, 0);
	close(fd);
	l = loop_new();
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "stdin source starts (regular file)");
	ngranted = 0;
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.43"), 1, "regular file on stdin read to its end");
	T_EQ_INT(loghook_stats(h)->lines, 401, "all its lines");
	loghook_free(h);
	reap(l);
	loop_free(l);
	unlink(path);
	dup2(saved, 0);
	close(saved);
}

/* A datagram from a uid not in DRAC_LOGHOOK_UIDS grants nothing and is
 * counted; one from an allowed uid still grants. */
static void test_socket_uids(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { .uids = "0" };
	struct loghook *h;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char path[128];
	pid_t pid;
	int st = 0;

	if (getuid() != 0) {
		printf("ok - # skip untrusted sender test needs root\n");
		loop_free(l);
		return;
	}
	snprintf(path, sizeof(path), "%s/uid.sock", dir);
	cfg.socket_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "socket source with DRAC_LOGHOOK_UIDS=0");
	if (!h)
		return;
	/* let nobody reach it: the uid check must stop it */
	chmod(dir, 0711);
	chmod(path, 0666);
	strcpy(sun.sun_path, path);
	ngranted = 0;
	pid = fork();
	if (pid == 0) {
		int c;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		c = socket(AF_UNIX, SOCK_DGRAM, 0);
		login("192.0.2.50");
		_exit(sendto(c, line_buf, strlen(line_buf), 0, (struct sockaddr *)&sun,
			     sizeof(sun)) < 0 ? 3 : 0);
	}
	waitpid(pid, &st, 0);
	chmod(dir, 0700);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nobody (uid 65534) sent a login datagram");
	{
		int c = socket(AF_UNIX, SOCK_DGRAM, 0);

		login("192.0.2.51");
		sendto(c, line_buf, strlen(line_buf), 0, (struct sockaddr *)&sun, sizeof(sun));
		close(c);
	}
	run_for(l, 100);
	T_EQ_INT(count("192.0.2.50"), 0, "datagram from uid 65534 grants nothing");
	T_EQ_INT(count("192.0.2.51"), 1, "datagram from uid 0 grants");
	T_EQ_INT(loghook_stats(h)->untrusted, 1, "untrusted datagram counted");
	T_EQ_INT(loghook_stats(h)->lines, 1, "  and never parsed");
	loghook_free(h);
	reap(l);
	loop_free(l);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void until_granted_cb(void *arg)
{
	loop_stop(arg);
}

/* Run the loop until addr is granted or ms pass; the time it took. */
static uint64_t time_to_grant(struct loop *l, const char *addr, unsigned ms)
{
	uint64_t t0 = now_ms();
	struct loop_timer *t = loop_timer_new(l, until_granted_cb, l);

	while (!count(addr) && now_ms() - t0 < ms) {
		loop_timer_after(t, 5);
		loop_run(l);
	}
	loop_timer_free(t);
	return now_ms() - t0;
}

/* Issue 13: a line appended to the renamed file before the writer
 * reopened its log is read at once (inotify on the open file), not on
 * the next 1 s stat poll; copytruncate followed by growth past our
 * offset is noticed, and reading restarts at a line's start. */
static void test_file_rotation_fast(void)
{
	struct loop *l = loop_new();
	struct loghook_config cfg = { 0 };
	struct loghook *h;
	char path[128], path1[128], other[128], pad[200];
	uint64_t ms;
	int fd;

	snprintf(path, sizeof(path), "%s/fast.log", dir);
	snprintf(path1, sizeof(path1), "%s/fast.log.1", dir);
	snprintf(other, sizeof(other), "%s/rotated", dir);
	mkdir(other, 0700);
	append_line(path, login("192.0.2.1"));
	cfg.file_path = path;
	h = loghook_new(l, &cfg, grant_cb, NULL);
	T_OK(h != NULL, "file source starts");
	if (!h)
		return;
	ngranted = 0;
	run_for(l, 20);
	/* let the 1 s poll run once, so the next one is a full second off */
	run_for(l, 1050);

	T_OK(rename(path, path1) == 0, "rename fast.log -> fast.log.1, no new file yet");
	run_for(l, 20);
	append_line(path1, login("192.0.2.60"));
	ms = time_to_grant(l, "192.0.2.60", 900);
	T_OK(count("192.0.2.60") == 1 && ms < 500,
	     "line appended to the renamed file granted in %llu ms (< 500)", (unsigned long long)ms);

	/* renamed into another directory: the directory watch sees nothing */
	snprintf(pad, sizeof(pad), "%s/fast.log.1", other);
	T_OK(rename(path1, pad) == 0, "moved to another directory");
	run_for(l, 20);
	append_line(pad, login("192.0.2.61"));
	ms = time_to_grant(l, "192.0.2.61", 900);
	T_OK(count("192.0.2.61") == 1 && ms < 500,
	     "line appended to the file in another directory granted in %llu ms (< 500)",
	     (unsigned long long)ms);
	unlink(pad);

	/* the writer reopens: a new file at the path */
	append_line(path, login("192.0.2.62"));
	ms = time_to_grant(l, "192.0.2.62", 2000);
	T_EQ_INT(count("192.0.2.62"), 1, "new file read from its start");

	/* copytruncate, then the file grows past our old offset before we
	 * look: the stat poll alone cannot tell, the fingerprint can */
	append_line(path, login("192.0.2.63"));
	time_to_grant(l, "192.0.2.63", 500);
	{
		off_t before;
		struct stat st;
		char buf[4096];
		size_t n = 0;

		stat(path, &st);
		before = st.st_size;
		/* one write, so dracd sees truncation and regrowth at once:
		 * filler lines, the login, then a line that straddles the
		 * old offset and would grant 192.0.2.66 from its middle */
		fd = open(path, O_WRONLY | O_TRUNC);
		memset(pad, 'p', 60);
		pad[60] = '\0';
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", login("192.0.2.64"));
		/* 88-byte filler lines up to 25..112 bytes before the old offset */
		while ((off_t)n + 88 <= before - 25)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "Nov 27 21:00:00 mx filler: %s\n", pad);
		/* a 25-byte head and x's, so the old offset falls exactly on
		 * the start of a login text inside this line */
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Nov 27 21:00:00 mx junk: ");
		while ((off_t)n < before)
			buf[n++] = 'x';
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", login("192.0.2.66"));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\n", login("192.0.2.65"));
		T_OK(write(fd, buf, n) == (ssize_t)n && (off_t)n > before,
		     "truncated and regrown past the old offset (%lld > %lld) in one write",
		     (long long)n, (long long)before);
		close(fd);
	}
	time_to_grant(l, "192.0.2.65", 2000);
	T_EQ_INT(count("192.0.2.64"), 1, "login line between truncation and old offset granted");
	T_EQ_INT(count("192.0.2.65"), 1, "login line after the old offset granted");
	T_EQ_INT(count("192.0.2.66"), 0, "no grant from the middle of a line");

	/* truncated and rewritten with the same tail bytes as before (a
	 * server repeating the same lines): only the head tells */
	{
		char filler[400] = "";

		for (int i = 0; i < 5; i++)
			strcat(filler, "Nov 27 21:00:00 mx dovecot: imap(u): Logged out in=0 out=0\n");
		char dull[300];
		size_t len = strlen(login("192.0.2.67"));

		/* first: a line of no interest as long as the login line */
		memset(dull, '.', len);
		memcpy(dull, "Nov 27 21:00:00 mx other: ", 26);
		dull[len] = '\n';
		fd = open(path, O_WRONLY | O_TRUNC);
		if (write(fd, dull, len + 1) < 0 || write(fd, filler, strlen(filler)) < 0)
			perror("write");
		close(fd);
		run_for(l, 100);
		/* then, unseen: the login line in its place, the same filler */
		fd = open(path, O_WRONLY | O_TRUNC);
		login("192.0.2.67");
		if (write(fd, line_buf, len) < 0 || write(fd, "\n", 1) < 0 ||
		    write(fd, filler, strlen(filler)) < 0)
			perror("write");
		close(fd);
		append_line(path, login("192.0.2.68"));
	}
	time_to_grant(l, "192.0.2.68", 2000);
	T_EQ_INT(count("192.0.2.67"), 1, "same tail bytes after truncation: the login in between granted");
	T_EQ_INT(count("192.0.2.68"), 1, "  and the line after it");
	T_EQ_INT(loghook_stats(h)->rotations, 4, "  and the truncation noticed (by the head)");
	{
		int dup = 0;

		for (int i = 0; i < ngranted; i++)
			dup += count(granted[i]) != 1;
		T_EQ_INT(dup, 0, "no line granted twice");
	}
	loghook_free(h);
	reap(l);
	loop_free(l);
	unlink(path);
	unlink(path1);
	rmdir(other);
}

static void test_trust_parse(void)
{
	struct logtrust_journal j;
	struct logtrust_uids u;
	char err[256];

	T_OK(logtrust_journal_parse("dovecot _UID=0", &j, err, sizeof(err)) == 0 && j.n == 2 &&
	     !strcmp(j.t[0].field, "_SYSTEMD_UNIT") && !strcmp(j.t[0].value, "dovecot.service"),
	     "bare unit name: _SYSTEMD_UNIT=dovecot.service");
	T_OK(logtrust_journal_parse("_EXE=/usr/lib/dovecot/log _UID=0 + courier-imap.service _UID=0", &j,
				    err, sizeof(err)) == 0 && j.n == 4 && j.alts == 2,
	     "two alternatives");
	T_OK(logtrust_journal_parse("_EXE=/usr/lib/dovecot/log", &j, err, sizeof(err)) < 0,
	     "_EXE alone refused (%s)", err);
	T_OK(logtrust_journal_parse("_COMM=log _GID=0", &j, err, sizeof(err)) < 0,
	     "_COMM and _GID without unit or uid refused");
	T_OK(logtrust_journal_parse("SYSLOG_IDENTIFIER=dovecot _UID=0", &j, err, sizeof(err)) < 0,
	     "a sender-set field refused (%s)", err);
	T_OK(logtrust_journal_parse("_UID=root", &j, err, sizeof(err)) < 0, "_UID must be a number");
	T_OK(logtrust_journal_parse("_UID=0 + ", &j, err, sizeof(err)) < 0, "empty alternative");
	T_OK(logtrust_journal_parse("", &j, err, sizeof(err)) < 0, "empty match");
	T_OK(logtrust_uids_parse("0, 65534 root", &u, err, sizeof(err)) == 0 && u.n == 3 &&
	     logtrust_uids_has(&u, 65534) && !logtrust_uids_has(&u, 1), "uid list");
	T_OK(logtrust_uids_parse("4294967295", &u, err, sizeof(err)) < 0, "uid -1 refused");
	T_OK(logtrust_uids_parse("no-such-user-x", &u, err, sizeof(err)) < 0, "unknown user refused");
}

int main(void)
{
	struct loop *l = loop_new();
	struct loghook_config none = { 0 };

	log_init("test_loghook", LOG_TO_STDERR, 0);
	snprintf(dir, sizeof(dir), "/tmp/drac-loghook.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	T_OK(loghook_new(l, &none, grant_cb, NULL) == NULL, "no source: refused");
	loop_free(l);
	test_socket();
	test_file();
	test_file_appears();
	test_stdin();
	test_socket_uids();
	test_file_rotation_fast();
	test_trust_parse();
	rmdir(dir);
	return T_DONE();
}
