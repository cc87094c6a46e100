/* loghook.c - feed mail server log lines from a socket, a followed file,
 * the systemd journal or standard input to logpat_match() and grant what
 * it recognises */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "logpat.h"
#include "loghook.h"
#include "logtrust.h"

/* Bytes read from the file or stdin per loop turn: a big backlog must
 * not starve the other sources; the rest is read on the next turn. */
#define READ_BUDGET (256 * 1024)
#define POLL_MS 1000
/* How long a rotated-away file is still read for late writers. */
#define OLD_GRACE_MS 5000
#define SOCK_RCVBUF (1024 * 1024)
/* Bytes remembered to notice copytruncate even when the file grew past
 * our offset again before we looked: those just before the offset, and
 * the file's first ones, which an appended-to file never changes.  The
 * tail alone is not enough: a server writing the same kind of lines can
 * put the same text at the same place (seen with Dovecot's logouts). */
#define FP_LEN 256

/* A line being assembled from a byte stream. */
struct linebuf {
	char buf[LOGPAT_MAX_LINE];
	size_t len;
	int skipping; /* dropping bytes up to the next newline */
};

struct follow {
	int fd;
	int wd; /* inotify watch on the open file itself, or -1 */
	dev_t dev;
	ino_t ino;
	off_t off;
	char fp[FP_LEN]; /* the fp_len bytes before off */
	size_t fp_len;
	char head[FP_LEN]; /* the file's first head_len bytes */
	size_t head_len;
	int untrusted_logged;
	int at_eof; /* the last read found nothing more */
	struct linebuf lb;
};

struct loghook {
	struct loop *loop;
	grant_fn grant;
	void *grant_arg;
	struct loghook_stats st;

	int sock;
	char *sock_path;
	struct logtrust_uids uids;
	uint64_t sock_untrusted;

	struct journal *journal;

	char *path, *dir, *base;
	int ino_fd, ino_wd;
	struct follow cur, old;
	uint64_t old_since;
	struct loop_timer *poll, *kick;
	int file_missing_logged;
	uint64_t file_untrusted; /* lines of a file others could have written */
	uint64_t unopened_since; /* a file at the path we could not open, or 0 */

	int in_fd;
	int in_regular; /* a regular file on stdin: epoll cannot watch it */
	struct linebuf in_lb;
};

static void line_done(struct loghook *h, const char *p, size_t n)
{
	struct drac_addr a;
	const char *server;
	char buf[ADDR_STRLEN];

	if (n && p[n - 1] == '\r')
		n--;
	h->st.lines++;
	if (!logpat_match(p, n, &a, &server))
		return;
	h->st.matched++;
	if (h->grant(&a, SRC_LOGHOOK, h->grant_arg) == 0) {
		h->st.granted++;
		msg_debug("loghook: %s login from %s", server, addr_fmt(&a, buf, sizeof(buf)));
	} else {
		h->st.refused++;
		msg_debug("loghook: %s login from %s not granted", server,
			  addr_fmt(&a, buf, sizeof(buf)));
	}
}

static void journal_line(const char *p, size_t n, void *arg)
{
	struct loghook *h = arg;

	if (!p)
		h->st.overlong++;
	else
		line_done(h, p, n);
}

static void lb_reset(struct linebuf *lb, int skipping)
{
	lb->len = 0;
	lb->skipping = skipping;
}

static void lb_feed(struct loghook *h, struct linebuf *lb, const char *p, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t chunk = nl ? (size_t)(nl - p) : n;

		if (lb->skipping) {
			if (nl)
				lb->skipping = 0;
		} else if (lb->len + chunk > sizeof(lb->buf)) {
			h->st.overlong++;
			lb->len = 0;
			lb->skipping = !nl;
		} else if (nl && lb->len == 0) {
			line_done(h, p, chunk);
		} else {
			memcpy(lb->buf + lb->len, p, chunk);
			lb->len += chunk;
			if (nl) {
				line_done(h, lb->buf, lb->len);
				lb->len = 0;
			}
		}
		if (!nl)
			break;
		n -= chunk + 1;
		p = nl + 1;
	}
}

