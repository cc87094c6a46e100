/* test_sharemsg.c - what the fleet reads from Redis and from its own
 * settings: only the exact forms are accepted, everything else refused
 * (the daemon counts it as garbage) */
#include <stdlib.h>
#include <string.h>

#include "sharemsg.h"
#include "t.h"

/* Parse a heap copy of exactly the message's bytes (no NUL after it),
 * so a read past the end trips ASan under make SAN=1. */
static int msg(const char *s, struct share_msg *m)
{
	size_t len = strlen(s);
	char *b = malloc(len ? len : 1);
	int rc;

	memcpy(b, s, len);
	rc = share_parse_msg(b, len, m);
	free(b);
	return rc;
}

static int key(const char *s, struct drac_addr *a)
{
	size_t len = strlen(s);
	char *b = malloc(len ? len : 1);
	int rc;

	memcpy(b, s, len);
	rc = share_parse_key("drac", b, len, a);
	free(b);
	return rc;
}

static void test_messages(void)
{
	static const char *const bad[] = {
		"",
		"G",
		"G 192.0.2.7 1700000000000 1700000000000",	     /* no host id */
		"G 192.0.2.7 1700000000000 1700000000000 0123456789abcdef x",
		"G  192.0.2.7 1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.7 1700000000000 1700000000000 0123456789abcdef ",
		" G 192.0.2.7 1700000000000 1700000000000 0123456789abcdef",
		"X 192.0.2.7 1700000000000 1700000000000 0123456789abcdef",
		"g 192.0.2.7 1700000000000 1700000000000 0123456789abcdef",
		"GR 192.0.2.7 1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.07 1700000000000 1700000000000 0123456789abcdef", /* not canonical */
		"G 2001:DB8::7 1700000000000 1700000000000 0123456789abcdef",
		"G 2001:db8:0::7 1700000000000 1700000000000 0123456789abcdef",
		"G ::ffff:192.0.2.7x 1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.0/24 1700000000000 1700000000000 0123456789abcdef",
		"G host.example 1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.7 -1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.7 +1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.7 17000000000000000 1700000000000 0123456789abcdef", /* 17 digits */
		"G 192.0.2.7 1.7e12 1700000000000 0123456789abcdef",
		"G 192.0.2.7 01700000000000 1700000000000 0123456789abcdef", /* two spellings */
		"G 192.0.2.7 1700000000000 1700000000000 0123456789ABCDEF",
		"G 192.0.2.7 1700000000000 1700000000000 0123456789abcde",
		"G 192.0.2.7 1700000000000 1700000000000 0123456789abcdeg",
		"G\t192.0.2.7 1700000000000 1700000000000 0123456789abcdef",
		"G 192.0.2.7\r 1700000000000 1700000000000 0123456789abcdef",
	};
	struct share_msg m;
	char buf[SHARE_MSG_MAX], a[ADDR_STRLEN];

	T_EQ_INT(msg("G 192.0.2.7 1700000000000 1699999999000 0123456789abcdef", &m), 0, "grant parses");
	T_OK(m.kind == SHARE_GRANT && m.t_ms == 1700000000000ULL && m.sent_ms == 1699999999000ULL &&
		     strcmp(m.host, "0123456789abcdef") == 0 &&
		     strcmp(addr_fmt(&m.addr, a, sizeof(a)), "192.0.2.7") == 0,
	     "grant fields");
	T_EQ_INT(msg("R 2001:db8::7 1700000000000 1700000000001 fedcba9876543210", &m), 0,
		 "IPv6 revocation parses");
	T_OK(m.kind == SHARE_REVOKE && m.addr.family == AF_INET6, "revocation fields");
	/* What we write, we read back. */
	share_fmt_msg(&m, buf, sizeof(buf));
	T_EQ_STR(buf, "R 2001:db8::7 1700000000000 1700000000001 fedcba9876543210", "formats back");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EQ_INT(msg(bad[i], &m), -1, "refused: \"%s\"", bad[i]);
	{
		char big[400];

		memset(big, '1', sizeof(big) - 1);
		big[sizeof(big) - 1] = 0;
		memcpy(big, "G 192.0.2.7 ", 12);
		T_EQ_INT(msg(big, &m), -1, "over-long message refused");
	}
}

