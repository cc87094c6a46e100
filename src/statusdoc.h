/* statusdoc.h - read the daemon's JSON status document (control.c) on
 * the client side, as untrusted bytes: `drac status` prints it, `drac
 * add` takes the window in force from it.
 *
 * The document is dracd's own (objects, strings, numbers, literals), but
 * whatever answers on the control socket may send anything, cut short
 * anywhere: every read is bounded by the length, nothing needs a NUL. */
#ifndef DRAC_STATUSDOC_H
#define DRAC_STATUSDOC_H

#include <stddef.h>
#include <stdint.h>

#define STATUSDOC_PATH_MAX 256
#define STATUSDOC_DEPTH_MAX 16

/* One scalar: its dotted path ("map.entries") and its text (a string's
 * bytes without the quotes, escapes left as sent; a number or literal as
 * written).  value is not NUL-terminated. */
typedef void (*statusdoc_fn)(const char *path, const char *value, size_t len, void *arg);

/* Walk buf[0..len) (fn may be NULL: only check it).  0 for a well-formed document (one object, then only
 * blanks), -1 otherwise; scalars before the fault were reported. */
int statusdoc_walk(const char *buf, size_t len, statusdoc_fn fn, void *arg);
/* A top-level unsigned number such as "window_s": 0 and *v, or -1. */
int statusdoc_u64(const char *buf, size_t len, const char *path, uint64_t *v);

#endif