/* ---- datagram socket ---- */

/* The sender's uid as the kernel saw it (SCM_CREDENTIALS), or -1.
 * The control buffer has room for the credentials only, so descriptors
 * a sender passes (SCM_RIGHTS) are closed by the kernel; should one get
 * through all the same, it is closed here, or senders could fill our
 * descriptor table. */
static long msg_uid(struct msghdr *m)
{
	long uid = -1;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < n; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
			continue;
		}
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cr;

			memcpy(&cr, CMSG_DATA(c), sizeof(cr));
			uid = (long)cr.uid;
		}
	}
	return uid;
}

static void sock_ready(int fd, uint32_t events, void *arg)
{
	struct loghook *h = arg;
	char buf[LOGPAT_MAX_LINE + 2];
	union {
		char b[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} ctl;

	for (int i = 0; i < 256; i++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &m, MSG_TRUNC | MSG_CMSG_CLOEXEC);
		long uid;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				h->st.read_errors++;
				msg_warn("loghook: receive on %s: %s", h->sock_path, strerror(errno));
			}
			return;
		}
		/* Anyone allowed to write to the socket could claim any
		 * login: only the configured senders count.  A forwarder
		 * (rsyslog) is the sender of everything it forwards. */
		uid = msg_uid(&m);
		if (uid < 0 || !logtrust_uids_has(&h->uids, (uid_t)uid)) {
			h->sock_untrusted++;
			msg_debug("loghook: datagram from uid %ld ignored (not in DRAC_LOGHOOK_UIDS)",
				  uid);
			continue;
		}
		/* one datagram, one message: drop the sender's terminator */
		while (n > 0 && (size_t)n <= sizeof(buf) && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
			n--;
		if ((size_t)n > LOGPAT_MAX_LINE) {
			h->st.overlong++;
			continue;
		}
		if (n > 0)
			line_done(h, buf, (size_t)n);
	}
}

