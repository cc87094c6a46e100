/* fuzz_pop3.c - the POP3 machine on arbitrary interleaved streams
 *
 * Input: records of one header octet (bit 7: direction, 1 = server to
 * client; bits 0-6: length) and that many octets.  Checked, by abort():
 * a grant comes only from feeding server octets, only after the server
 * sent a line starting with "+OK", never twice; and the verdict does not
 * depend on how the same octets are cut into calls.
 */
#include <stdlib.h>
#include <string.h>

#include "pop3.h"

struct run {
	enum proto_verdict v;
	enum proto_reason r;
};

/* Tracks whether the server stream had a line starting with "+OK". */
struct ok_seen {
	int col;  /* octets of the current line matched against "+OK", or -1 */
	int seen;
};

static void ok_scan(struct ok_seen *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			s->col = 0;
		} else if (s->col >= 0 && s->col < 3 && p[i] == "+OK"[s->col]) {
			if (++s->col == 3)
				s->seen = 1;
		} else if (s->col < 3) {
			s->col = -1;
		}
	}
}

/* step 0: each record in one call; otherwise at most step octets a call. */
static struct run play(const uint8_t *data, size_t size, size_t step)
{
	struct run out = { PROTO_CONTINUE, PR_NONE };
	struct ok_seen ok = { 0, 0 };
	struct pop3 m;
	size_t i = 0;

	pop3_init(&m);
	while (i < size) {
		enum proto_dir dir = data[i] & 0x80 ? DIR_TO_CLIENT : DIR_TO_SERVER;
		size_t n = data[i] & 0x7f, off = 0;

		i++;
		if (n > size - i)
			n = size - i;
		while (off < n) {
			size_t k = step && n - off > step ? step : n - off;
			enum proto_verdict v;

			if (dir == DIR_TO_CLIENT)
				ok_scan(&ok, data + i + off, k);
			v = pop3_feed(&m, dir, data + i + off, k);
			off += k;
			if (v == PROTO_GRANT && (dir != DIR_TO_CLIENT || !ok.seen))
				abort();
			if (v != PROTO_CONTINUE) {
				out.v = v;
				out.r = pop3_reason(&m);
				/* A caller that feeds on must not get a second grant. */
				if (pop3_feed(&m, DIR_TO_CLIENT, (const uint8_t *)"+OK\r\n", 5) ==
				    PROTO_GRANT)
					abort();
				return out;
			}
		}
		i += n;
	}
	out.r = pop3_reason(&m);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole = play(data, size, 0);
	struct run bytes = play(data, size, 1);

	if (whole.v != bytes.v || whole.r != bytes.r)
		abort();
	return 0;
}
