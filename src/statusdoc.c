/* statusdoc.c - a bounded walk over the daemon's JSON status document */
#include <string.h>

#include "statusdoc.h"

struct walk {
	const char *p, *end;
	char path[STATUSDOC_PATH_MAX];
	size_t plen;
	int depth;
	statusdoc_fn fn;
	void *arg;
};

static void ws(struct walk *w)
{
	while (w->p < w->end && (*w->p == ' ' || *w->p == '\t' || *w->p == '\r' || *w->p == '\n'))
		w->p++;
}

/* At a '"': the string's bytes, and w->p past the closing quote.  A
 * backslash takes the next byte with it; no closing quote is an error. */
static int string(struct walk *w, const char **s, size_t *n)
{
	const char *q = w->p + 1;

	while (q < w->end && *q != '"') {
		if (*q == '\\' && ++q == w->end)
			return -1;
		q++;
	}
	if (q >= w->end)
		return -1;
	*s = w->p + 1;
	*n = q - *s;
	w->p = q + 1;
	return 0;
}

static int value(struct walk *w);

static int object(struct walk *w)
{
	size_t base = w->plen;

	if (++w->depth > STATUSDOC_DEPTH_MAX)
		return -1;
	w->p++;		/* '{' */
	ws(w);
	if (w->p < w->end && *w->p == '}') {
		w->p++;
		w->depth--;
		return 0;
	}
	for (;;) {
		const char *k;
		size_t kn, dot = base ? 1 : 0;

		ws(w);
		if (w->p >= w->end || *w->p != '"' || string(w, &k, &kn) < 0)
			return -1;
		if (base + dot + kn >= sizeof(w->path))
			return -1;
		if (dot)
			w->path[base] = '.';
		memcpy(w->path + base + dot, k, kn);
		w->plen = base + dot + kn;
		w->path[w->plen] = '\0';
		ws(w);
		if (w->p >= w->end || *w->p != ':')
			return -1;
		w->p++;
		if (value(w) < 0)
			return -1;
		w->plen = base;
		w->path[base] = '\0';
		ws(w);
		if (w->p >= w->end)
			return -1;
		if (*w->p == ',') {
			w->p++;
			continue;
		}
		if (*w->p != '}')
			return -1;
		w->p++;
		w->depth--;
		return 0;
	}
}

static int value(struct walk *w)
{
	const char *s;
	size_t n;

	ws(w);
	if (w->p >= w->end)
		return -1;
	if (*w->p == '{')
		return object(w);
	if (*w->p == '"') {
		if (string(w, &s, &n) < 0)
			return -1;
		if (w->fn)
			w->fn(w->path, s, n, w->arg);
		return 0;
	}
	/* number or literal: up to the next delimiter (no arrays here) */
	s = w->p;
	while (w->p < w->end && !strchr(",}] \t\r\n{[\":", *w->p))
		w->p++;
	if (w->p == s)
		return -1;
	if (w->fn)
		w->fn(w->path, s, w->p - s, w->arg);
	return 0;
}

int statusdoc_walk(const char *buf, size_t len, statusdoc_fn fn, void *arg)
{
	struct walk w = { .p = buf, .end = buf + len, .fn = fn, .arg = arg };

	ws(&w);
	if (w.p >= w.end || *w.p != '{' || object(&w) < 0)
		return -1;
	ws(&w);
	return w.p == w.end ? 0 : -1;
}

struct find {
	const char *path;
	uint64_t v;
	int found;
};

static void find_one(const char *path, const char *value, size_t len, void *arg)
{
	struct find *f = arg;
	uint64_t v = 0;
	size_t i;

	if (strcmp(path, f->path) != 0)
		return;
	for (i = 0; i < len && i < 19 && value[i] >= '0' && value[i] <= '9'; i++)
		v = v * 10 + (value[i] - '0');
	f->found = len > 0 && i == len ? 1 : -1;
	f->v = v;
}

int statusdoc_u64(const char *buf, size_t len, const char *path, uint64_t *v)
{
	struct find f = { .path = path };

	if (statusdoc_walk(buf, len, find_one, &f) < 0 || f.found != 1)
		return -1;
	*v = f.v;
	return 0;
}