static int sock_open(struct loghook *h, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int rcv = SOCK_RCVBUF, one = 1;
	mode_t old;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		msg_err("loghook: socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			msg_err("loghook: %s exists and is not a socket", path);
			return -1;
		}
		unlink(path); /* stale, from an earlier run */
	}
	h->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->sock < 0) {
		msg_err("loghook: socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(h->sock, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* before bind: no datagram may arrive without its sender's uid */
	if (setsockopt(h->sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		msg_err("loghook: SO_PASSCRED on %s: %s", path, strerror(errno));
		return -1;
	}
	/* Only root and the group (the syslog daemon) may send: anyone
	 * who can write here can claim any login. */
	old = umask(0117);
	if (bind(h->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		msg_err("loghook: cannot bind %s: %s", path, strerror(errno));
		return -1;
	}
	umask(old);
	h->sock_path = strdup(path);
	if (!h->sock_path || loop_add_fd(h->loop, h->sock, EPOLLIN, sock_ready, h) < 0) {
		msg_err("loghook: cannot watch %s", path);
		return -1;
	}
	msg_info("loghook: reading log messages on %s", path);
	return 0;
}

/* ---- followed file ---- */

static void follow_close(struct loghook *h, struct follow *f)
{
	if (f->wd >= 0 && h->ino_fd >= 0)
		inotify_rm_watch(h->ino_fd, f->wd);
	f->wd = -1;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->fp_len = f->head_len = 0;
	lb_reset(&f->lb, 0);
}

/* Watch the open file itself, wherever it was renamed to: a writer that
 * has not reopened its log yet still appends to it.  /proc/self/fd
 * names exactly the inode we read. */
static void follow_watch(struct loghook *h, struct follow *f)
{
	char p[64];

	if (h->ino_fd < 0 || f->fd < 0)
		return;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", f->fd);
	f->wd = inotify_add_watch(h->ino_fd, p, IN_MODIFY);
	if (f->wd < 0)
		msg_debug("loghook: cannot watch %s itself (%s)", h->path, strerror(errno));
}

/* Remember the bytes just before the offset after reading buf[0..n)
 * at offset at, and the file's first bytes. */
static void fp_update(struct follow *f, off_t at, const char *buf, size_t n)
{
	if (at == (off_t)f->head_len && f->head_len < FP_LEN) {
		size_t k = FP_LEN - f->head_len < n ? FP_LEN - f->head_len : n;

		memcpy(f->head + f->head_len, buf, k);
		f->head_len += k;
	}
	if (n >= FP_LEN) {
		memcpy(f->fp, buf + n - FP_LEN, FP_LEN);
		f->fp_len = FP_LEN;
		return;
	}
	if (f->fp_len + n > FP_LEN) {
		size_t drop = f->fp_len + n - FP_LEN;

		memmove(f->fp, f->fp + drop, f->fp_len - drop);
		f->fp_len -= drop;
	}
	memcpy(f->fp + f->fp_len, buf, n);
	f->fp_len += n;
}

/* Was the file truncated (and perhaps written again) under us?  Its
 * size below our offset says so, and so do other bytes before it. */
static int follow_truncated(struct follow *f, const struct stat *st)
{
	char now[FP_LEN];

	if (st->st_size < f->off)
		return 1;
	if (f->head_len && (pread(f->fd, now, f->head_len, 0) != (ssize_t)f->head_len ||
			    memcmp(now, f->head, f->head_len) != 0))
		return 1;
	if (f->fp_len == 0 || f->off < (off_t)f->fp_len)
		return 0;
	return pread(f->fd, now, f->fp_len, f->off - (off_t)f->fp_len) != (ssize_t)f->fp_len ||
	       memcmp(now, f->fp, f->fp_len) != 0;
}

/* Could someone other than root, dracd's own user or a user of
 * DRAC_LOGHOOK_UIDS have written this file (or directory)?  Such a file
 * is only a message board: anyone who can write it, or put another file
 * (or a symlink to an old log) in its place, could claim any login. */
static int others_write(const struct loghook *h, const struct stat *st)
{
	return (st->st_mode & S_IWOTH) ||
	       (st->st_uid != 0 && st->st_uid != geteuid() &&
		!logtrust_uids_has(&h->uids, st->st_uid));
}

static int follow_trusted(struct loghook *h, struct follow *f, const struct stat *st)
{
	struct stat ds;
	const char *why = NULL;

	if (others_write(h, st))
		why = "the file";
	else if (stat(h->dir, &ds) < 0 || others_write(h, &ds))
		why = "its directory";
	if (!why) {
		f->untrusted_logged = 0;
		return 1;
	}
	if (!f->untrusted_logged)
		msg_err("loghook: %s: %s may be written by a user not in DRAC_LOGHOOK_UIDS "
			"(or by anyone): its lines are ignored", h->path, why);
	f->untrusted_logged = 1;
	return 0;
}

/* Read what was appended, up to *budget bytes. */
static void follow_drain(struct loghook *h, struct follow *f, size_t *budget)
{
	char buf[64 * 1024];
	struct stat st;
	int trusted = 1;

	if (f->fd < 0)
		return;
	if (fstat(f->fd, &st) < 0)
		st.st_size = -1;
	else
		trusted = follow_trusted(h, f, &st);
	if (st.st_size >= 0 && follow_truncated(f, &st)) {
		/* copytruncate: what was pending is gone with the old
		 * content; the file starts over, at a line's start */
		msg_info("loghook: %s was truncated, reading it from the start", h->path);
		h->st.rotations++;
		lseek(f->fd, 0, SEEK_SET);
		f->off = 0;
		f->fp_len = f->head_len = 0;
		lb_reset(&f->lb, 0);
	}
	while (*budget > 0) {
		size_t want = *budget < sizeof(buf) ? *budget : sizeof(buf);
		ssize_t n = read(f->fd, buf, want);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				h->st.read_errors++;
				msg_warn("loghook: read %s: %s", h->path, strerror(errno));
			}
			return;
		}
		f->at_eof = n == 0;
		if (n == 0)
			return;
		fp_update(f, f->off, buf, (size_t)n);
		f->off += n;
		*budget -= (size_t)n;
		if (trusted) {
			lb_feed(h, &f->lb, buf, (size_t)n);
		} else {
			/* read past, and never join a line begun here
			 * to what follows once it is trusted again */
			for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++)
				h->file_untrusted++;
			lb_reset(&f->lb, buf[n - 1] != '\n');
		}
	}
}

