/* fuzz_status.c - the daemon's status reply as `drac status` and `drac
 * add` read it: any bytes, cut anywhere, never a read past the length
 * (the input is copied to a buffer of exactly its size). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "statusdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const char *path, const char *value, size_t len, void *arg)
{
	size_t *sum = arg;

	/* read every byte handed out, so ASan checks the bounds */
	*sum += strlen(path);
	for (size_t i = 0; i < len; i++)
		*sum += (unsigned char)value[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *b = malloc(size ? size : 1);
	size_t sum = 0;
	uint64_t v;

	if (!b)
		return 0;
	memcpy(b, data, size);
	statusdoc_walk(b, size, touch, &sum);
	if (statusdoc_u64(b, size, "window_s", &v) == 0 && statusdoc_walk(b, size, NULL, NULL) != 0)
		abort();	/* a value only from a well-formed document */
	free(b);
	return 0;
}
