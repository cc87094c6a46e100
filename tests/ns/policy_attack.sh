#!/bin/bash
# policy_attack.sh - hostile checks of the policy service (DRAC_POLICY)
# against the real dracd, with real Postfix deciding relay by
# check_policy_service alone.  Each part is an attack; all but the third
# worked on the code before this file:
#
#  * the wall clock stepped back (NTP, an administrator's `date -s`):
#    the expiry the mirror keeps is wall-clock time, so a grant lived on
#    for as long as the clock went back while the kernel had dropped it.
#    dracd's own wall clock is moved by a small LD_PRELOAD shim that adds
#    an offset, read from a file, to CLOCK_REALTIME (the host's clock is
#    not touched); CLOCK_MONOTONIC stays real.
#  * the wall clock behind after a reboot: the map's expiry values were
#    taken as the truth and restored an hour of relay.
#  * revocation by drac del, nft delete element, nft flush set and drac
#    flush, followed by a firewall reload and a restart: held already
#    (kept as a regression test).
#  * a local user binds the unprivileged policy port while dracd is down
#    and answers OK: an open relay.  dracd cannot stop that; it now warns,
#    and the docs use a port below 1024.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

command -v postfix >/dev/null || skip_all "postfix not installed"
command -v cc >/dev/null || skip_all "no C compiler for the clock shim"
WINDOW=4
PORT=10040
export WORLD_TLS=0
# Under make SAN=1 the shim comes before ASan's runtime in dracd.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

world_up || { nok "world_up"; exit 1; }

