/* test_addr.c - host addresses and networks, both families */
#include "addr.h"
#include "t.h"

static const char *roundtrip(const char *in)
{
	static char buf[ADDR_STRLEN];
	struct drac_addr a;

	if (addr_parse(in, &a) < 0)
		return "(bad)";
	return addr_fmt(&a, buf, sizeof(buf));
}

int main(void)
{
	struct drac_addr a;
	struct drac_net n;
	struct netlist l = { 0 };
	char bad[64];

	T_EQ_STR(roundtrip("192.0.2.7"), "192.0.2.7", "dotted quad");
	T_EQ_STR(roundtrip("2001:DB8:0:0:0:0:0:2"), "2001:db8::2", "IPv6 printed compressed, lowercase (Postfix key form)");
	T_EQ_STR(roundtrip("::1"), "::1", "::1");
	T_EQ_STR(roundtrip("::ffff:192.0.2.1"), "::ffff:192.0.2.1", "mapped stays IPv6 until unmapped");
	const char *bads[] = { "", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "192.0.2.0/24", "host.example",
			       " 1.2.3.4", "1.2.3.4 ", "[::1]", "fe80::1%eth0", "0x7f.1.1.1", "::g" };
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		T_OK(addr_parse(bads[i], &a) < 0, "'%s' is not a host address", bads[i]);
	T_OK(addr_parse_n("192.0.2.77junk", 9, &a) == 0 && a.a[3] == 7, "addr_parse_n stops at len");

	addr_parse("::ffff:192.0.2.1", &a);
	addr_unmap(&a);
	T_EQ_INT(a.family, AF_INET, "unmapped to IPv4");
	T_EQ_STR(addr_fmt(&a, bad, sizeof(bad)), "192.0.2.1", "unmapped text");
	addr_parse("127.1.2.3", &a);
	T_OK(addr_is_loopback(&a), "127/8 is loopback");
	addr_parse("::1", &a);
	T_OK(addr_is_loopback(&a), "::1 is loopback");

	T_EQ_INT(net_parse("192.0.2.77/24", &n), 0, "network parses");
	T_EQ_INT(n.addr.a[3], 0, "host bits masked");
	addr_parse("192.0.2.200", &a);
	T_OK(net_contains(&n, &a), "192.0.2.200 in 192.0.2.0/24");
	addr_parse("192.0.3.1", &a);
	T_OK(!net_contains(&n, &a), "192.0.3.1 not in it");
	addr_parse("2001:db8::1", &a);
	T_OK(!net_contains(&n, &a), "other family never matches");
	T_EQ_INT(net_parse("2001:db8::/33", &n), 0, "odd IPv6 prefix");
	addr_parse("2001:db8:7fff::1", &a);
	T_OK(net_contains(&n, &a), "inside /33");
	addr_parse("2001:db8:8000::1", &a);
	T_OK(!net_contains(&n, &a), "outside /33");
	T_OK(net_parse("192.0.2.0/33", &n) < 0, "prefix too long");
	T_OK(net_parse("192.0.2.0/", &n) < 0, "empty prefix");
	T_OK(net_parse("192.0.2.0/-1", &n) < 0, "negative prefix");
	T_EQ_INT(netlist_parse(&l, "10.0.0.0/8, ::1  2001:db8::/64", bad, sizeof(bad)), 0, "list parses");
	T_EQ_INT(l.n, 3, "three networks");
	T_EQ_INT(netlist_parse(&l, "10.0.0.0/8 nonsense", bad, sizeof(bad)), -1, "bad list");
	T_EQ_STR(bad, "nonsense", "names the bad word");
	netlist_free(&l);
	return T_DONE();
}