/* Open the file at the path; from_end: start at its end (start-up). */
static int follow_open(struct loghook *h, struct follow *f, int from_end)
{
	struct stat st;
	int fd = open(h->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = 0; /* not a regular file */
		return -1;
	}
	f->fd = fd;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->off = 0;
	f->fp_len = f->head_len = 0;
	lb_reset(&f->lb, 0);
	if (from_end && st.st_size > 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		size_t k = end < FP_LEN ? (size_t)end : FP_LEN;

		if (end > 0 && pread(fd, f->fp, k, end - (off_t)k) == (ssize_t)k &&
		    pread(fd, f->head, k, 0) == (ssize_t)k) {
			f->off = end;
			f->fp_len = f->head_len = k;
			/* Starting inside a line: its tail is not a line. */
			if (f->fp[k - 1] != '\n')
				f->lb.skipping = 1;
		} else {
			lseek(fd, 0, SEEK_SET);
		}
	}
	follow_watch(h, f);
	return 0;
}

static void file_poll(struct loghook *h)
{
	size_t budget = READ_BUDGET;
	struct stat st;

	follow_drain(h, &h->cur, &budget);
	if (h->old.fd >= 0) {
		follow_drain(h, &h->old, &budget);
		/* not before it is read to its end: a backlog left there
		 * (a burst, a busy loop) would be lost logins */
		if (loop_now() - h->old_since > OLD_GRACE_MS && h->old.at_eof)
			follow_close(h, &h->old);
	}
	if (stat(h->path, &st) == 0 &&
	    (h->cur.fd < 0 || st.st_ino != h->cur.ino || st.st_dev != h->cur.dev)) {
		struct follow nf = { .fd = -1, .wd = -1 };
		/* A file that was there but could not be opened for a while
		 * (e.g. made 0600 root after dracd dropped to DRAC_USER)
		 * holds logins of unknown age: reading it from its start
		 * once it opens would grant them long after their window.
		 * Only a file opened at once is read from its start. */
		int stale = h->unopened_since == 1 ||
			    (h->unopened_since && loop_now() - h->unopened_since > OLD_GRACE_MS);

		if (follow_open(h, &nf, stale) < 0) {
			if (!h->unopened_since) {
				msg_err("loghook: cannot open %s: %s", h->path,
					errno ? strerror(errno) : "not a regular file");
				h->unopened_since = loop_now();
			}
		} else {
			if (stale)
				msg_warn("loghook: %s opened at last: reading it from its end "
					 "(its earlier lines are of unknown age)", h->path);
			h->unopened_since = 0;

			if (h->cur.fd >= 0) {
				msg_info("loghook: %s was replaced, reading the new file from its %s",
					 h->path, stale ? "end" : "start");
				h->st.rotations++;
				follow_close(h, &h->old);
				h->old = h->cur;
				h->old_since = loop_now();
			} else {
				msg_info("loghook: %s appeared, reading it", h->path);
			}
			h->cur = nf;
			h->file_missing_logged = 0;
			follow_drain(h, &h->cur, &budget);
		}
	} else if (h->cur.fd < 0 && !h->file_missing_logged) {
		msg_warn("loghook: %s does not exist yet, waiting for it", h->path);
		h->file_missing_logged = 1;
	}
	if (budget == 0)
		loop_timer_after(h->kick, 0);
}

