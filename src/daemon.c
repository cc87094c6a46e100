/* daemon.c - the usual daemon chores, done so that failures are visible */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "daemon.h"

static int pid_fd = -1;
static char pid_path[4096];
static int ready_fd = -1;

int pidfile_lock(const char *path, char *err, size_t errlen)
{
	char buf[32] = "";
	int fd;

	if (!*path)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(err, errlen, "another dracd is running (pid %s, lock %s)",
			 *buf ? buf : "?", path);
		close(fd);
		return -1;
	}
	pid_fd = fd;
	snprintf(pid_path, sizeof(pid_path), "%s", path);
	return pidfile_write(getpid());
}

int pidfile_write(pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

	if (pid_fd < 0)
		return 0;
	if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, n, 0) != n)
		return -1;
	return 0;
}

void pidfile_remove(void)
{
	if (pid_fd >= 0) {
		unlink(pid_path);
		close(pid_fd);
		pid_fd = -1;
	}
}

int daemon_detach(void)
{
	int p[2], status;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		waitpid(pid, &status, 0);
		_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	setsid();
	pidfile_write(getpid());
	return 0;
}

void daemon_ready(void)
{
	int fd;

	if (ready_fd < 0)
		return;
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (write(ready_fd, "", 1) < 0) {
		/* parent gone: nothing to tell */
	}
	close(ready_fd);
	ready_fd = -1;
}

int user_check(const char *user, char *err, size_t errlen)
{
	if (*user && !getpwnam(user)) {
		snprintf(err, errlen, "DRAC_USER=\"%s\": no such user (create it with "
			 "`adduser --system --group --no-create-home %s`, or set DRAC_USER)",
			 user, user);
		return -1;
	}
	return 0;
}

int drop_privileges(const char *user, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	struct passwd *pw = NULL;

	if (user_check(user, err, errlen) < 0)
		return -1;
	if (*user)
		pw = getpwnam(user);
	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (cap != CAP_NET_ADMIN)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	/* Without a user, dracd stays uid 0 (so it still owns its files)
	 * but keeps no capability other than CAP_NET_ADMIN either. */
	if (pw && (prctl(PR_SET_KEEPCAPS, 1) < 0 || setgroups(0, NULL) < 0 ||
		   setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = 1u << CAP_NET_ADMIN;
	if (syscall(SYS_capset, &hdr, data) < 0) {
		snprintf(err, errlen, "cannot keep CAP_NET_ADMIN: %s", strerror(errno));
		return -1;
	}
	/* Nothing we exec or become may get more back. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}
