/* fuzz_policy.c - the policy request parser on arbitrary bytes.
 *
 * Checks per input:
 * 1. policy_parse never reads past len and takes at most len bytes;
 *    what it takes ends with a newline (the empty line);
 * 2. a client it accepts is written in the taken bytes as the value of
 *    a client_address= line, so nothing is made up;
 * 3. framing: parsing the whole input request by request consumes the
 *    same bytes as parsing a copy cut right after each taken request
 *    (a request never depends on bytes after its empty line). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static int written_in(const char *buf, size_t len, const struct drac_addr *a)
{
	static const char key[] = "client_address=";
	size_t kl = sizeof(key) - 1;

	for (size_t i = 0; i + kl <= len; i++) {
		if ((i && buf[i - 1] != '\n') || memcmp(buf + i, key, kl))
			continue;
		const char *v = buf + i + kl, *nl = memchr(v, '\n', len - i - kl);
		size_t vl;
		struct drac_addr b;

		if (!nl)
			continue;
		vl = nl - v;
		if (vl && v[vl - 1] == '\r')
			vl--;
		if (addr_parse_n(v, vl, &b) == 0) {
			addr_unmap(&b);
			if (addr_eq(&b, a))
				return 1;
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees any read past it. */
	char *buf = malloc(size ? size : 1);
	size_t off = 0;

	memcpy(buf, data, size);
	while (off < size) {
		struct policy_request r, r2;
		size_t used = policy_parse(buf + off, size - off, &r);

		if (used == 0)
			break;
		if (used > size - off || buf[off + used - 1] != '\n')
			abort();
		if (r.has_client && !written_in(buf + off, used, &r.client))
			abort();
		char *cut = malloc(used);

		memcpy(cut, buf + off, used);
		if (policy_parse(cut, used, &r2) != used || r2.valid != r.valid ||
		    r2.has_client != r.has_client ||
		    (r.has_client && !addr_eq(&r.client, &r2.client)))
			abort();
		free(cut);
		off += used;
	}
	free(buf);
	return 0;
}
