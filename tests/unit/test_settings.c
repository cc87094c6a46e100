/* test_settings.c - the settings file: values, bounds, errors by line */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "addr.h"
#include "settings.h"
#include "t.h"

static const char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/drac-settings-%d", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static int load(struct settings *s, const char *text, char *err, size_t len)
{
	settings_free(s);
	settings_defaults(s);
	err[0] = '\0';
	return settings_load(s, write_tmp(text), true, err, len);
}

int main(void)
{
	struct settings s;
	char err[512];
	uint64_t ms;
	struct drac_addr a;

	settings_defaults(&s);
	T_EQ_INT(s.window_ms, 30 * 60 * 1000, "default window is 30 minutes");
	T_OK(!s.enable, "ENABLE_DRAC defaults to no");
	T_EQ_STR(s.map_path, "/etc/dracd/dracd.db", "default map path");
	T_EQ_INT(s.n_pop3, 1, "one POP3 port by default");
	T_EQ_INT(s.pop3_ports[0], 110, "POP3 port 110");
	T_EQ_INT(s.imap_ports[0], 143, "IMAP port 143");

	T_EQ_INT(load(&s, "# classic file\nENABLE_DRAC=\"yes\"\nEXPIRE_TIME=\"45\"\n", err, sizeof(err)), 0,
		 "classic sysconfig file loads: %s", err);
	T_OK(s.enable, "ENABLE_DRAC=yes");
	T_EQ_INT(s.window_ms, 45 * 60000, "EXPIRE_TIME in minutes");
	T_EQ_INT(load(&s, "export EXPIRE_TIME=90s # short\nDRAC_POP3_PORTS='110 1110'\n"
			  "DRAC_TRUSTED=\"10.0.0.0/8, 2001:db8:1::/48\"\n", err, sizeof(err)), 0,
		 "export, units, single quotes, comments: %s", err);
	T_EQ_INT(s.window_ms, 90000, "90s");
	T_EQ_INT(s.n_pop3, 2, "two POP3 ports");
	addr_parse("10.1.2.3", &a);
	T_OK(netlist_match(&s.trusted, &a), "10.1.2.3 is trusted");
	addr_parse("2001:db8:1::5", &a);
	T_OK(netlist_match(&s.trusted, &a), "2001:db8:1::5 is trusted");
	addr_parse("2001:db8:2::5", &a);
	T_OK(!netlist_match(&s.trusted, &a), "2001:db8:2::5 is not");

	T_EQ_INT(load(&s, "EXPIRE_TIME=\"30\"\nEXPIRE_TIME=\"0\"\n", err, sizeof(err)), -1, "window 0 refused");
	T_OK(strstr(err, ":2:") != NULL, "error names line 2: %s", err);
	T_EQ_INT(load(&s, "EXPIRE_TIME=\"5256000\"\n", err, sizeof(err)), -1, "ten years refused: %s", err);
	T_EQ_INT(load(&s, "\n\nDRAC_POP3_PORTS=\"110 99999\"\n", err, sizeof(err)), -1, "bad port refused");
	T_OK(strstr(err, ":3:") && strstr(err, "99999"), "names line 3 and the port: %s", err);
	T_EQ_INT(load(&s, "ENABLE_DRAC=maybe\n", err, sizeof(err)), -1, "bad boolean: %s", err);
	T_EQ_INT(load(&s, "EXPIRE_TIME=\"30\n", err, sizeof(err)), -1, "unterminated quote: %s", err);
	T_EQ_INT(load(&s, "EXPIRE_TIME=$(reboot)\n", err, sizeof(err)), -1, "no shell expansion: %s", err);
	T_EQ_INT(load(&s, "this is not a setting\n", err, sizeof(err)), -1, "garbage line: %s", err);
	T_EQ_INT(load(&s, "DRAC_TRUSTED=\"10.0.0.0/33\"\n", err, sizeof(err)), -1, "bad network: %s", err);
	T_EQ_INT(load(&s, "\nDRAC_TRUSTED=\"10.0.0.0/8 ::ffff:192.0.2.0/120\"\n", err, sizeof(err)), -1,
		 "IPv4-mapped trusted network refused: %s", err);
	T_OK(strstr(err, ":2:") && strstr(err, "::ffff:192.0.2.0/120"), "names line 2 and the entry: %s", err);
	T_EQ_INT(load(&s, "DRAC_MAP=relative/path\n", err, sizeof(err)), -1, "relative map path: %s", err);
	T_EQ_INT(load(&s, "DRAC_OPTIONS=\"-x\"\n", err, sizeof(err)), 0, "unknown keys only warn");

	/* A bad file leaves the previous values in force (SIGHUP). */
	load(&s, "EXPIRE_TIME=\"7\"\n", err, sizeof(err));
	T_EQ_INT(settings_load(&s, write_tmp("EXPIRE_TIME=\"8\"\nBAD LINE\n"), true, err, sizeof(err)),
		 -1, "second file is bad");
	T_EQ_INT(s.window_ms, 7 * 60000, "old value stays after a bad reload");
	T_EQ_INT(settings_load(&s, "/nonexistent/dracd", false, err, sizeof(err)), 0, "missing optional file is fine");
	T_EQ_INT(settings_load(&s, "/nonexistent/dracd", true, err, sizeof(err)), -1, "missing -c file is an error");

	T_EQ_INT(parse_window("2h", &ms, err, sizeof(err)), 0, "2h");
	T_EQ_INT(ms, 7200000, "2h in ms");
	T_EQ_INT(parse_window("1x", &ms, err, sizeof(err)), -1, "unknown unit");
	T_EQ_INT(parse_window("-5", &ms, err, sizeof(err)), -1, "negative");
	T_EQ_INT(parse_window("", &ms, err, sizeof(err)), -1, "empty");
	settings_free(&s);
	unlink(write_tmp(""));
	return T_DONE();
}
