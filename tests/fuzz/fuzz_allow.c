/* fuzz_allow.c - dracd.allow parser: any bytes, never a crash, and a
 * parsed list never lets in an address it should not (bits outside the
 * mask are an error, so matching must be consistent). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowlist *l = NULL;
	char err[256];
	struct drac_addr a;

	if (allow_parse((const char *)data, size, "fuzz", &l, err, sizeof(err)) < 0) {
		if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "fuzz:", 5) != 0)
			abort();
		return 0;
	}
	/* an empty list must refuse everything */
	addr_parse("192.0.2.1", &a);
	if (allow_count(l) == 0 && allow_check(l, &a))
		abort();
	allow_check(l, &a);
	addr_parse("2001:db8::1", &a);
	allow_check(l, &a);
	allow_free(l);
	return 0;
}
