/* t.h - the smallest test harness: one "ok"/"not ok" line per check,
 * counted by tests/run.  Exit status is non-zero when a check failed. */
#ifndef DRAC_T_H
#define DRAC_T_H

#include <stdio.h>
#include <string.h>

static int t_failed, t_count;

#define T_OK(cond, ...)                                                  \
	do {                                                             \
		t_count++;                                               \
		if (cond) {                                              \
			printf("ok %d - ", t_count);                     \
		} else {                                                 \
			t_failed++;                                      \
			printf("not ok %d - %s:%d: ", t_count, __FILE__, \
			       __LINE__);                                \
		}                                                        \
		printf(__VA_ARGS__);                                     \
		putchar('\n');                                           \
	} while (0)

#define T_EQ_INT(got, want, ...)                                               \
	do {                                                                   \
		long long t_g = (long long)(got), t_w = (long long)(want);    \
		T_OK(t_g == t_w, __VA_ARGS__);                                 \
		if (t_g != t_w)                                                \
			printf("#   got %lld, want %lld\n", t_g, t_w);        \
	} while (0)

#define T_EQ_STR(got, want, ...)                                               \
	do {                                                                   \
		const char *t_g = (got), *t_w = (want);                        \
		int t_same = t_g && t_w && strcmp(t_g, t_w) == 0;              \
		T_OK(t_same, __VA_ARGS__);                                     \
		if (!t_same)                                                   \
			printf("#   got \"%s\", want \"%s\"\n",               \
			       t_g ? t_g : "(null)", t_w ? t_w : "(null)");   \
	} while (0)

#define T_DONE() (fflush(stdout), t_failed ? 1 : 0)

#endif
