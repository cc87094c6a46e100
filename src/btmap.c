/* btmap.c - write and read Postfix btree maps with libdb5.3 */
#include <db.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btmap.h"

/* Enough for one libdb page set in memory while a big map is written in
 * key order; the finished pages to the left are written out as we go. */
#define BTMAP_CACHE (8u << 20)

struct btmap {
	DB *db;
};

static char bt_err[256];
static bool bt_fsync_on = true;
/* The first failed system call inside libdb during the current call:
 * libdb's own text for a full disk is about the file's format. */
static int bt_io_errno;

static void bt_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	/* The first message names the cause; later ones are consequences. */
	if (!bt_err[0])
		snprintf(bt_err, sizeof(bt_err), "%s", msg);
}

static void bt_fail(int ret)
{
	/* The system's reason (ENOSPC, EDQUOT, EIO) names the cause. */
	if (bt_io_errno)
		snprintf(bt_err, sizeof(bt_err), "%s", strerror(bt_io_errno));
	else if (!bt_err[0])
		snprintf(bt_err, sizeof(bt_err), "%s", db_strerror(ret));
}

static void bt_reset(void)
{
	bt_err[0] = '\0';
	bt_io_errno = 0;
}

static void bt_syserr(const char *what)
{
	snprintf(bt_err, sizeof(bt_err), "%s: %s", what, strerror(errno));
}

const char *btmap_error(void)
{
	return bt_err[0] ? bt_err : "unknown error";
}

static void bt_io_note(long r)
{
	if (r < 0 && !bt_io_errno)
		bt_io_errno = errno;
}

static int bt_fsync(int fd)
{
	int r = bt_fsync_on ? fdatasync(fd) : 0;

	bt_io_note(r);
	return r;
}

static ssize_t bt_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r = pwrite(fd, buf, n, off);

	bt_io_note(r);
	return r;
}

static ssize_t bt_write(int fd, const void *buf, size_t n)
{
	ssize_t r = write(fd, buf, n);

	bt_io_note(r);
	return r;
}

static int bt_ftruncate(int fd, off_t len)
{
	int r = ftruncate(fd, len);

	bt_io_note(r);
	return r;
}

static int bt_openf(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	fd = open(path, flags, mode);
	/* libdb probes for files that need not exist. */
	if (fd < 0 && errno != ENOENT)
		bt_io_note(fd);
	return fd;
}

/* libdb does its writes through these process-wide hooks, so a failure
 * is reported with the system's errno, not a libdb consequence. */
static void bt_hook(void)
{
	static bool hooked;

	if (hooked)
		return;
	db_env_set_func_fsync(bt_fsync);
	db_env_set_func_pwrite(bt_pwrite);
	db_env_set_func_write(bt_write);
	db_env_set_func_ftruncate(bt_ftruncate);
	db_env_set_func_open(bt_openf);
	hooked = true;
}

void btmap_set_fsync(bool on)
{
	bt_hook();
	bt_fsync_on = on;
}

int btmap_errno(void)
{
	return bt_io_errno;
}

static DB *bt_handle(void)
{
	DB *db;
	int ret;

	bt_hook();
	ret = db_create(&db, NULL, 0);

	if (ret) {
		bt_fail(ret);
		return NULL;
	}
	db->set_errcall(db, bt_errcall);
	return db;
}

static struct btmap *bt_open(const char *path, u_int32_t flags)
{
	struct btmap *b = calloc(1, sizeof(*b));
	int ret;

	if (!b) {
		bt_syserr("calloc");
		return NULL;
	}
	if (!(b->db = bt_handle()))
		goto bad;
	if ((ret = b->db->set_cachesize(b->db, 0, BTMAP_CACHE, 1))) {
		bt_fail(ret);
		goto bad;
	}
	ret = b->db->open(b->db, NULL, path, NULL, DB_BTREE, flags, 0644);
	if (ret) {
		bt_fail(ret);
		goto bad;
	}
	bt_reset();
	return b;
bad:
	if (b->db)
		b->db->close(b->db, DB_NOSYNC);
	free(b);
	return NULL;
}