# --- dracd with a movable wall clock -----------------------------------------
cat > "$WORLD/fakewall.c" <<'EOC'
/* CLOCK_REALTIME plus the signed milliseconds in $FAKEWALL_FILE. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *f = getenv("FAKEWALL_FILE");
	long long off = 0, ns;
	FILE *fp;
	int rc;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc || (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE) || !f || !(fp = fopen(f, "r")))
		return rc;
	if (fscanf(fp, "%lld", &off) != 1)
		off = 0;
	fclose(fp);
	ns = ts->tv_sec * 1000000000LL + ts->tv_nsec + off * 1000000LL;
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
	return rc;
}
EOC
cc -shared -fPIC -O2 -o "$WORLD/fakewall.so" "$WORLD/fakewall.c" -ldl ||
	{ nok "the clock shim builds"; exit 1; }
echo 0 > "$WORLD/wall_offset"
chmod 644 "$WORLD/wall_offset"

cat > "$WORLD/dracd.settings" <<EOS
DRAC_MAP="$WORLD/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
DRAC_POLICY="inet:127.0.0.1:$PORT"
EOS
DRACD_ARGS=(-d -e ${WINDOW}s -o DRAC_MAP_INTERVAL=20)
LD_PRELOAD=$WORLD/fakewall.so FAKEWALL_FILE=$WORLD/wall_offset dracd_start "${DRACD_ARGS[@]}" ||
	{ nok "dracd starts"; exit 1; }
check "dracd runs with the clock shim" grep -q fakewall.so "/proc/$DRACD_PID/maps"

world_postfix_start "$DRACD_MAP" \
	"smtpd_relay_restrictions = permit_mynetworks, check_policy_service inet:127.0.0.1:$PORT, reject_unauth_destination" \
	"smtpd_policy_service_default_action = DUNNO" "mydestination = example.org" ||
	{ nok "postfix starts"; exit 1; }
ok "dracd (policy service) and postfix running"

# ask ADDR [RAW]: one request straight to the service; prints its answer
# (action=... or "closed").
cat > "$WORLD/ask.py" <<'EOP'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
req = sys.argv[3].encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection((host, port), timeout=5)
s.sendall(req)
buf = b""
try:
    while not buf.endswith(b"\n\n"):
        d = s.recv(4096)
        if not d:
            break
        buf += d
except (socket.timeout, ConnectionResetError):
    pass
print(buf.decode("latin-1").strip().replace("\n", "|") or "closed")
EOP
ask_raw() { srv "$WORLD_PY" "$WORLD/ask.py" 127.0.0.1 $PORT "$1"; }
ask() { ask_raw "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=$1\n\n"; }
relay() { world_smtp_rcpt "$1" "$2" 25; }
not_in_map() { ! in_map "$1"; }
ask_is() { [ "$(ask "$1")" = "$2" ]; }
is() { local got; got=$(relay "$2" "$3"); echo "# relay from $2 via $3: $got"; [ "$got" = "$1" ]; }

# --- 1. the wall clock steps back during a grant ------------------------------
for fam in 4 6; do
	s=$SRV4 a=$C1_4
	[ $fam = 6 ] && s=$SRV6 a=$C1_6
	echo 0 > "$WORLD/wall_offset"
	drac add "$a" ${WINDOW}s >/dev/null
	wait_granted "$a" 2
	check "IPv$fam clock: a fresh grant relays (250)" is 250 c1 "$s"
	check "IPv$fam clock: and the service says OK" test "$(ask "$a")" = action=OK
	echo -3600000 > "$WORLD/wall_offset"	# dracd's clock goes back an hour
	sleep $((WINDOW + 2))
	check "IPv$fam clock: the kernel dropped it after the window" not_granted "$a" 0
	check "IPv$fam clock: stepped back an hour, the service says DUNNO after the window" \
		test "$(ask "$a")" = action=DUNNO
	check "IPv$fam clock: and Postfix refuses relay (554)" is 554 c1 "$s"
	check "IPv$fam clock: the btree map no longer holds it" eventually 2 not_in_map "$a"
	# A firewall reload brings back what the mirror holds, with the time
	# it believes is left: nothing, here.
	srv nft flush ruleset
	check "IPv$fam clock: after nft flush ruleset the table is back" \
		eventually 3 bash -c "ip netns exec $NS_SRV nft list set inet drac $(set_of "$a") >/dev/null 2>&1"
	check "IPv$fam clock: without the ended grant" not_granted "$a" 0.5
	check "IPv$fam clock: and the service still says DUNNO" test "$(ask "$a")" = action=DUNNO
	echo 0 > "$WORLD/wall_offset"
	drac del "$a" >/dev/null 2>&1
done
echo 0 > "$WORLD/wall_offset"

# --- 2. the clock goes back while dracd is down ------------------------------
# A reboot with the hardware clock an hour behind: the kernel sets are
# gone, the map is not, and its expiry values lie an hour further ahead
# than the time really left.
echo 0 > "$WORLD/wall_offset"
drac add "$C2_4" ${WINDOW}s >/dev/null
drac add "$C2_6" ${WINDOW}s >/dev/null
check "reboot: both grants reach the map" eventually 2 in_map "$C2_6"
check "reboot: the service says OK" test "$(ask "$C2_4")" = action=OK
dracd_stop
srv nft delete table inet drac
sleep $((WINDOW + 1))	# the windows are over
echo -3600000 > "$WORLD/wall_offset"
LD_PRELOAD=$WORLD/fakewall.so FAKEWALL_FILE=$WORLD/wall_offset dracd_start "${DRACD_ARGS[@]}" ||
	nok "dracd starts again"
# Without a clock nothing can tell how long dracd was down; the map's
# mtime says how much time had passed when it was written, so what is
# restored is at most what was left then: under WINDOW seconds, not an
# hour.
for a in "$C2_4" "$C2_6"; do
	check "reboot, clock an hour behind: $a leaves the kernel within the window" \
		eventually $((WINDOW + 1)) not_granted "$a" 0
	check "reboot, clock an hour behind: the service says DUNNO for $a" \
		eventually 2 ask_is "$a" action=DUNNO
	check "reboot, clock an hour behind: the map no longer holds $a" eventually 2 not_in_map "$a"
done
check "reboot, clock an hour behind: Postfix refuses relay (554)" is 554 c2 "$SRV4"
check "reboot, clock an hour behind: IPv6 too" is 554 c2 "$SRV6"
check "dracd said the map was written in the future" grep -q "written .* in the future" "$WORLD/dracd.log"
echo 0 > "$WORLD/wall_offset"

# --- 3. revocation, by every path, stays revoked --------------------------------
# Each way an administrator revokes must end relay at once, and neither a
# firewall reload (restore) nor a restart may bring the grant back.
revoke_by() {	# HOW ADDR
	case $1 in
	drac-del) drac del "$2" >/dev/null ;;
	nft-delete) srv nft delete element inet drac "$(set_of "$2")" "{ $2 }" ;;
	nft-flush-set) srv nft flush set inet drac "$(set_of "$2")" ;;
	drac-flush) drac flush >/dev/null ;;
	esac
}
for how in drac-del nft-delete nft-flush-set drac-flush; do
	for a in "$C1_4" "$C1_6"; do
		drac add "$a" 10m >/dev/null
		eventually 2 ask_is "$a" action=OK || nok "$how: $a granted first"
		revoke_by $how "$a"
		check "$how $a: the service says DUNNO at once" eventually 1 ask_is "$a" action=DUNNO
		srv nft flush ruleset
		eventually 3 bash -c "ip netns exec $NS_SRV nft list set inet drac $(set_of "$a") >/dev/null 2>&1"
		check "$how $a: a firewall reload does not bring it back" not_granted "$a" 0.5
		check "$how $a: nor the service's OK" ask_is "$a" action=DUNNO
	done
done
check "revoked: Postfix refuses relay (554)" is 554 c1 "$SRV4"
check "revoked: IPv6 too" is 554 c1 "$SRV6"
dracd_stop
LD_PRELOAD=$WORLD/fakewall.so FAKEWALL_FILE=$WORLD/wall_offset dracd_start "${DRACD_ARGS[@]}" ||
	nok "dracd starts again"
check "revoked: a restart does not bring $C1_4 back" ask_is "$C1_4" action=DUNNO
check "revoked: nor $C1_6" ask_is "$C1_6" action=DUNNO
check "revoked: nor into the kernel" not_granted "$C1_4" 0

# --- 4. a local user takes the port while dracd is not running ---------------
# Postfix trusts whatever answers on the policy address.  Port 10040 is
# unprivileged: while dracd is down (a restart, an upgrade, a crash) any
# local user may bind it and answer action=OK for every client, making
# an open relay.  dracd cannot prevent that; it must say so, and a port
# below 1024 (bound by dracd at start, as root) is out of their reach.
cat > "$WORLD/squat.py" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print("bind failed:", e, flush=True); sys.exit(1)
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    buf = b""
    while True:
        d = c.recv(4096)
        if not d:
            break
        buf += d
        while b"\n\n" in buf:
            buf = buf.split(b"\n\n", 1)[1]
            c.sendall(b"action=OK\n\n")
    c.close()
EOP
check "dracd warns that an unprivileged policy port can be taken by any local user" \
	grep -q "policy service inet:127.0.0.1:$PORT: port $PORT.*any local user" "$WORLD/dracd.log"
dracd_stop
world_spawn squat srv setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORLD_PY" -c "$(cat "$WORLD/squat.py")" $PORT
SQUAT=$WORLD_PID
if world_wait_log "$WORLD/squat.log" "listening|bind failed" 5 && grep -q listening "$WORLD/squat.log"; then
	r=$(relay c2 "$SRV4")
	echo "# dracd down, user nobody answering on 127.0.0.1:$PORT: relay from c2 (never granted): $r"
	ok "user nobody took 127.0.0.1:$PORT while dracd was down (relay from an ungranted client: $r)"
else
	echo "# the squatter could not bind 127.0.0.1:$PORT; not shown"
fi
sed "s/^/# squat: /" "$WORLD/squat.log"; : > "$WORLD/squat.log"; world_stop "$SQUAT"
# The remedy: a port below 1024, which dracd binds at start as root.
PPORT=940
sed -i '/^DRAC_POLICY=/d' "$DRACD_SETTINGS"
echo "DRAC_POLICY=\"inet:127.0.0.1:$PPORT\"" >> "$DRACD_SETTINGS"
LD_PRELOAD=$WORLD/fakewall.so FAKEWALL_FILE=$WORLD/wall_offset dracd_start "${DRACD_ARGS[@]}" ||
	nok "dracd starts on port $PPORT"
check "no such warning for a port below 1024" \
	bash -c "! grep -q 'port $PPORT.*any local user' '$WORLD/dracd.log'"
dracd_stop
world_spawn squat srv setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORLD_PY" -c "$(cat "$WORLD/squat.py")" $PPORT
SQUAT=$WORLD_PID
world_wait_log "$WORLD/squat.log" "bind failed" 5
check "with dracd down, user nobody cannot take port $PPORT" grep -q "bind failed.*Permission denied" "$WORLD/squat.log"
sed "s/^/# squat: /" "$WORLD/squat.log"; world_stop "$SQUAT"
LD_PRELOAD=$WORLD/fakewall.so FAKEWALL_FILE=$WORLD/wall_offset dracd_start "${DRACD_ARGS[@]}" ||
	nok "dracd starts again"

check "dracd is still running" kill -0 "$DRACD_PID"
t_done
