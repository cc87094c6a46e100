#!/bin/bash
# The btree map closes on time whatever happens to dracd (issue 11): real
# Postfix with check_client_access btree:MAP answers relay RCPTs.
#   - SIGTERM: the map is emptied at once, the grants come back with the
#     next start (also after nft flush ruleset while dracd was down)
#   - SIGKILL under the init script (stop path, and a start that fails)
#     and under the unit's ExecStopPost command line: map emptied
#   - a full file system (small tmpfs) and a read-only one: the real cause
#     in the log and in drac status, and no relay after the window ends
#     (full: the ended grant is taken out in place, 554; read-only: the
#     map's lock is held, RCPT gets no answer).  Removing the map, the
#     fallback when not even that works, is in tests/unit/test_mirror.c;
#     Postfix then answers 451 4.3.5 and needs `postfix reload` after.
#   - a DRAC_USER that cannot write the map directory: dracd refuses
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

command -v postfix >/dev/null 2>&1 || skip_all "postfix is not installed"
world_up || { nok "world_up"; exit 1; }
note() { sed 's/^/# /' <<< "$*"; }

# The map directory: a small tmpfs of its own (filled and made read-only
# below), owned by the unprivileged user dracd runs as.
MAPDIR=$WORLD/map
mkdir -p "$MAPDIR"
mount -t tmpfs -o size=512k,mode=755 tmpfs "$MAPDIR" || { nok "tmpfs for the map"; exit 1; }
world_on_cleanup "umount -l '$MAPDIR'"
chown nobody: "$MAPDIR"
S=$WORLD/dracd.settings
cat > "$S" <<EOS
ENABLE_DRAC="yes"
DRAC_MAP="$MAPDIR/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
DRAC_USER="nobody"
DRAC_TAP="no"
EXPIRE_TIME="1h"
EOS
# Mail to example.org is local: it shows what a lookup error costs.
world_postfix_start "$MAPDIR/dracd" "mydestination = example.org" ||
	{ nok "postfix starts"; exit 1; }
# world_map_write made the empty map and its lock file as root: dracd
# makes its own lock file.
rm -f "$MAPDIR/dracd.db.lock"
relay() { world_smtp_rcpt "$1" "$SRV4" 25; }
local_mail() { world_smtp_rcpt "$1" "$SRV4" 25 --rcpt user@example.org; }
is() { [ "$($1 "$2")" = "$3" ]; }	# is relay|local_mail c1|c2 CODE
state_has() { db5.3_dump -p "$MAPDIR/dracd.db.state" 2>/dev/null | grep -q "^ $1"; }
status_field() { drac status | awk -v k="$1" '$1 == k { print $2 }'; }
status_error() { drac status | grep -q "map.error .*$1"; }
until_s() { local n=$(( $1 - $(date +%s) )); [ $n -gt 1 ] && echo $n || echo 1; }
dracd_pid() { cat "$WORLD/dracd.pid" 2>/dev/null; }

# --- SIGTERM ---------------------------------------------------------------------
dracd_start || { nok "dracd starts"; exit 1; }
drac add "$C1_4" 4s >/dev/null
drac add "$C2_4" >/dev/null
check "a granted client relays (250)" eventually 2 is relay c1 250
t_grant=$(date +%s)
check "the other too" is relay c2 250
dracd_stop
check_not "after SIGTERM the map holds no grant" in_map "$C1_4"
check_not "  nor the other" in_map "$C2_4"
check "the state file keeps them" state_has "$C1_4"
check "  both" state_has "$C2_4"
check "the kernel set keeps them" granted "$C2_4"
sleep $(( t_grant + 5 - $(date +%s) ))
r=$(relay c1)
check "SIGTERM, then the window passes: no relay ($r)" test "$r" = 554
check "dracd stopped: no relay for unexpired grants either" is relay c2 554
check "mail to a local domain still flows" is local_mail c2 250
# Everything in the kernel is lost while dracd is down (as after a
# firewall reload): the state file brings the grant back.
srv nft flush ruleset
dracd_start || nok "dracd restarts"
check "after a restart the unexpired grant is back in the map" eventually 2 in_map "$C2_4"
check "and in the kernel set" granted "$C2_4"
check "and relays" is relay c2 250
check_not "the ended window stays ended" in_map "$C1_4"
check_not "the state file is gone once the map holds its grants" test -e "$MAPDIR/dracd.db.state"
dracd_stop