static void test_keys(void)
{
	struct drac_addr a;
	char buf[128];

	T_EQ_INT(key("drac:g:192.0.2.7", &a), SHARE_GRANT, "grant key");
	T_EQ_INT(key("drac:r:2001:db8::7", &a), SHARE_REVOKE, "tombstone key");
	T_EQ_INT(a.family, AF_INET6, "its family");
	T_EQ_INT(share_fmt_key("drac", SHARE_GRANT, &a, buf, sizeof(buf)), 18, "formats");
	T_EQ_STR(buf, "drac:g:2001:db8::7", "the grant key of an IPv6 address");
	T_EQ_INT(share_fmt_key("drac", SHARE_GRANT, &a, buf, 10), -1, "too small a buffer");
	static const char *const bad[] = {
		"drac:x:192.0.2.7", "drac:g:", "drac:g:192.0.2.07", "drac:g:not-an-address",
		"drac:g:192.0.2.7 ", "drac:g:192.0.2.0/24", "drac:zzz", "drac", "dracx:g:192.0.2.7",
		"other:g:192.0.2.7", "drac:gg:192.0.2.7", "drac:g:2001:DB8::7", "drac:g:127.0.0.1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EQ_INT(key(bad[i], &a), -1, "refused key \"%s\"", bad[i]);
}

static void test_settings(void)
{
	struct share_endpoint ep;
	struct share_hostport hp[SHARE_MAX_SENTINELS];
	char err[256], user[64], pass[64];

	T_EQ_INT(share_parse_endpoint("", &ep, err, sizeof(err)), 1, "empty is off");
	T_EQ_INT(share_parse_endpoint("redis://192.0.2.5", &ep, err, sizeof(err)), 0, "host only");
	T_OK(ep.hp.port == 6379 && ep.db == 0 && strcmp(ep.hp.host, "192.0.2.5") == 0, "defaults");
	T_EQ_INT(share_parse_endpoint("redis://[2001:db8::5]:6380/3", &ep, err, sizeof(err)), 0, "v6");
	T_OK(ep.hp.port == 6380 && ep.db == 3 && strcmp(ep.hp.host, "2001:db8::5") == 0, "v6 parts");
	T_EQ_INT(share_parse_endpoint("redis://redis.example:6379/0", &ep, err, sizeof(err)), 0,
		 "a name");
	T_EQ_INT(share_parse_endpoint("unix:/run/redis/redis.sock", &ep, err, sizeof(err)), 0, "unix");
	T_OK(ep.is_unix && strcmp(ep.path, "/run/redis/redis.sock") == 0, "unix path");
	static const char *const bad[] = {
		"redis://", "redis://:6379", "redis://h:0", "redis://h:65536", "redis://h:x",
		"redis://h/x", "redis://user:pw@h", "redis://2001:db8::5", "redis://[192.0.2.5]:1",
		"unix:relative", "http://h", "redis://h;rm", "redis://h:6379/99999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EQ_INT(share_parse_endpoint(bad[i], &ep, err, sizeof(err)), -1,
			 "refused endpoint \"%s\" (%s)", bad[i], err);
	T_EQ_INT(share_parse_sentinels("192.0.2.5:26379, [2001:db8::5]:26379 s3:1", hp, err,
				       sizeof(err)), 3, "three sentinels");
	T_EQ_INT(share_parse_sentinels("192.0.2.5", hp, err, sizeof(err)), -1, "a port is needed");
	T_EQ_INT(share_parse_sentinels("a:1 b:1 c:1 d:1 e:1 f:1 g:1 h:1 i:1", hp, err, sizeof(err)), -1,
		 "at most 8");
	T_EQ_INT(share_parse_prefix("drac", err, sizeof(err)), 0, "prefix");
	T_EQ_INT(share_parse_prefix("dr*c", err, sizeof(err)), -1, "no glob in a prefix");
	T_EQ_INT(share_parse_prefix("", err, sizeof(err)), -1, "no empty prefix");
	T_EQ_INT(share_parse_auth("s3cret\n", user, sizeof(user), pass, sizeof(pass), err, sizeof(err)),
		 0, "password only");
	T_OK(!*user && strcmp(pass, "s3cret") == 0, "password read");
	T_EQ_INT(share_parse_auth("drac s3cret\r\n", user, sizeof(user), pass, sizeof(pass), err,
				  sizeof(err)), 0, "user and password");
	T_OK(strcmp(user, "drac") == 0 && strcmp(pass, "s3cret") == 0, "both read");
	T_EQ_INT(share_parse_auth("\n", user, sizeof(user), pass, sizeof(pass), err, sizeof(err)), -1,
		 "empty refused");
	T_EQ_INT(share_parse_auth("a b c\n", user, sizeof(user), pass, sizeof(pass), err, sizeof(err)),
		 -1, "three words refused");
	T_EQ_INT(share_parse_auth(" x\n", user, sizeof(user), pass, sizeof(pass), err, sizeof(err)), -1,
		 "empty user refused");
}

int main(void)
{
	test_messages();
	test_keys();
	test_settings();
	return t_failed != 0;
}
