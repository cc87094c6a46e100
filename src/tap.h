/* tap.h - the NFLOG receiver: packets logged by table inet drac's tap
 * chains arrive here and go to the flow table */
#ifndef DRAC_TAP_H
#define DRAC_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

/* tap_packet_fn's how: bits */
#define TAP_OUT 1 /* logged at the output hook */
#define TAP_LO 2  /* came in on loopback */

/* pkt starts at the IP header. */
typedef void (*tap_packet_fn)(void *arg, int family, unsigned how, const uint8_t *pkt,
			      size_t len);

struct tap_stats {
	uint64_t packets, overruns, lost, errors;
	unsigned rcvbuf;
};

struct tap *tap_open(struct loop *l, unsigned group, tap_packet_fn fn, void *arg);
void tap_close(struct tap *t);
const struct tap_stats *tap_stats(const struct tap *t);

#endif
