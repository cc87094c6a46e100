/* test_statusdoc.c - the client's reading of dracd's status document:
 * well-formed documents walk, anything cut short or malformed is refused
 * without reading past its length */
#include <stdlib.h>
#include <string.h>

#include "statusdoc.h"
#include "t.h"

struct seen {
	char out[2048];
	size_t n;
};

static void collect(const char *path, const char *value, size_t len, void *arg)
{
	struct seen *s = arg;
	int w = snprintf(s->out + s->n, sizeof(s->out) - s->n, "%s=%.*s;", path, (int)len, value);

	if (w > 0 && (size_t)w < sizeof(s->out) - s->n)
		s->n += w;
}

/* Walk a heap copy of exactly len bytes, no NUL after it, so a read past
 * the end is a heap overflow under make SAN=1. */
static int walk(const char *doc, size_t len, struct seen *s)
{
	char *b = malloc(len ? len : 1);
	int rc;

	memcpy(b, doc, len);
	memset(s, 0, sizeof(*s));
	rc = statusdoc_walk(b, len, collect, s);
	free(b);
	return rc;
}

int main(void)
{
	static const char doc[] =
		"{\"pid\":42,\"uptime_s\":7,\"window_s\":120,\"map\":{\"path\":\"/etc/dracd/dracd.db\","
		"\"entries\":3},\"grants\":{\"nflog\":1,\"rpc\":0},\"kernel\":{}}\n";
	struct seen s;
	uint64_t v = 0;

	T_EQ_INT(walk(doc, strlen(doc), &s), 0, "dracd's document walks");
	T_EQ_INT(strcmp(s.out, "pid=42;uptime_s=7;window_s=120;map.path=/etc/dracd/dracd.db;"
			"map.entries=3;grants.nflog=1;grants.rpc=0;"), 0, "every scalar with its path (%s)", s.out);
	T_EQ_INT(statusdoc_u64(doc, strlen(doc), "window_s", &v), 0, "window_s found");
	T_EQ_INT(v, 120, "window_s is 120");
	T_EQ_INT(statusdoc_u64(doc, strlen(doc), "map.path", &v), -1, "a string is not a number");
	T_EQ_INT(statusdoc_u64(doc, strlen(doc), "absent", &v), -1, "an absent key is -1");

	/* The case: a reply that ends inside a string. */
	T_EQ_INT(walk("{\"pid\":1,\"map\":{\"path\":\"/etc/dr", 31, &s), -1,
		 "reply ending inside a string value is refused");
	T_OK(strcmp(s.out, "pid=1;") == 0, "what came before it was reported (%s)", s.out);
	T_EQ_INT(walk("{\"pid\":1,\"ma", 12, &s), -1, "reply ending inside a key is refused");
	T_EQ_INT(walk("{\"a\":\"x\\", 8, &s), -1, "reply ending in a backslash inside a string");
	T_EQ_INT(walk("{\"a\":12", 7, &s), -1, "reply ending after a number");
	T_EQ_INT(walk("{\"a\":", 5, &s), -1, "reply ending after a colon");
	T_EQ_INT(walk("{", 1, &s), -1, "a lone brace");
	T_EQ_INT(walk("", 0, &s), -1, "empty reply");
	T_EQ_INT(walk("{\"a\":1}", 3, &s), -1, "length shorter than the text: only the length counts");
	T_EQ_INT(statusdoc_u64("{\"window_s\":120", 15, "window_s", &v), -1,
		 "no window from a cut-short document");

	/* Malformed or hostile. */
	T_EQ_INT(walk("{\"a\":1}{", 8, &s), -1, "trailing bytes");
	T_EQ_INT(walk("{\"a\" 1}", 7, &s), -1, "missing colon");
	T_EQ_INT(walk("{a:1}", 5, &s), -1, "unquoted key");
	T_EQ_INT(walk("{\"a\":1,}", 8, &s), -1, "trailing comma");
	T_EQ_INT(walk("{\"a\":\"x\\\"y\"}", 12, &s), 0, "escaped quote stays inside the string");
	T_EQ_INT(walk("{\"a\":1\0}", 8, &s), -1, "NUL byte");
	{
		char deep[256];
		size_t n = 0;

		for (int i = 0; i < 40; i++)
			n += snprintf(deep + n, sizeof(deep) - n, "{\"k\":");
		T_EQ_INT(walk(deep, n, &s), -1, "40 levels deep is refused");
	}
	{
		char big[700];

		memset(big, 'k', sizeof(big));
		memcpy(big, "{\"", 2);
		memcpy(big + sizeof(big) - 5, "\":1}", 4);
		T_EQ_INT(walk(big, sizeof(big) - 1, &s), -1, "a key longer than any path is refused");
	}
	T_EQ_INT(statusdoc_u64("{\"window_s\":99999999999999999999999}", 36, "window_s", &v), -1,
		 "an overlong number is no window");
	T_EQ_INT(statusdoc_u64("{\"window_s\":-5}", 15, "window_s", &v), -1, "a negative one neither");
	return T_DONE();
}