# --- SIGKILL under the init script --------------------------------------------------
initd() { srv env DRACD_DAEMON="$BIN/dracd" DRACD_DEFAULTS="$S" DRACD_STOP_TIMEOUT=5 \
	sh "$TOP/init/dracd.init" "$@"; }
out=$(initd start 2>&1); rc=$?
check "init script: start" test $rc -eq 0
[ $rc -eq 0 ] || note "$out"
drac add "$C1_4" >/dev/null
check "init script: a grant relays" eventually 2 is relay c1 250
kill -9 "$(dracd_pid)"
sleep 0.2
check "kill -9: the map still grants (nobody emptied it yet)" is relay c1 250
out=$(initd stop 2>&1); rc=$?
note "$out"
check "init script stop after kill -9 exits 0" test $rc -eq 0
check "and empties the map: no relay (554)" is relay c1 554
check "the grant is kept in the state file" state_has "$C1_4"
initd start >/dev/null 2>&1
check "init script start brings the grant back" eventually 2 is relay c1 250
# The start path: the previous dracd died, and the new one cannot start.
kill -9 "$(dracd_pid)"
sleep 0.2
cp "$S" "$S.good"
echo "DRAC_LOGHOOK_SOCKET=\"$WORLD/no/such/dir/sock\"" >> "$S"
out=$(initd start 2>&1); rc=$?
note "$out"
check "a start that fails exits non-zero" test $rc -ne 0
check "and still empties the map the dead dracd left (554)" is relay c1 554
cp "$S.good" "$S"
initd start >/dev/null 2>&1
check "a good start brings the grant back" eventually 2 is relay c1 250
initd stop >/dev/null 2>&1

# --- SIGKILL under the systemd unit's stop path ---------------------------------------
UNIT=$TOP/init/dracd.service
post=$(sed -n 's/^ExecStopPost=-\{0,1\}//p' "$UNIT")
check "the unit has an ExecStopPost that empties the map ($post)" \
	bash -c "case '$post' in /usr/sbin/dracd*--clear-map*) exit 0;; esac; exit 1"
