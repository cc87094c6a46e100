/* daemon.h - pid file, detaching, dropping privileges */
#ifndef DRAC_DAEMON_H
#define DRAC_DAEMON_H

#include <sys/types.h>

/* Lock and write the pid file.  -1 with a message when another dracd
 * holds it (err says which pid). */
int pidfile_lock(const char *path, char *err, size_t errlen);
int pidfile_write(pid_t pid);
void pidfile_remove(void);

/* Fork into the background.  The parent waits until the child calls
 * daemon_ready() (exit 0) or exits (its status), so a failed start is
 * seen by the init system. */
int daemon_detach(void);
void daemon_ready(void);

/* -1 (err) when user is set but no such user exists: checked before
 * dracd touches anything, so the reason is the first thing said. */
int user_check(const char *user, char *err, size_t errlen);
/* Keep only CAP_NET_ADMIN, as user when one is named (else as uid 0).
 * 0 or -1 (err). */
int drop_privileges(const char *user, char *err, size_t errlen);

#endif
