/* ruleset.h - table inet drac: its sets and the NFLOG tap chains, as nft
 * text loaded through libnftables (the same text ships as nft/drac.nft) */
#ifndef DRAC_RULESET_H
#define DRAC_RULESET_H

#include <stdbool.h>
#include <stdio.h>

#include "settings.h"

/* The whole table, loadable with nft -f on its own and idempotently. */
void ruleset_print(const struct settings *s, bool tap, FILE *f);
/* Create what is missing, (re)load the tap chains.  0 or -1 with the
 * reason in err. */
int ruleset_apply(const struct settings *s, bool tap, char *err, size_t errlen);
/* Is table inet drac there with both sets?  1 yes, 0 no, -1 error. */
int ruleset_present(void);

#endif
