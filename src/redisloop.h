/* redisloop.h - drive a hiredis asynchronous connection from dracd's one
 * epoll loop (hiredis ships adapters for libev, libevent and others, not
 * for a plain epoll loop; this is that adapter) */
#ifndef DRAC_REDISLOOP_H
#define DRAC_REDISLOOP_H

#include <hiredis/async.h>

#include "loop.h"

/* Attach ac to l (before redisAsyncSetConnectCallback, which waits for
 * the first write readiness).  -1 on out of memory: the caller frees ac.
 * The attachment goes away with the context (hiredis' cleanup hook). */
int redisloop_attach(struct loop *l, redisAsyncContext *ac);

#endif
