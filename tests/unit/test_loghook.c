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
#include <unistd.h>

#include "log.h"
#include "loghook.h"
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
	rmdir(dir);
	return T_DONE();
}