struct btmap *btmap_create(const char *path)
{
	struct btmap *b;
	int fd;

	bt_reset();
	/* Our own O_EXCL file, so nothing planted at that name is used; libdb
	 * treats the empty file as a new database and writes into it (it
	 * says "unexpected file type or format" while doing so: ignored). */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		bt_syserr(path);
		return NULL;
	}
	if (fchmod(fd, 0644) < 0) {
		bt_syserr(path);
		close(fd);
		unlink(path);
		return NULL;
	}
	close(fd);
	b = bt_open(path, DB_CREATE);
	if (!b)
		unlink(path);
	return b;
}

struct btmap *btmap_open(const char *path)
{
	bt_reset();
	return bt_open(path, 0);
}

int btmap_put(struct btmap *b, const char *key, const char *value)
{
	return btmap_put_n(b, key, strlen(key), value, strlen(value));
}

int btmap_put_n(struct btmap *b, const char *key, size_t klen, const char *value,
		size_t vlen)
{
	DBT k = { .data = (void *)key, .size = klen + 1 };
	DBT v = { .data = (void *)value, .size = vlen + 1 };
	int ret;

	bt_reset();
	ret = b->db->put(b->db, NULL, &k, &v, 0);
	if (ret) {
		bt_fail(ret);
		return -1;
	}
	return 0;
}

int btmap_del(struct btmap *b, const char *key)
{
	DBT k = { .data = (void *)key, .size = strlen(key) + 1 };
	int ret;

	bt_reset();
	ret = b->db->del(b->db, NULL, &k, 0);
	if (ret == DB_NOTFOUND)
		return 0;
	if (ret) {
		bt_fail(ret);
		return -1;
	}
	return 1;
}

int btmap_close(struct btmap *b)
{
	int ret;

	bt_reset();
	ret = b->db->close(b->db, 0);
	free(b);
	if (ret) {
		bt_fail(ret);
		return -1;
	}
	return 0;
}

void btmap_abort(struct btmap *b)
{
	if (!b)
		return;
	b->db->close(b->db, DB_NOSYNC);
	free(b);
}