static void ino_watch(struct loghook *h)
{
	if (h->ino_fd < 0 || h->ino_wd >= 0)
		return;
	h->ino_wd = inotify_add_watch(h->ino_fd, h->dir,
				      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
				      IN_DELETE | IN_ATTRIB | IN_CLOSE_WRITE);
}

static void ino_ready(int fd, uint32_t events, void *arg)
{
	struct loghook *h = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int want = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED))
				want = 1;
			if ((ev->mask & IN_IGNORED) && ev->wd == h->ino_wd)
				h->ino_wd = -1; /* directory gone; re-added by the timer */
			/* Other files of the directory matter only while
			 * a rotated-away file is still being read. */
			if (ev->len == 0 || strcmp(ev->name, h->base) == 0 || h->old.fd >= 0)
				want = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (want)
		file_poll(h);
}

static void poll_tick(void *arg)
{
	struct loghook *h = arg;

	ino_watch(h);
	file_poll(h);
	loop_timer_after(h->poll, POLL_MS);
}

static int file_start(struct loghook *h, const char *path)
{
	char *slash;

	h->path = strdup(path);
	h->dir = strdup(path);
	if (!h->path || !h->dir)
		return -1;
	slash = strrchr(h->dir, '/');
	if (!slash) {
		free(h->dir);
		h->dir = strdup(".");
		h->base = h->path;
	} else {
		h->base = h->path + (slash - h->dir) + 1;
		if (slash == h->dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if (!h->dir || !*h->base) {
		msg_err("loghook: not a file name: %s", path);
		return -1;
	}
	h->poll = loop_timer_new(h->loop, poll_tick, h);
	if (!h->poll)
		return -1;
	h->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (h->ino_fd < 0 || loop_add_fd(h->loop, h->ino_fd, EPOLLIN, ino_ready, h) < 0) {
		msg_warn("loghook: no inotify (%s), checking %s every second",
			 strerror(errno), path);
		if (h->ino_fd >= 0)
			close(h->ino_fd);
		h->ino_fd = -1;
	}
	ino_watch(h);
	if (h->ino_fd >= 0 && h->ino_wd < 0)
		msg_warn("loghook: cannot watch %s (%s), checking every second", h->dir,
			 strerror(errno));
	if (follow_open(h, &h->cur, 1) == 0) {
		msg_info("loghook: following %s from its end", path);
	} else if (errno != ENOENT) {
		/* there, with history, but not for us yet: when it opens,
		 * it is read from its end like any file at start-up */
		msg_err("loghook: cannot open %s: %s", path,
			errno ? strerror(errno) : "not a regular file");
		h->unopened_since = 1; /* (1: since before we started) */
	} else {
		msg_warn("loghook: %s does not exist yet, waiting for it", path);
		h->file_missing_logged = 1;
	}
	loop_timer_after(h->poll, POLL_MS);
	return 0;
}

/* ---- standard input ---- */

static void in_close(struct loghook *h)
{
	if (h->in_fd < 0)
		return;
	if (!h->in_regular)
		loop_del_fd(h->loop, h->in_fd);
	h->in_fd = -1;
}

/* Returns 1 when more is waiting (budget used up). */
static int in_read(struct loghook *h)
{
	char buf[64 * 1024];
	size_t budget = READ_BUDGET;

	while (h->in_fd >= 0 && budget > 0) {
		ssize_t n = read(h->in_fd, buf, sizeof(buf) < budget ? sizeof(buf) : budget);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (n < 0) {
				h->st.read_errors++;
				msg_warn("loghook: read standard input: %s", strerror(errno));
			} else {
				msg_info("loghook: end of standard input");
			}
			/* a last line without its newline may be cut short */
			lb_reset(&h->in_lb, 0);
			in_close(h);
			return 0;
		}
		budget -= (size_t)n;
		lb_feed(h, &h->in_lb, buf, (size_t)n);
	}
	return h->in_fd >= 0;
}

static void in_ready(int fd, uint32_t events, void *arg)
{
	in_read(arg);
}

static void kick(void *arg)
{
	struct loghook *h = arg;

	if (h->in_regular && in_read(h))
		loop_timer_after(h->kick, 0);
	if (h->path)
		file_poll(h);
}

static int in_start(struct loghook *h)
{
	int fl;

	h->in_fd = STDIN_FILENO;
	fl = fcntl(h->in_fd, F_GETFL);
	if (fl < 0) {
		msg_err("loghook: standard input: %s", strerror(errno));
		h->in_fd = -1;
		return -1;
	}
	fcntl(h->in_fd, F_SETFL, fl | O_NONBLOCK);
	if (loop_add_fd(h->loop, h->in_fd, EPOLLIN, in_ready, h) < 0) {
		if (errno != EPERM) {
			msg_err("loghook: cannot watch standard input: %s", strerror(errno));
			h->in_fd = -1;
			return -1;
		}
		/* A regular file is always readable: read it in slices. */
		h->in_regular = 1;
		loop_timer_after(h->kick, 0);
	}
	msg_info("loghook: reading standard input");
	return 0;
}

struct loghook *loghook_new(struct loop *l, const struct loghook_config *cfg,
			    grant_fn grant, void *grant_arg)
{
	struct loghook *h;

	char err[256];

	if (!cfg->socket_path && !cfg->file_path && !cfg->use_stdin && !cfg->journal) {
		msg_err("loghook: no source configured (socket, file, journal or stdin)");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		msg_err("loghook: out of memory");
		return NULL;
	}
	h->loop = l;
	h->grant = grant;
	h->grant_arg = grant_arg;
	h->sock = h->ino_fd = h->ino_wd = h->in_fd = -1;
	h->cur.fd = h->old.fd = -1;
	h->cur.wd = h->old.wd = -1;
	if (logtrust_uids_parse(cfg->uids ? cfg->uids : LOGHOOK_UIDS_DEFAULT, &h->uids, err,
				sizeof(err)) < 0) {
		msg_err("loghook: DRAC_LOGHOOK_UIDS: %s", err);
		goto bad;
	}
	h->kick = loop_timer_new(l, kick, h);
	if (!h->kick)
		goto bad;
	if (cfg->socket_path && sock_open(h, cfg->socket_path) < 0)
		goto bad;
	if (cfg->file_path && file_start(h, cfg->file_path) < 0)
		goto bad;
	if (cfg->use_stdin && in_start(h) < 0)
		goto bad;
	if (cfg->journal) {
		struct logtrust_journal m;

		if (logtrust_journal_parse(cfg->journal, &m, err, sizeof(err)) < 0) {
			msg_err("loghook: DRAC_LOGHOOK_JOURNAL: %s", err);
			goto bad;
		}
		if (!(h->journal = journal_open(l, &m, journal_line, h)))
			goto bad;
		msg_info("loghook: following the systemd journal for %s", cfg->journal);
	}
	return h;
bad:
	loghook_free(h);
	return NULL;
}

void loghook_free(struct loghook *h)
{
	if (!h)
		return;
	if (h->sock >= 0) {
		loop_del_fd(h->loop, h->sock);
		close(h->sock);
		if (h->sock_path)
			unlink(h->sock_path);
	}
	free(h->sock_path);
	journal_close(h->journal);
	follow_close(h, &h->cur);
	follow_close(h, &h->old);
	if (h->ino_fd >= 0) {
		loop_del_fd(h->loop, h->ino_fd);
		close(h->ino_fd);
	}
	loop_timer_free(h->poll);
	loop_timer_free(h->kick);
	in_close(h);
	free(h->path);
	free(h->dir);
	free(h);
}

const struct loghook_stats *loghook_stats(const struct loghook *h)
{
	/* counters kept elsewhere are gathered when asked for */
	struct loghook *w = (struct loghook *)h;

	w->st.untrusted = h->sock_untrusted + h->file_untrusted;
	if (h->journal) {
		w->st.journal_entries = journal_stats(h->journal)->entries;
		w->st.untrusted += journal_stats(h->journal)->untrusted;
	}
	return &h->st;
}
