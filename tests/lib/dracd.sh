# tests/lib/dracd.sh - start the built dracd inside a test world (after
# tests/lib/world.sh) and ask it questions.  Everything under $WORLD.
#
#   dracd_start [ARGS...]   dracd -f in the server namespace, map
#                           $WORLD/dracd.db, ready when it says so
#   dracd_stop              TERM and wait
#   granted ADDR            the address is in authed/authed6 now
#   wait_granted ADDR [S]   until granted (default 2 s)
#   not_granted ADDR        absent, after giving the tap time to act
#   revoke ADDR             delete it from authed/authed6 (as its window would)
#   in_map ADDR             postmap -q finds it in $WORLD/dracd
#   drac ARGS...            the drac command with the same settings
DRACD_MAP=""
DRACD_SETTINGS=""
dracd_start() {
	DRACD_MAP=$WORLD/dracd
	DRACD_SETTINGS=$WORLD/dracd.settings
	[ -e "$DRACD_SETTINGS" ] || cat > "$DRACD_SETTINGS" <<EOS
# written by tests/lib/dracd.sh
DRAC_MAP="$DRACD_MAP.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
EOS
	# The map of a settings file the test wrote itself.
	DRACD_MAP=$(sed -n 's/^DRAC_MAP="\(.*\)\.db"$/\1/p' "$DRACD_SETTINGS" | tail -1)
	world_spawn dracd srv "$BIN/dracd" -f -c "$DRACD_SETTINGS" "$@"
	DRACD_PID=$WORLD_PID
	# ip netns exec execs dracd: the same pid.  Earlier runs' lines are
	# in the same log, so wait for this one's.
	world_wait_log "$WORLD/dracd.log" "ready \\(pid $DRACD_PID\\)" 5 || {
		echo "# dracd did not start:"; sed 's/^/#   /' "$WORLD/dracd.log"; return 1; }
}
dracd_stop() {
	[ -n "${DRACD_PID:-}" ] && world_stop "$DRACD_PID"
	DRACD_PID=
}
set_of() { case $1 in *:*) echo authed6 ;; *) echo authed ;; esac; }
granted() { srv nft list set inet drac "$(set_of "$1")" 2>/dev/null | grep -qw -- "$1"; }
wait_granted() { eventually "${2:-2}" granted "$1"; }
not_granted() { sleep "${2:-0.3}"; ! granted "$1"; }
revoke() { srv nft delete element inet drac "$(set_of "$1")" "{ $1 }" 2>/dev/null; }
in_map() { srv postmap -c "$WORLD/pmconf" -q "$1" "btree:$DRACD_MAP" >/dev/null 2>&1; }
drac() { srv "$BIN/drac" -c "$DRACD_SETTINGS" "$@"; }
revoke_all() { drac flush >/dev/null; }
