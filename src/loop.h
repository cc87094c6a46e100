/* loop.h - the one event loop: file descriptors, timers and signals */
#ifndef DRAC_LOOP_H
#define DRAC_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(int fd, uint32_t events, void *arg);
typedef void (*loop_cb)(void *arg);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* events are EPOLLIN/EPOLLOUT bits.  One callback per descriptor. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
void loop_del_fd(struct loop *l, int fd);

/* Timers run on CLOCK_MONOTONIC milliseconds (loop_now()). */
struct loop_timer *loop_timer_new(struct loop *l, loop_cb cb, void *arg);
void loop_timer_at(struct loop_timer *t, uint64_t when_ms);
void loop_timer_after(struct loop_timer *t, uint64_t delay_ms);
void loop_timer_stop(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);
uint64_t loop_now(void);
/* Wall clock in milliseconds since the epoch (map values, restore). */
uint64_t wall_now(void);

/* Signals arrive through a signalfd and run cb inside the loop. */
int loop_signal(struct loop *l, int sig, loop_cb cb, void *arg);

/* Called once per loop iteration after all ready events ran: the place
 * where work gathered during the iteration (e.g. grants) is committed. */
void loop_on_idle(struct loop *l, loop_cb cb, void *arg);

int loop_run(struct loop *l); /* until loop_stop(); 0 or -1 */
void loop_stop(struct loop *l);

#endif
