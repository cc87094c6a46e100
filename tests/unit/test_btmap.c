/* test_btmap.c - btree maps as Postfix reads them: checked with the real
 * postmap(1) when it is installed, and postmap's own files read back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "btmap.h"
#include "t.h"

#define POSTMAP "/usr/sbin/postmap"

static char dir[] = "/tmp/test_btmap.XXXXXX";
static char pfdir[256];

/* Run postmap with a minimal config dir; output (first line) in out. */
static int postmap(const char *args, char *out, size_t len)
{
	char cmd[2048];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s -c %s %s 2>&1", POSTMAP, pfdir, args);
	out[0] = '\0';
	if (!(p = popen(cmd, "r")))
		return -1;
	if (!fgets(out, len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct walk {
	int n, with_nul;
	char keys[16][64], vals[16][32];
};

static int walk_cb(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct walk *w = arg;

	if (w->n < 16) {
		snprintf(w->keys[w->n], 64, "%.*s", (int)kl, k);
		snprintf(w->vals[w->n], 32, "%.*s", (int)vl, v);
	}
	w->with_nul += kl && !k[kl - 1] && vl && !v[vl - 1];
	w->n++;
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		if (write(fd, data, len) != (ssize_t)len)
			perror(path);
		close(fd);
	}
}

int main(void)
{
	char path[256], path2[512], base[256], buf[1024], out[512];
	struct btmap *b;
	struct walk w;
	struct stat st;
	bool have_postmap = access(POSTMAP, X_OK) == 0;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	btmap_set_fsync(false);
	snprintf(base, sizeof(base), "%s/dracd", dir);
	snprintf(path, sizeof(path), "%s/dracd.db", dir);

	/* Written the way postmap writes: key and value with one NUL. */
	umask(077);
	b = btmap_create(path);
	T_OK(b != NULL, "create %s", path);
	if (!b)
		return T_DONE();
	T_EQ_INT(btmap_put(b, "192.0.2.7", "1700000000"), 0, "put IPv4");
	T_EQ_INT(btmap_put(b, "2001:db8::2", "1700000123"), 0, "put IPv6");
	T_EQ_INT(btmap_put(b, "10.0.0.1", "0"), 0, "put out of order");
	T_EQ_INT(btmap_put(b, "10.0.0.1", "5"), 0, "put replaces");
	T_EQ_INT(btmap_close(b), 0, "close");
	T_OK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644,
	     "mode 0644 despite umask 077 (%o)", st.st_mode & 07777);
	umask(022);
	T_OK(btmap_create(path) == NULL, "create refuses an existing file");

	T_EQ_INT(btmap_get(path, "192.0.2.7", buf, sizeof(buf)), 1, "get IPv4");
	T_EQ_STR(buf, "1700000000", "IPv4 value");
	T_EQ_INT(btmap_get(path, "2001:db8::2", buf, sizeof(buf)), 1, "get IPv6");
	T_EQ_STR(buf, "1700000123", "IPv6 value");
	T_EQ_INT(btmap_get(path, "10.0.0.1", buf, sizeof(buf)), 1, "get replaced");
	T_EQ_STR(buf, "5", "replaced value");
	T_EQ_INT(btmap_get(path, "192.0.2.8", buf, sizeof(buf)), 0, "absent key");

	memset(&w, 0, sizeof(w));
	T_EQ_INT(btmap_walk(path, true, walk_cb, &w), 3, "walk with verify: 3 records");
	T_EQ_INT(w.with_nul, 3, "every key and value stored with its NUL");
	T_EQ_STR(w.keys[0], "10.0.0.1", "walk in key order (1)");
	T_EQ_STR(w.keys[1], "192.0.2.7", "walk in key order (2)");
	T_EQ_STR(w.keys[2], "2001:db8::2", "walk in key order (3)");

	/* Changes on a copy, as the incremental writer does. */
	snprintf(path2, sizeof(path2), "%s/copy.db", dir);
	T_EQ_INT(btmap_copy(path, path2), 0, "copy");
	T_EQ_INT(btmap_copy(path, path2), -1, "copy refuses an existing target");
	b = btmap_open(path2);
	T_OK(b != NULL, "open copy");
	if (b) {
		T_EQ_INT(btmap_del(b, "10.0.0.1"), 1, "del present");
		T_EQ_INT(btmap_del(b, "10.0.0.9"), 0, "del absent");
		T_EQ_INT(btmap_put(b, "192.0.2.9", "1700000999"), 0, "put on copy");
		T_EQ_INT(btmap_close(b), 0, "close copy");
	}
	T_EQ_INT(btmap_get(path2, "10.0.0.1", buf, sizeof(buf)), 0, "deleted on copy");
	T_EQ_INT(btmap_get(path2, "192.0.2.9", buf, sizeof(buf)), 1, "added on copy");
	T_EQ_INT(btmap_get(path, "10.0.0.1", buf, sizeof(buf)), 1, "original untouched");
	T_OK(stat(path2, &st) == 0 && (st.st_mode & 07777) == 0644, "copy mode 0644");

	/* Damaged files: -1 and a reason, never a crash. */
	errno = 0;
	snprintf(path2, sizeof(path2), "%s/missing.db", dir);
	T_EQ_INT(btmap_walk(path2, true, walk_cb, &w), -1, "missing file");
	T_EQ_INT(errno, ENOENT, "missing file: ENOENT");
	snprintf(path2, sizeof(path2), "%s/empty.db", dir);
	write_file(path2, "", 0);
	T_EQ_INT(btmap_walk(path2, true, walk_cb, &w), -1, "empty file: %s", btmap_error());
	snprintf(path2, sizeof(path2), "%s/garbage.db", dir);
	{
		char junk[16384];

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (char)(i * 7919 + 13);
		write_file(path2, junk, sizeof(junk));
	}
	T_EQ_INT(btmap_walk(path2, true, walk_cb, &w), -1, "garbage: %s", btmap_error());
	T_EQ_INT(btmap_get(path2, "192.0.2.7", buf, sizeof(buf)), -1, "get on garbage");
	{
		/* A bigger map cut in the middle. */
		char k[32];

		snprintf(path2, sizeof(path2), "%s/trunc.db", dir);
		b = btmap_create(path2);
		for (int i = 0; b && i < 5000; i++) {
			snprintf(k, sizeof(k), "198.51.%d.%d", i / 256, i % 256);
			btmap_put(b, k, "1700000000");
		}
		T_OK(b && btmap_close(b) == 0, "5000-record map written");
		memset(&w, 0, sizeof(w));
		T_EQ_INT(btmap_walk(path2, true, walk_cb, &w), 5000, "5000 records read");
		T_OK(stat(path2, &st) == 0 && truncate(path2, st.st_size / 2) == 0, "truncate");
		T_EQ_INT(btmap_walk(path2, true, walk_cb, &w), -1, "truncated: %s",
			 btmap_error());
	}

	/* Writers serialise on the lock file. */
	snprintf(path2, sizeof(path2), "%s/dracd.db.lock", dir);
	{
		int l1 = btmap_lock_open(path2), l2 = btmap_lock_open(path2);

		T_OK(l1 >= 0 && l2 >= 0, "lock file opened twice");
		T_OK(stat(path2, &st) == 0 && (st.st_mode & 07777) == 0600, "lock mode 0600");
		T_EQ_INT(btmap_lock(l1, false), 0, "first writer locks");
		T_EQ_INT(btmap_lock(l2, false), 1, "second writer finds it busy");
		btmap_unlock(l1);
		T_EQ_INT(btmap_lock(l2, false), 0, "free again after unlock");
		btmap_unlock(l2);
		close(l1);
		close(l2);
		snprintf(path2, sizeof(path2), "%s/evil.lock", dir);
		T_OK(symlink("/etc/passwd", path2) == 0, "symlink planted");
		T_EQ_INT(btmap_lock_open(path2), -1, "symlinked lock refused: %s",
			 btmap_error());
	}

	if (!have_postmap) {
		printf("# %s not installed: skipping the Postfix checks\n", POSTMAP);
		goto done;
	}
	/* postmap needs a config dir; the host's may not exist. */
	snprintf(pfdir, sizeof(pfdir), "%s/pf", dir);
	mkdir(pfdir, 0755);
	snprintf(path2, sizeof(path2), "%s/main.cf", pfdir);
	write_file(path2, "compatibility_level = 3.6\n", 26);

	snprintf(buf, sizeof(buf), "-q 192.0.2.7 btree:%s", base);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 0, "postmap -q IPv4 found");
	T_EQ_STR(out, "1700000000", "postmap reads the IPv4 value");
	snprintf(buf, sizeof(buf), "-q 2001:db8::2 btree:%s", base);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 0, "postmap -q IPv6 found");
	T_EQ_STR(out, "1700000123", "postmap reads the IPv6 value");
	snprintf(buf, sizeof(buf), "-q 2001:DB8::2 btree:%s", base);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 0, "postmap folds an uppercase query");
	T_EQ_STR(out, "1700000123", "same record");
	snprintf(buf, sizeof(buf), "-q 192.0.2.8 btree:%s", base);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 1, "postmap -q absent IPv4: exit 1");
	T_EQ_STR(out, "", "no output for the absent IPv4 key");
	snprintf(buf, sizeof(buf), "-q 2001:db8::3 btree:%s", base);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 1, "postmap -q absent IPv6: exit 1");
	T_EQ_STR(out, "", "no output for the absent IPv6 key");
	snprintf(buf, sizeof(buf), "-s btree:%s", base);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 0, "postmap -s lists the map");
	T_EQ_STR(out, "10.0.0.1\t5", "first record as postmap prints it");

	/* The other way: a file postmap made reads as ours do. */
	snprintf(path2, sizeof(path2), "%s/pm", dir);
	write_file(path2, "192.0.2.1 1700000001\n2001:DB8::1 1700000002\n", 44);
	snprintf(buf, sizeof(buf), "btree:%s", path2);
	T_EQ_INT(postmap(buf, out, sizeof(out)), 0, "postmap builds a map: %s", out);
	snprintf(path2, sizeof(path2), "%s/pm.db", dir);
	memset(&w, 0, sizeof(w));
	T_EQ_INT(btmap_walk(path2, true, walk_cb, &w), 2, "postmap's map walks");
	T_EQ_INT(w.with_nul, 2, "postmap also stores the NULs");
	T_EQ_STR(w.keys[1], "2001:db8::1", "postmap lowercased the key as we do");
	T_EQ_INT(btmap_get(path2, "192.0.2.1", buf, sizeof(buf)), 1, "get from postmap's map");
	T_EQ_STR(buf, "1700000001", "value from postmap's map");
done:
	snprintf(buf, sizeof(buf), "rm -rf %s", dir);
	if (system(buf) != 0)
		printf("# could not remove %s\n", dir);
	return T_DONE();
}