# That command line, with the test's daemon, settings and pid file, under
# the unit's capability bounding set.
post=${post/\/usr\/sbin\/dracd/$BIN/dracd -c $S}
post=${post//\/run\/dracd.pid/$WORLD/dracd.pid}
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
dracd_start || nok "dracd starts"
drac add "$C1_4" >/dev/null
check "a grant relays" eventually 2 is relay c1 250
kill -9 "$DRACD_PID"; wait "$DRACD_PID" 2>/dev/null
out=$(srv setpriv --bounding-set "-all,$caps" --no-new-privs $post 2>&1); rc=$?
note "ExecStopPost: $out"
check "ExecStopPost after kill -9 exits 0" test $rc -eq 0
check "and empties the map: no relay (554)" is relay c1 554
dracd_start || nok "dracd restarts"
check "the next start brings the grant back" eventually 2 is relay c1 250
revoke_all
eventually 2 is relay c1 554

# --- a full file system ---------------------------------------------------------------
drac add "$C1_4" 5s >/dev/null
t_grant=$(date +%s)
check "full disk: a grant relays before the disk fills" eventually 2 is relay c1 250
dd if=/dev/zero of="$MAPDIR/fill" bs=4k >/dev/null 2>&1
drac add "$C2_4" >/dev/null
check "a write on a full disk logs the real cause (ENOSPC)" \
	world_wait_log "$WORLD/dracd.log" "cannot write .*dracd.db: .*No space left on device" 3
grep 'cannot write' "$WORLD/dracd.log" | tail -1 | sed 's/^/# /'
check "drac status: map.stale_since is set" test "$(status_field map.stale_since)" -gt 0
check "drac status: map.error names it" status_error "No space left on device"
check_not "a grant that could not be written does not relay" is relay c2 250
# The first grant ends while the map cannot be rewritten: it is taken
# out of the map in place (no new page needed), and Postfix keeps
# answering for everybody else.
check "when a window ends, it is taken out of the map in place" \
	world_wait_log "$WORLD/dracd.log" "took 1 ended grants out of .*dracd.db in place" "$(until_s $((t_grant + 14)))"
r1=$(relay c1) r2=$(local_mail c2)
note "full disk, window over: relay from the expired client -> $r1, mail to a local domain -> $r2"
check "no relay after the window ($r1)" test "$r1" = 554
check "mail to a local domain still flows ($r2)" test "$r2" = 250
check "drac status: map.removed 0 (the map stays)" test "$(status_field map.removed)" = 0
rm -f "$MAPDIR/fill"
check "the disk has room again: the map is written" \
	world_wait_log "$WORLD/dracd.log" "wrote .*dracd.db again after" 7
check "drac status: map.stale_since back to 0" test "$(status_field map.stale_since)" = 0
check "the grant made while the disk was full relays now" eventually 2 is relay c2 250
check "the ended one does not" is relay c1 554

# dracd dies while the disk is full: the clean-up empties the map in
# place (no room for an empty file, nor for the state file).
drac add "$C1_4" >/dev/null
eventually 2 is relay c1 250
dd if=/dev/zero of="$MAPDIR/fill" bs=4k >/dev/null 2>&1
kill -9 "$DRACD_PID"; wait "$DRACD_PID" 2>/dev/null
out=$(srv $post 2>&1); rc=$?
note "ExecStopPost on a full disk: $out"
check "ExecStopPost on a full disk exits 0" test $rc -eq 0
check "and empties the map in place: no relay (554)" is relay c1 554
rm -f "$MAPDIR/fill"
dracd_start || nok "dracd restarts"
check "the kernel set gives the grant back" eventually 2 is relay c1 250

# --- a read-only file system -----------------------------------------------------------
revoke_all
drac add "$C1_4" 5s >/dev/null
t_grant=$(date +%s)
check "read-only: a grant relays before" eventually 2 is relay c1 250
mount -o remount,ro "$MAPDIR"
drac add "$C2_4" >/dev/null
check "a write on a read-only file system logs the real cause (EROFS)" \
	world_wait_log "$WORLD/dracd.log" "cannot write .*dracd.db: .*Read-only file system" 3
check "drac status: map.error names it" status_error "Read-only file system"
check "when the window ends, the map cannot be removed either: its lookups are held" \
	world_wait_log "$WORLD/dracd.log" "holding the lock of .*dracd.db" "$(until_s $((t_grant + 14)))"
r1=$(relay c1)
note "read-only map, window over: relay from the expired client -> $r1"
grep -E 'fatal|panic|warning' "$WORLD_POSTFIX_LOG" | tail -3 | sed 's/^/#   postfix: /'
check "no relay after the window ($r1)" test "$r1" != 250
mount -o remount,rw "$MAPDIR"
check "writable again: the map is written" world_wait_log "$WORLD/dracd.log" "released the lock" 7
sleep 0.5
r1=$(relay c1) r2=$(relay c2)
note "map writable again: expired client -> $r1, granted client -> $r2"
check "the expired client gets 554" test "$r1" = 554
check "the granted one relays (250)" test "$r2" = 250
dracd_stop

# --- a DRAC_USER that cannot write the map directory ---------------------------------------
chown root: "$MAPDIR"
out=$(srv "$BIN/dracd" -f -c "$S" 2>&1); rc=$?
note "$out"
check "dracd refuses to start" test $rc -ne 0
check "saying it cannot write the map directory as nobody" \
	grep -q "cannot write the map directory $MAPDIR as nobody.*Permission denied" <<< "$out"
check_not "and never said ready" grep -q "ready" <<< "$out"
t_done
