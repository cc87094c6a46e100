/* test_allow.c - dracd.allow parsing and caller matching */
#include <stdlib.h>
#include <unistd.h>

#include "allow.h"
#include "t.h"

static bool check(const struct allowlist *l, const char *ip)
{
	struct drac_addr a;

	if (addr_parse(ip, &a) < 0) {
		printf("# bad test address %s\n", ip);
		return false;
	}
	return allow_check(l, &a);
}

static int parse(const char *text, struct allowlist **l, char *err, size_t len)
{
	*l = NULL;
	err[0] = '\0';
	return allow_parse(text, strlen(text), "dracd.allow", l, err, len);
}

static void bad(const char *text, const char *want)
{
	struct allowlist *l;
	char err[300];
	int rc = parse(text, &l, err, sizeof(err));

	T_OK(rc < 0 && strstr(err, want) != NULL, "rejected with \"%s\" (%s)", want, err);
	T_OK(l == NULL, "no list on error");
}

int main(void)
{
	struct allowlist *l;
	char err[300];
	char path[] = "/tmp/test_allow.XXXXXX";
	int fd;

	/* the classic format */
	T_EQ_INT(parse("# trusted POP servers\n"
		       "255.255.255.255 127.0.0.1\n"
		       "\n"
		       "255.255.255.0\t192.0.2.0   # the mail LAN\n"
		       "   255.255.0.0 10.1.0.0\r\n", &l, err, sizeof(err)), 0, "classic file parses (%s)", err);
	T_EQ_INT(allow_count(l), 3, "three entries");
	T_OK(!allow_defaulted(l), "not the default");
	T_OK(check(l, "127.0.0.1"), "127.0.0.1 allowed");
	T_OK(!check(l, "127.0.0.2"), "127.0.0.2 not allowed by a host mask");
	T_OK(check(l, "192.0.2.77"), "192.0.2.77 in 192.0.2.0/255.255.255.0");
	T_OK(!check(l, "192.0.3.77"), "192.0.3.77 outside");
	T_OK(check(l, "10.1.200.3"), "10.1.200.3 in 10.1/16");
	T_OK(!check(l, "::ffff:192.0.2.9"), "IPv4-mapped caller never matches (forged on a V6ONLY socket)");
	T_OK(!check(l, "::ffff:127.0.0.1"), "not even ::ffff:127.0.0.1");
	T_OK(!check(l, "::1"), "no IPv6 entry: ::1 refused");
	T_OK(!check(l, "2001:db8::1"), "no IPv6 entry: 2001:db8::1 refused");
	allow_free(l);

	/* IPv6 masks, CIDR lines, non-contiguous masks as rpc.dracd allowed */
	T_EQ_INT(parse("ffff:ffff:ffff:ffff:: 2001:db8::\n"
		       "2001:db8:1::/48\n"
		       "192.0.2.128/25\n"
		       "255.0.255.0 10.0.7.0\n"
		       "::/0 # nonsense but legal: every IPv6 caller\n", &l, err, sizeof(err)), 0,
		 "IPv6 and CIDR lines parse (%s)", err);
	T_OK(check(l, "2001:db8::2"), "2001:db8::2 in the /64 mask");
	T_OK(check(l, "2001:db8:1:ffff::1"), "2001:db8:1:ffff::1 in /48");
	T_OK(check(l, "192.0.2.200"), "192.0.2.200 in /25");
	T_OK(!check(l, "192.0.2.100"), "192.0.2.100 outside /25");
	T_OK(check(l, "10.99.7.5"), "non-contiguous mask: 10.99.7.5 matches 255.0.255.0 10.0.7.0");
	T_OK(!check(l, "10.99.8.5"), "non-contiguous mask: 10.99.8.5 does not");
	T_OK(check(l, "fe80::1"), "::/0 matches any IPv6");
	allow_free(l);

	T_EQ_INT(parse("", &l, err, sizeof(err)), 0, "empty file parses");
	T_EQ_INT(allow_count(l), 0, "empty file: no entries");
	T_OK(!check(l, "127.0.0.1"), "empty file allows no one, not even loopback");
	allow_free(l);
	T_EQ_INT(parse("255.255.255.255 127.0.0.1", &l, err, sizeof(err)), 0, "last line without newline");
	T_OK(check(l, "127.0.0.1"), "and it counts");
	allow_free(l);

	/* malformed lines: FILE:LINE: reason, no list */
	bad("255.255.255.255 127.0.0.1\n255.255.255.0\n", "dracd.allow:2:");
	bad("# c\n\n255.255.255.0 192.0.2.1\n", "dracd.allow:3: netaddr 192.0.2.1 has bits outside");
	bad("255.255.255.0 192.0.2.0 extra\n", "dracd.allow:1: too many words");
	bad("255.255.255.0 192.0.2.0 a b c\n", "dracd.allow:1: too many words");
	bad("255.255.255.0 2001:db8::\n", "different families");
	bad("255.255.256.0 192.0.2.0\n", "bad netmask \"255.255.256.0\"");
	bad("255.255.255.0 192.0.2\n", "bad netaddr \"192.0.2\"");
	bad("255.255.255.0 0300.0.2.0\n", "bad netaddr");
	bad("192.0.2.1/24\n", "host bits set");
	bad("192.0.2.0/33\n", "bad network");
	bad("localhost\n", "is not \"netmask netaddr\"");
	bad("255.255.255.255 mailhost\n", "bad netaddr \"mailhost\"");
	bad("# lo\n::ffff:127.0.0.1/128\n", "dracd.allow:2: \"::ffff:127.0.0.1/128\" is an IPv4-mapped");
	bad("::ffff:192.0.2.0/120\n", "dracd.allow:1: \"::ffff:192.0.2.0/120\" is an IPv4-mapped");
	bad("::ffff:127.0.0.1/96\n", "IPv4-mapped");
	bad("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::ffff:127.0.0.1\n", "dracd.allow:1: \"::ffff:127.0.0.1\" is an IPv4-mapped");
	{
		char big[2000];

		memset(big, ' ', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		bad(big, "dracd.allow:1: line longer");
	}
	{
		struct allowlist *m = NULL;
		const char nul[] = "255.255.255.255 127.0.0.1\0 junk\n";
		int rc = allow_parse(nul, sizeof(nul) - 1, "x", &m, err, sizeof(err));

		T_OK(rc < 0 && strstr(err, "x:1: NUL"), "NUL byte inside a line is an error (%s)", err);
	}

	/* files: missing means the default, a bad one keeps nothing */
	T_EQ_INT(allow_load("/nonexistent/dracd.allow", &l, err, sizeof(err)), 0, "missing file loads");
	T_OK(allow_defaulted(l), "missing file: default list");
	T_OK(check(l, "127.0.0.1"), "default allows 127.0.0.1");
	T_OK(check(l, "::1"), "default allows ::1");
	T_OK(!check(l, "127.0.0.2"), "default refuses 127.0.0.2");
	T_OK(!check(l, "192.0.2.1"), "default refuses 192.0.2.1");
	allow_free(l);

	fd = mkstemp(path);
	T_OK(fd >= 0, "temp file");
	if (write(fd, "255.255.255.0 192.0.2.0\nbogus line\n", 35) != 35)
		T_OK(0, "write");
	l = NULL;
	T_EQ_INT(allow_load(path, &l, err, sizeof(err)), -1, "bad file fails to load");
	T_OK(strncmp(err, path, strlen(path)) == 0 && strstr(err, ":2: "), "error names %s:2 (%s)", path, err);
	T_OK(l == NULL, "output untouched");
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0 ||
	    write(fd, "255.255.255.0 192.0.2.0\n", 24) != 24)
		T_OK(0, "rewrite");
	T_EQ_INT(allow_load(path, &l, err, sizeof(err)), 0, "fixed file loads (%s)", err);
	T_OK(check(l, "192.0.2.3") && !check(l, "127.0.0.1"), "file replaces the default");
	allow_free(l);
	close(fd);
	unlink(path);
	T_EQ_INT(allow_load("/tmp", &l, err, sizeof(err)), -1, "a directory is refused");
	T_OK(strstr(err, "not a regular file") != NULL, "with a reason (%s)", err);
	return T_DONE();
}
