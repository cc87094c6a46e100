/* loop.c - epoll, a sorted timer list and a signalfd: the daemon's only loop */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

struct loop_fd {
	int fd;
	loop_fd_cb cb;
	void *arg;
	struct loop_fd *next;
};

struct loop_timer {
	struct loop *loop;
	loop_cb cb;
	void *arg;
	uint64_t when;
	int armed;
	struct loop_timer *next; /* in the armed list, soonest first */
};

#define LOOP_MAX_IDLE 8

struct loop {
	int epfd;
	int sigfd;
	sigset_t sigs;
	struct loop_fd *fds;
	struct loop_fd *dead;
	struct loop_timer *timers;
	struct {
		int sig;
		loop_cb cb;
		void *arg;
	} sighandlers[16];
	int nsig;
	struct {
		loop_cb cb;
		void *arg;
	} idle[LOOP_MAX_IDLE];
	int nidle;
	int stop;
};

uint64_t loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->sigfd = -1;
	sigemptyset(&l->sigs);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	struct loop_fd *f, *n;

	if (!l)
		return;
	for (f = l->fds; f; f = n) {
		n = f->next;
		free(f);
	}
	for (f = l->dead; f; f = n) {
		n = f->next;
		free(f);
	}
	while (l->timers)
		loop_timer_stop(l->timers);
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l);
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_fd *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->fd = fd;
	f->cb = cb;
	f->arg = arg;
	ev.data.ptr = f;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(f);
		return -1;
	}
	f->next = l->fds;
	l->fds = f;
	return 0;
}

static struct loop_fd *loop_find(struct loop *l, int fd)
{
	for (struct loop_fd *f = l->fds; f; f = f->next)
		if (f->fd == fd)
			return f;
	return NULL;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct loop_fd *f = loop_find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!f)
		return -1;
	ev.data.ptr = f;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del_fd(struct loop *l, int fd)
{
	struct loop_fd **pp;

	for (pp = &l->fds; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			struct loop_fd *f = *pp;

			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			*pp = f->next;
			/* A later event of this epoll batch may still point at
			 * f: park it on the dead list, freed after the batch. */
			f->cb = NULL;
			f->next = l->dead;
			l->dead = f;
			return;
		}
	}
}

struct loop_timer *loop_timer_new(struct loop *l, loop_cb cb, void *arg)
{
	struct loop_timer *t = calloc(1, sizeof(*t));

	if (t) {
		t->loop = l;
		t->cb = cb;
		t->arg = arg;
	}
	return t;
}

void loop_timer_stop(struct loop_timer *t)
{
	struct loop_timer **pp;

	if (!t->armed)
		return;
	for (pp = &t->loop->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = 0;
	t->next = NULL;
}

void loop_timer_at(struct loop_timer *t, uint64_t when)
{
	struct loop_timer **pp;

	loop_timer_stop(t);
	t->when = when;
	for (pp = &t->loop->timers; *pp && (*pp)->when <= when; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->armed = 1;
}

void loop_timer_after(struct loop_timer *t, uint64_t delay)
{
	loop_timer_at(t, loop_now() + delay);
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	loop_timer_stop(t);
	free(t);
}

static void loop_sigfd_ready(int fd, uint32_t events, void *arg)
{
	struct loop *l = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		for (int i = 0; i < l->nsig; i++)
			if (l->sighandlers[i].sig == (int)si.ssi_signo)
				l->sighandlers[i].cb(l->sighandlers[i].arg);
	}
}

int loop_signal(struct loop *l, int sig, loop_cb cb, void *arg)
{
	int first = l->sigfd < 0;

	if (l->nsig == (int)(sizeof(l->sighandlers) / sizeof(l->sighandlers[0])))
		return -1;
	sigaddset(&l->sigs, sig);
	if (sigprocmask(SIG_BLOCK, &l->sigs, NULL) < 0)
		return -1;
	l->sigfd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd < 0)
		return -1;
	if (first && loop_add_fd(l, l->sigfd, EPOLLIN, loop_sigfd_ready, l) < 0)
		return -1;
	l->sighandlers[l->nsig].sig = sig;
	l->sighandlers[l->nsig].cb = cb;
	l->sighandlers[l->nsig].arg = arg;
	l->nsig++;
	return 0;
}

void loop_on_idle(struct loop *l, loop_cb cb, void *arg)
{
	if (l->nidle < LOOP_MAX_IDLE) {
		l->idle[l->nidle].cb = cb;
		l->idle[l->nidle].arg = arg;
		l->nidle++;
	}
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	l->stop = 0;
	while (!l->stop) {
		int timeout = -1, n;
		uint64_t now;

		if (l->timers) {
			now = loop_now();
			timeout = l->timers->when > now ? (int)(l->timers->when - now) : 0;
		}
		n = epoll_wait(l->epfd, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg_err("epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct loop_fd *f = evs[i].data.ptr;

			if (f->cb) /* NULL: removed earlier in this batch */
				f->cb(f->fd, evs[i].events, f->arg);
		}
		while (l->dead) {
			struct loop_fd *d = l->dead;

			l->dead = d->next;
			free(d);
		}
		now = loop_now();
		while (l->timers && l->timers->when <= now && !l->stop) {
			struct loop_timer *t = l->timers;

			loop_timer_stop(t);
			t->cb(t->arg);
		}
		for (int i = 0; i < l->nidle; i++)
			l->idle[i].cb(l->idle[i].arg);
	}
	return 0;
}
