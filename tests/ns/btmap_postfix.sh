#!/bin/bash
# btmap_postfix.sh - the mirror's map as a real smtpd sees it: written by
# mirror.c (new file + rename), read by check_client_access btree:MAP.
# A change must decide the very next SMTP connection, IPv4 and IPv6, also
# within the second in which smtpd opened the map; expiry and deletion
# take relaying away again; smtpd never logs a table error.
source "$(dirname "$0")/../lib/t.sh"
source "$(dirname "$0")/../lib/world.sh"

command -v postfix >/dev/null || skip_all "postfix not installed"
[ -e "$BIN/libdraccore.a" ] || skip_all "build first ($BIN/libdraccore.a)"

world_up || { nok "world_up"; exit 1; }

# A one-shot writer around the mirror API, as dracd uses it after a
# restart: load the map, apply the changes, tick (which writes).
cat > "$WORLD/mapw.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "mirror.h"

int main(int argc, char **argv)
{
	struct mirror_config cfg = { .map_path = argv[1] };
	struct timespec ts;
	struct mirror *m;
	uint64_t now;
	int i, rc;

	log_init("mapw", LOG_TO_STDERR, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (argc < 2 || !(m = mirror_new(&cfg)))
		return 2;
	if (mirror_load(m, now) < 0 && mirror_write_now(m) < 0)
		return 1;
	for (i = 2; i < argc; i++) {
		struct drac_addr a;

		if (!strcmp(argv[i], "set") && i + 2 < argc &&
		    addr_parse(argv[i + 1], &a) == 0) {
			mirror_set(m, &a, now + strtoull(argv[i + 2], NULL, 10) * 1000);
			i += 2;
		} else if (!strcmp(argv[i], "del") && i + 1 < argc &&
			   addr_parse(argv[i + 1], &a) == 0) {
			mirror_del(m, &a);
			i += 1;
		} else {
			fprintf(stderr, "mapw: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	rc = mirror_tick(m, now);
	mirror_free(m);
	return rc < 0;
}
EOF
mapw_cc() {
	${CC:-cc} "$@" -D_GNU_SOURCE -I"$TOP/src" -o "$WORLD/mapw" "$WORLD/mapw.c" \
		"$BIN/libdraccore.a" -ldb-5.3 2>"$WORLD/mapw.err"
}
# A library built with SAN=1 needs the sanitizer runtimes at link time.
if ! mapw_cc && ! mapw_cc -fsanitize=address,undefined; then
	nok "build the writer: $(head -3 "$WORLD/mapw.err")"
	exit 1
fi
mapw() { "$WORLD/mapw" "$MAPDB" "$@" 2>>"$WORLD/mapw.log"; }
rcpt() { world_smtp_rcpt "$1" "$2" 25; }

mkdir -m 755 "$WORLD/map"
MAP=$WORLD/map/dracd MAPDB=$WORLD/map/dracd.db

check "the mirror creates the empty map" mapw
check "map is mode 0644" test "$(stat -c %a "$MAPDB")" = 644
check "the empty map reads as empty" test -z "$(world_map_dump "$MAP")"

world_postfix_start "$MAP" || { nok "postfix start"; exit 1; }

check "IPv4 client not authorised: 554" test "$(rcpt c1 $SRV4)" = 554
check "IPv6 client not authorised: 554" test "$(rcpt c1 $SRV6)" = 554

check "add 192.0.2.2" mapw set $C1_4 60
check "postmap -q finds 192.0.2.2" test -n "$(world_map_get "$MAP" $C1_4)"
r=$(rcpt c1 $SRV4)
check "next IPv4 connection relays: $r" test "$r" = 250
r=$(rcpt c1 $SRV6)
check "IPv6 of the same client still refused: $r" test "$r" = 554

check "add 2001:db8::2" mapw set $C1_6 60
check "postmap -q finds 2001:db8::2" test -n "$(world_map_get "$MAP" $C1_6)"
r=$(rcpt c1 $SRV6)
check "next IPv6 connection relays: $r" test "$r" = 250

# Within one second of smtpd opening the table: the mtime second cannot
# tell, the unlinked inode (st_nlink 0) does.
sec() { date +%s; }
for try in 1 2 3; do
	t0=$(sec)
	r1=$(rcpt c2 $SRV4)
	mapw set $C2_4 60
	r2=$(rcpt c2 $SRV4)
	[ "$(sec)" = "$t0" ] && break
	mapw del $C2_4
done
check "same second: refused before the write ($r1)" test "$r1" = 554
check "same second: relays right after the write ($r2)" test "$r2" = 250

check "delete 192.0.2.2" mapw del $C1_4
r=$(rcpt c1 $SRV4)
check "deleted: next connection refused again ($r)" test "$r" = 554
check "postmap -q no longer finds it" test -z "$(world_map_get "$MAP" $C1_4)"
r=$(rcpt c1 $SRV6)
check "IPv6 entry untouched: $r" test "$r" = 250

check "add 192.0.2.2 for 1 s" mapw set $C1_4 1
r=$(rcpt c1 $SRV4)
check "relays inside the window: $r" test "$r" = 250
sleep 1.3
check "a later run drops the expired entry" mapw
check "expired entry gone from the map" test -z "$(world_map_get "$MAP" $C1_4)"
r=$(rcpt c1 $SRV4)
check "expired: refused ($r)" test "$r" = 554

check "no temporary files left" test -z "$(ls "$WORLD/map" | grep -v '^dracd\.db\(\.lock\)\?$')"
check_not "smtpd logged no table error" \
	grep -E "fatal|error reading|Server configuration error|unknown smtpd restriction" \
	"$WORLD_POSTFIX_LOG"
check "smtpd saw the changes (table has changed -- restarting)" \
	grep -q "has changed -- restarting" "$WORLD_POSTFIX_LOG"
check "the writer logged no error" test ! -s "$WORLD/mapw.log" -o \
	-z "$(grep -E 'error|warning' "$WORLD/mapw.log")"
t_done
