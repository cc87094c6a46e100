/* tapdone.h - tell the tap chains which connections dracd is done with
 *
 * Sets inet drac done (IPv4) and done6 (IPv6) hold client address, client
 * port, server address, server port.  The tap chains skip every packet of
 * such a 4-tuple but SYN, FIN and RST, and a client SYN deletes the
 * element in the kernel before it is logged: a new connection on the
 * same ports is always seen from its start.
 */
#ifndef DRAC_TAPDONE_H
#define DRAC_TAPDONE_H

#include <stdint.h>

#include "flow.h"

#define TAPDONE_V4 "done"
#define TAPDONE_V6 "done6"
#define TAPDONE_TIMEOUT_MS 60000 /* below dracd's flow idle time */
#define TAPDONE_SIZE 65536

struct tapdone_stats {
	uint64_t added, errors;
};

struct tapdone *tapdone_open(void);
void tapdone_close(struct tapdone *td);
/* Queue an add-or-refresh of one 4-tuple; tapdone_flush sends what is
 * queued in one batch and never blocks.  Errors are counted and named
 * in the log once. */
void tapdone_add(struct tapdone *td, const struct flow_tuple *t);
void tapdone_flush(struct tapdone *td);
const struct tapdone_stats *tapdone_stats(const struct tapdone *td);

#endif
