/* control.c - a Unix stream socket: each connection gets one JSON status
 * document and is closed.  Small and synchronous on purpose: the document
 * is a few hundred bytes and the socket is only root's (mode 0600). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

struct control {
	struct loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	control_status_fn fn;
	void *arg;
};

static void control_ready(int fd, uint32_t events, void *arg)
{
	struct control *c = arg;
	char *doc = NULL;
	size_t len = 0;
	FILE *f;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	f = open_memstream(&doc, &len);
	if (f) {
		c->fn(c->arg, f);
		fclose(f);
		/* The peer reads at once; a peer that does not is cut off
		 * rather than allowed to stall the loop. */
		struct timeval tv = { 0, 200000 };

		setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		for (size_t off = 0; off < len;) {
			ssize_t n = send(cfd, doc + off, len - off, MSG_NOSIGNAL);

			if (n <= 0)
				break;
			off += n;
		}
		free(doc);
	}
	close(cfd);
}

struct control *control_open(struct loop *l, const char *path, control_status_fn fn, void *arg)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;

	if (!c)
		return NULL;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		msg_err("%s: control socket path too long", path);
		free(c);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	strcpy(c->path, path);
	c->loop = l;
	c->fn = fn;
	c->arg = arg;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		goto bad;
	unlink(path); /* the pid file lock says no other dracd runs */
	old = umask(077);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		umask(old);
		goto bad;
	}
	umask(old);
	if (listen(c->fd, 16) < 0 || loop_add_fd(l, c->fd, EPOLLIN, control_ready, c) < 0)
		goto bad;
	return c;
bad:
	msg_err("cannot create control socket %s: %s", path, strerror(errno));
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return NULL;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	loop_del_fd(c->loop, c->fd);
	close(c->fd);
	unlink(c->path);
	free(c);
}

ssize_t control_query(const char *path, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	size_t off = 0;
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	buf[off] = '\0';
	close(fd);
	return off ? (ssize_t)off : -1;
}
