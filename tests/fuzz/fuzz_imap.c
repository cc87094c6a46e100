/* fuzz_imap.c - the IMAP login machine on arbitrary dialogues
 *
 * Input: chunks, each one header octet (bit 7: the direction, 1 = server
 * to client; bits 0-6: the length) and that many octets.  Checks: no
 * crash; a grant only when the server sent "TAG OK" at a line start and
 * the client sent "TAG LOGIN" or "TAG AUTHENTICATE" at a line start; the
 * same verdict, reason and chunk when every chunk is fed octet by octet;
 * no second grant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	enum proto_verdict v;
	enum proto_reason r;
	size_t chunk;
};

static int upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int word_at(const uint8_t *p, size_t n, size_t at, const char *w)
{
	size_t k = strlen(w);

	if (at + k > n)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (upper(p[at + i]) != w[i])
			return 0;
	return 1;
}

static int ends_word(const uint8_t *p, size_t n, size_t at)
{
	return at < n && (p[at] == ' ' || p[at] == '\r' || p[at] == '\n');
}

/* Did the client send "tag LOGIN" or "tag AUTHENTICATE" at a line start? */
static int client_sent(const uint8_t *c, size_t cn, const uint8_t *tag,
		       size_t tn)
{
	for (size_t i = 0; i + tn < cn; i++) {
		size_t at = i + tn + 1;

		if ((i && c[i - 1] != '\n') || memcmp(c + i, tag, tn) != 0 ||
		    c[i + tn] != ' ')
			continue;
		if (word_at(c, cn, at, "LOGIN") && ends_word(c, cn, at + 5))
			return 1;
		if (word_at(c, cn, at, "AUTHENTICATE") &&
		    ends_word(c, cn, at + 12))
			return 1;
	}
	return 0;
}

static int grant_explained(const uint8_t *c, size_t cn, const uint8_t *s,
			   size_t sn)
{
	for (size_t i = 0; i < sn; i++) {
		size_t t;

		if (i && s[i - 1] != '\n')
			continue;
		for (t = i; t < sn && s[t] != ' ' && s[t] != '\r' &&
			    s[t] != '\n'; t++)
			;
		if (t == i || t >= sn || s[t] != ' ')
			continue;
		if (!word_at(s, sn, t + 1, "OK") || !ends_word(s, sn, t + 3))
			continue;
		if (client_sent(c, cn, s + i, t - i))
			return 1;
	}
	return 0;
}

static struct run play(const uint8_t *data, size_t size, int bytewise,
		       uint8_t *cli, size_t *cn, uint8_t *srv, size_t *sn)
{
	struct run r = { PROTO_CONTINUE, PR_NONE, 0 };
	struct imap m;
	size_t pos = 0;

	imap_init(&m);
	*cn = *sn = 0;
	while (pos < size) {
		enum proto_dir dir = data[pos] & 0x80 ? DIR_TO_CLIENT : DIR_TO_SERVER;
		size_t len = data[pos] & 0x7f;
		enum proto_verdict v = PROTO_CONTINUE;

		pos++;
		if (len > size - pos)
			len = size - pos;
		if (bytewise) {
			for (size_t i = 0; i < len && v == PROTO_CONTINUE; i++)
				v = imap_feed(&m, dir, data + pos + i, 1);
			if (len == 0)
				v = imap_feed(&m, dir, data + pos, 0);
		} else {
			v = imap_feed(&m, dir, data + pos, len);
		}
		if (dir == DIR_TO_SERVER) {
			memcpy(cli + *cn, data + pos, len);
			*cn += len;
		} else {
			memcpy(srv + *sn, data + pos, len);
			*sn += len;
		}
		pos += len;
		if (v != PROTO_CONTINUE) {
			r.v = v;
			r.r = imap_reason(&m);
			if (imap_feed(&m, DIR_TO_CLIENT, (const uint8_t *)"a OK\r\n", 6) ==
			    PROTO_GRANT)
				abort(); /* a second grant */
			break;
		}
		r.chunk++;
	}
	if (r.v == PROTO_CONTINUE && imap_reason(&m) != PR_NONE)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *cli = malloc(size + 1), *srv = malloc(size + 1);
	size_t cn, sn;
	struct run a, b;

	if (!cli || !srv)
		abort();
	a = play(data, size, 0, cli, &cn, srv, &sn);
	/* streams fed so far (up to and with the verdict's chunk) */
	if (a.v == PROTO_GRANT && !grant_explained(cli, cn, srv, sn))
		abort();
	b = play(data, size, 1, cli, &cn, srv, &sn);
	if (a.v != b.v || a.r != b.r || a.chunk != b.chunk)
		abort();
	free(cli);
	free(srv);
	return 0;
}
