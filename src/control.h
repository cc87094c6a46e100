/* control.h - the daemon's status socket, read by `drac status` */
#ifndef DRAC_CONTROL_H
#define DRAC_CONTROL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "loop.h"

/* Writes the status as JSON to f. */
typedef void (*control_status_fn)(void *arg, FILE *f);

struct control *control_open(struct loop *l, const char *path, control_status_fn fn, void *arg);
void control_close(struct control *c);

/* Client side: the daemon's reply into buf (NUL added after it, but the
 * reply itself may hold anything: read it with statusdoc.h).  Returns its
 * length, -1 when no daemon answered. */
ssize_t control_query(const char *path, char *buf, size_t len);

#endif