static int bt_exists(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		bt_syserr(path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(bt_err, sizeof(bt_err), "%s: not a regular file", path);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The cheap first look, for a log line that says what is wrong: libdb's
 * own message for a foreign file is about encryption keys. */
static int bt_magic(const char *path)
{
	unsigned char meta[16];
	uint32_t magic;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		bt_syserr(path);
		return -1;
	}
	n = pread(fd, meta, sizeof(meta), 0);
	close(fd);
	if (n < (ssize_t)sizeof(meta)) {
		snprintf(bt_err, sizeof(bt_err), "%s", n < 0 ? strerror(errno) :
			 n == 0 ? "empty file" : "too short for a Berkeley DB file");
		return -1;
	}
	memcpy(&magic, meta + 12, 4);
	if (magic != DB_BTREEMAGIC && __builtin_bswap32(magic) != DB_BTREEMAGIC) {
		snprintf(bt_err, sizeof(bt_err), "not a Berkeley DB btree file");
		return -1;
	}
	return 0;
}

long btmap_walk(const char *path, bool verify, btmap_walk_fn fn, void *arg)
{
	struct btmap *b;
	DBC *cur = NULL;
	DBT k, v;
	long n = 0;
	int ret;

	bt_reset();
	if (bt_exists(path) < 0)
		return -1;
	if (bt_magic(path) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (verify) {
		DB *db = bt_handle();

		if (!db)
			return -1;
		/* DB->verify always destroys the handle. */
		ret = db->verify(db, path, NULL, NULL, 0);
		if (ret) {
			bt_fail(ret);
			errno = EINVAL;
			return -1;
		}
	}
	if (!(b = bt_open(path, DB_RDONLY))) {
		errno = EINVAL;
		return -1;
	}
	if ((ret = b->db->cursor(b->db, NULL, &cur, 0))) {
		bt_fail(ret);
		goto bad;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((ret = cur->get(cur, &k, &v, DB_NEXT)) == 0) {
		int r = fn(k.data, k.size, v.data, v.size, arg);

		if (r) {
			cur->close(cur);
			btmap_abort(b);
			return r;
		}
		n++;
	}
	if (ret != DB_NOTFOUND) {
		bt_fail(ret);
		goto bad;
	}
	cur->close(cur);
	btmap_abort(b); /* read-only: nothing to write */
	return n;
bad:
	if (cur)
		cur->close(cur);
	btmap_abort(b);
	errno = EINVAL;
	return -1;
}

int btmap_get(const char *path, const char *key, char *value, size_t len)
{
	DBT k = { .data = (void *)key, .size = strlen(key) + 1 };
	DBT v;
	struct btmap *b;
	int ret;

	bt_reset();
	if (bt_exists(path) < 0)
		return -1;
	if (!(b = bt_open(path, DB_RDONLY)))
		return -1;
	memset(&v, 0, sizeof(v));
	ret = b->db->get(b->db, NULL, &k, &v, 0);
	if (ret == 0 && len) {
		size_t n = v.size < len ? v.size : len - 1;

		memcpy(value, v.data, n);
		value[n] = '\0';
	}
	if (ret && ret != DB_NOTFOUND)
		bt_fail(ret);
	btmap_abort(b);
	return ret == 0 ? 1 : ret == DB_NOTFOUND ? 0 : -1;
}

int btmap_lock_open(const char *lock_path)
{
	struct stat st;
	int fd;

	bt_reset();
	/* Read-only: flock needs no write access, and a writer fd would keep
	 * its file system from being remounted read-only. */
	fd = open(lock_path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		bt_syserr(lock_path);
		return -1;
	}
	/* Anyone who can open the lock file can hold it and stall us. */
	if (fstat(fd, &st) < 0) {
		bt_syserr(lock_path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(bt_err, sizeof(bt_err),
			 "%s: not a regular file owned by uid %u", lock_path,
			 (unsigned)geteuid());
		close(fd);
		return -1;
	}
	return fd;
}

int btmap_lock(int fd, bool wait)
{
	bt_reset();
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return 1;
		bt_syserr("flock");
		return -1;
	}
	return 0;
}

void btmap_unlock(int fd)
{
	flock(fd, LOCK_UN);
}

static int bt_copy_rw(int in, int out, off_t off, off_t size)
{
	char buf[65536];

	while (off < size) {
		ssize_t r = pread(in, buf, sizeof(buf), off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO; /* the file shrank under us */
			return -1;
		}
		for (ssize_t w = 0; w < r;) {
			ssize_t c = pwrite(out, buf + w, r - w, off + w);

			if (c < 0 && errno == EINTR)
				continue;
			if (c < 0)
				return -1;
			w += c;
		}
		off += r;
	}
	return 0;
}

int btmap_copy(const char *from, const char *to)
{
	struct stat st;
	off_t off = 0, off_out = 0;
	int in, out;

	bt_reset();
	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0) {
		bt_syserr(from);
		return -1;
	}
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0) {
		bt_syserr(to);
		close(in);
		return -1;
	}
	if (fstat(in, &st) < 0 || fchmod(out, 0644) < 0)
		goto bad;
	/* In-kernel copy (a reflink where the file system has them). */
	while (off < st.st_size) {
		ssize_t c;

		off_out = off;
		c = copy_file_range(in, &off, out, &off_out, st.st_size - off, 0);

		if (c < 0 && errno == EINTR)
			continue;
		if (c < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			      errno == EOPNOTSUPP)) {
			if (bt_copy_rw(in, out, off, st.st_size) < 0)
				goto bad;
			break;
		}
		if (c <= 0) {
			if (c == 0)
				errno = EIO;
			goto bad;
		}
	}
	close(in);
	if (close(out) < 0) {
		bt_syserr(to);
		unlink(to);
		return -1;
	}
	return 0;
bad:
	bt_syserr(to);
	close(in);
	close(out);
	unlink(to);
	return -1;
}
