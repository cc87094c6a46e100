/* btmap.h - Postfix btree maps: Berkeley DB 5.3 DB_BTREE files written the
 * way postmap writes them (key and value each with one trailing NUL), plus
 * the file handling around them (writer lock, copy, atomic replace). */
#ifndef DRAC_BTMAP_H
#define DRAC_BTMAP_H

#include <stdbool.h>
#include <stddef.h>

struct btmap;

/* A new map file at path, which must not exist yet (O_EXCL, no symlink
 * followed), mode 0644 whatever the umask.  Insert keys in sorted order
 * for densely packed pages.  NULL on error (btmap_error()). */
struct btmap *btmap_create(const char *path);
/* An existing map file, opened for changes. */
struct btmap *btmap_open(const char *path);
/* Store key -> value, both NUL-terminated text stored WITH their NUL as
 * postmap does.  The key must already be lowercase.  0 or -1. */
int btmap_put(struct btmap *b, const char *key, const char *value);
/* The same with the lengths known (not counting the NULs). */
int btmap_put_n(struct btmap *b, const char *key, size_t klen, const char *value,
		size_t vlen);
/* 1 deleted, 0 was absent, -1 error. */
int btmap_del(struct btmap *b, const char *key);
/* Write out all pages (and fdatasync them unless btmap_set_fsync(false)),
 * close.  The handle is gone either way.  0 or -1. */
int btmap_close(struct btmap *b);
/* Close without writing; the caller unlinks the half-made file. */
void btmap_abort(struct btmap *b);

/* Read a map: optionally verify its whole structure first (DB->verify,
 * about 0.25 s per million records), then call fn for every record in key
 * order.  klen and vlen count the stored bytes, NUL included when stored;
 * the bytes are libdb's and valid only during the call.
 * A non-zero return from fn stops the walk and is returned.  Otherwise the
 * number of records, or -1 when the file is missing, not a btree or
 * damaged (btmap_error() says why; errno is ENOENT for a missing file). */
typedef int (*btmap_walk_fn)(const char *key, size_t klen, const char *value,
			     size_t vlen, void *arg);
long btmap_walk(const char *path, bool verify, btmap_walk_fn fn, void *arg);
/* One lookup of key+NUL.  1 found (value copied, NUL-terminated, cut to
 * len), 0 absent, -1 error. */
int btmap_get(const char *path, const char *key, char *value, size_t len);

/* Writers serialise on a separate lock file (locking the map itself is
 * useless: rename() replaces that inode).  Opens or creates lock_path,
 * mode 0600, refusing a symlink or a file that is not ours.  fd or -1. */
int btmap_lock_open(const char *lock_path);
/* flock(LOCK_EX).  0 locked, 1 busy (only when !wait), -1 error. */
int btmap_lock(int fd, bool wait);
void btmap_unlock(int fd);
/* Copy the file from -> to (to must not exist), mode 0644.  0 or -1. */
int btmap_copy(const char *from, const char *to);

/* Text of the last error: the first libdb message of the failed call, or
 * the system error. */
const char *btmap_error(void);
/* The errno of the system call that failed inside libdb during the last
 * call (ENOSPC, EDQUOT, EIO ...), or 0: libdb's own messages for these
 * talk about file formats.  btmap_error() already uses it. */
int btmap_errno(void);
/* Process-wide: fdatasync written maps before they are renamed into place
 * (the default).  Off only for tests and benchmarks. */
void btmap_set_fsync(bool on);

#endif
