/* fuzz_sharemsg.c - a fleet channel message or key as Redis hands it
 * over: any bytes, never a read past the length (the input is copied to
 * a buffer of exactly its size), and what parses formats back the same */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sharemsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b = malloc(size ? size : 1), out[SHARE_MSG_MAX];
	struct share_msg m;
	struct drac_addr a;

	if (!b)
		return 0;
	memcpy(b, data, size);
	if (share_parse_msg(b, size, &m) == 0) {
		int n = share_fmt_msg(&m, out, sizeof(out));

		if (n < 0 || (size_t)n != size || memcmp(out, b, size) != 0)
			abort(); /* one message, one spelling */
	}
	share_parse_key("drac", b, size, &a);
	free(b);
	return 0;
}
