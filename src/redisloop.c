/* redisloop.c - the hiredis event hooks on top of loop.c.
 *
 * hiredis asks for read and write interest separately; the loop has one
 * callback and one mask per descriptor, so the mask is kept here.  The
 * context can be freed inside redisAsyncHandleRead or HandleWrite (a
 * disconnect), which runs the cleanup hook: the attachment then outlives
 * the context until the handler returns, so the other half is skipped
 * without touching freed memory. */
#include <stdbool.h>
#include <stdlib.h>

#include "redisloop.h"

struct attach {
	struct loop *loop;
	redisAsyncContext *ac;
	int fd;
	uint32_t mask;
	bool added, dead, in_cb;
};

static void on_ready(int fd, uint32_t events, void *arg);

static void set_mask(struct attach *at, uint32_t mask)
{
	if (at->dead || (at->mask == mask && at->added))
		return;
	at->mask = mask;
	if (!at->added) {
		if (loop_add_fd(at->loop, at->fd, mask, on_ready, at) == 0)
			at->added = true;
		return;
	}
	loop_mod_fd(at->loop, at->fd, mask);
}

static void add_read(void *p) { struct attach *at = p; set_mask(at, at->mask | EPOLLIN); }
static void del_read(void *p) { struct attach *at = p; set_mask(at, at->mask & ~(uint32_t)EPOLLIN); }
static void add_write(void *p) { struct attach *at = p; set_mask(at, at->mask | EPOLLOUT); }
static void del_write(void *p) { struct attach *at = p; set_mask(at, at->mask & ~(uint32_t)EPOLLOUT); }

static void cleanup(void *p)
{
	struct attach *at = p;

	if (at->added)
		loop_del_fd(at->loop, at->fd);
	at->added = false;
	at->dead = true;
	if (!at->in_cb)
		free(at);
}

static void on_ready(int fd, uint32_t events, void *arg)
{
	struct attach *at = arg;

	at->in_cb = true;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		redisAsyncHandleRead(at->ac);
	if (!at->dead && (events & EPOLLOUT))
		redisAsyncHandleWrite(at->ac);
	at->in_cb = false;
	if (at->dead)
		free(at);
}

int redisloop_attach(struct loop *l, redisAsyncContext *ac)
{
	struct attach *at = calloc(1, sizeof(*at));

	if (!at)
		return -1;
	at->loop = l;
	at->ac = ac;
	at->fd = ac->c.fd;
	ac->ev.data = at;
	ac->ev.addRead = add_read;
	ac->ev.delRead = del_read;
	ac->ev.addWrite = add_write;
	ac->ev.delWrite = del_write;
	ac->ev.cleanup = cleanup;
	return 0;
}
