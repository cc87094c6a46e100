#!/bin/bash
# The SysV init script (init/dracd.init) against the built dracd: start,
# status, reload, stop, restart, the ENABLE_DRAC switch and the LSB exit
# codes.  Runs in a private network and mount namespace with every path
# (settings, map, pid file, socket) under a temporary directory, so the
# host's /etc, /run and ruleset are never touched.
[ -z "$DRAC_IN_NS" ] && [ "$(id -u)" -eq 0 ] && DRAC_IN_NS=1 exec unshare -n -m --propagation private bash "$0" "$@"
. "$(dirname "$0")/../lib/t.sh"

[ -x "$BIN/dracd" ] || skip_all "no $BIN/dracd (run make)"
INIT=$TOP/init/dracd.init
DRACD_EXE=$(readlink -f "$BIN/dracd")
T=$(mktemp -d /tmp/drac-initscript.XXXXXX)
chmod 755 "$T"
mkdir -m 755 "$T/etc"
# /run inside this mount namespace only: nothing can land in the host's.
mount -t tmpfs -o mode=755 tmpfs /run

cleanup() {
	local p
	p=$(cat "$T/dracd.pid" 2>/dev/null)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill "$p"
	rm -rf "$T"
}
trap cleanup EXIT

settings() { # ENABLE EXPIRE [extra lines]
	cat > "$T/dracd" <<-EOF
	# test settings
	ENABLE_DRAC="$1"
	EXPIRE_TIME="$2"
	DRAC_MAP="$T/etc/dracd.db"
	DRAC_TAP="no"
	DRAC_PIDFILE="$T/dracd.pid"
	DRAC_CONTROL="$T/dracd.sock"
	${3:-}
	EOF
}
initd() { DRACD_DAEMON=$BIN/dracd DRACD_DEFAULTS=$T/dracd DRACD_STOP_TIMEOUT=5 "$INIT" "$@"; }
drac() { "$BIN/drac" -c "$T/dracd" "$@"; }
pid_of() { cat "$T/dracd.pid" 2>/dev/null; }
# dracd processes in this network namespace
count_daemons() {
	local n=0 p me
	me=$(readlink /proc/self/ns/net)
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$DRACD_EXE" ] || continue
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$me" ] || continue
		n=$((n + 1))
	done
	echo "$n"
}
# gone: no such process, or a zombie (whoever reaps orphans here may be slow)
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
db_has() { db5.3_dump -p "$1" 2>/dev/null | grep -q "^ $2"; }
in_map() { db5.3_dump -p "$T/etc/dracd.db" 2>/dev/null | grep -q "^ $1"; }
window_s() { drac status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["window_s"])'; }

note() { sed 's/^/# /' <<< "$*"; }

# --- the script itself
check "sh -n: the script parses as POSIX sh" sh -n "$INIT"
check "LSB header: Provides dracd" grep -q '^# Provides: *dracd$' "$INIT"
check "LSB header: Default-Start 2 3 4 5" grep -q '^# Default-Start: *2 3 4 5$' "$INIT"
check "LSB header: starts before postfix" grep -q '^# X-Start-Before: *postfix' "$INIT"
check "chkconfig header line" grep -Eq '^# chkconfig: [0-6]+ [0-9]+ [0-9]+$' "$INIT"
check "chkconfig description line" grep -q '^# description: ' "$INIT"
out=$(initd bogus 2>&1); rc=$?
check "unknown action: usage, exit 2 ($out)" test $rc -eq 2 -a -n "$out"

# --- disabled: nothing happens, and it says so
settings no 30
out=$(initd start 2>&1); rc=$?
note "start (disabled): $out"
check "disabled: start exits 0" test $rc -eq 0
check "disabled: start says ENABLE_DRAC is not yes" grep -q 'ENABLE_DRAC' <<< "$out"
check_not "disabled: no pid file" test -e "$T/dracd.pid"
check_not "disabled: no map" test -e "$T/etc/dracd.db"
check "disabled: no dracd process" test "$(count_daemons)" -eq 0
check_not "disabled: no table inet drac" bash -c "nft list table inet drac >/dev/null 2>&1"
initd status > /dev/null; rc=$?
check "disabled: status exits 3" test $rc -eq 3
initd reload > /dev/null 2>&1; rc=$?
check "not running: reload exits 7" test $rc -eq 7

# --- enabled
settings yes 30
initd status > /dev/null; rc=$?
check "status before start is 3" test $rc -eq 3
out=$(initd start 2>&1); rc=$?
note "start: $out"
check "start exits 0" test $rc -eq 0
pid=$(pid_of)
check "pid file names a process ($pid)" kill -0 "${pid:-0}"
check "that process is dracd" test "$(readlink "/proc/$pid/exe")" = "$DRACD_EXE"
check "start reports the pid" grep -q "pid $pid" <<< "$out"
check "the map exists when start returns" test -s "$T/etc/dracd.db"
check "table inet drac is loaded" bash -c "nft list table inet drac >/dev/null"
initd status > /dev/null; rc=$?
check "status exits 0 while running" test $rc -eq 0
check "status names the pid" bash -c "DRACD_DAEMON=$BIN/dracd DRACD_DEFAULTS=$T/dracd $INIT status | grep -q 'pid $pid'"

out=$(initd start 2>&1); rc=$?
note "second start: $out"
check "a second start exits 0" test $rc -eq 0
check "and says it is already running" grep -q 'already running' <<< "$out"
check "the pid is unchanged" test "$(pid_of)" = "$pid"
check "exactly one dracd runs" test "$(count_daemons)" -eq 1

# --- reload: same process, new settings, grants kept
check "drac add 192.0.2.7" bash -c "$BIN/drac -c $T/dracd add 192.0.2.7 >/dev/null"
check "192.0.2.7 reaches the map" eventually 5 in_map 192.0.2.7
check "window is 1800s" test "$(window_s)" = 1800
settings yes 45
out=$(initd reload 2>&1); rc=$?
note "reload: $out"
check "reload exits 0" test $rc -eq 0
check "window becomes 2700s after reload" eventually 5 bash -c "test \"\$($BIN/drac -c $T/dracd status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[\"daemon\"][\"window_s\"])')\" = 2700"
check "same pid after reload" test "$(pid_of)" = "$pid"
check "still running after reload" kill -0 "$pid"
check "192.0.2.7 still in the map" in_map 192.0.2.7
out=$(initd force-reload 2>&1); rc=$?
check "force-reload exits 0" test $rc -eq 0
check "same pid after force-reload" test "$(pid_of)" = "$pid"

settings yes 30 'DRAC_MAX_FLOWS="not a number"'
out=$(initd reload 2>&1); rc=$?
note "reload with a bad file: $out"
check "reload with a bad settings file exits 6" test $rc -eq 6
check "and names the bad line" grep -q "$T/dracd:" <<< "$out"
check "dracd still runs with the same pid" test "$(pid_of)" = "$pid" -a -d "/proc/$pid"
settings yes 45

# --- stop
out=$(initd stop 2>&1); rc=$?
note "stop: $out"
check "stop exits 0" test $rc -eq 0
check "the process is gone" gone "$pid"
check_not "the pid file is gone" test -e "$T/dracd.pid"
check "no dracd runs" test "$(count_daemons)" -eq 0
initd status > /dev/null; rc=$?
check "status exits 3 after stop" test $rc -eq 3
check "grants outlive the daemon: 192.0.2.7 still in the kernel set" \
	bash -c "nft list set inet drac authed | grep -q 192.0.2.7"
# Nobody expires the map while dracd is down: a stop leaves it empty and
# keeps the grant in the state file, which the next start reads.
check_not "but not in the map (nobody would expire it there)" in_map 192.0.2.7
check "and kept in the state file" db_has "$T/etc/dracd.db.state" 192.0.2.7
out=$(initd stop 2>&1); rc=$?
check "stop when stopped exits 0 ($out)" test $rc -eq 0

# --- restart and try-restart
out=$(initd try-restart 2>&1); rc=$?
check "try-restart when stopped exits 0 and starts nothing" test $rc -eq 0 -a "$(count_daemons)" -eq 0
initd restart > /dev/null 2>&1; rc=$?
pid1=$(pid_of)
check "restart from stopped starts dracd" test $rc -eq 0 -a -n "$pid1" -a "$(count_daemons)" -eq 1
initd restart > /dev/null 2>&1; rc=$?
pid2=$(pid_of)
check "restart while running gives a new pid" test $rc -eq 0 -a -n "$pid2" -a "$pid2" != "$pid1"
check "the old process is gone" gone "$pid1"
check "exactly one dracd after restart" test "$(count_daemons)" -eq 1
check "the grant came back through the restarts" in_map 192.0.2.7
initd stop > /dev/null 2>&1

# --- a stale pid file
sh -c 'exit 0' & dead=$!; wait $dead
echo "$dead" > "$T/dracd.pid"
initd status > /dev/null; rc=$?
check "stale pid file: status exits 1" test $rc -eq 1
initd start > /dev/null 2>&1; rc=$?
pid=$(pid_of)
check "start over a stale pid file works" test $rc -eq 0 -a "$pid" != "$dead" -a "$(count_daemons)" -eq 1
initd stop > /dev/null 2>&1
check "stopped again" test "$(count_daemons)" -eq 0

# --- a daemon that cannot start: the script says so
mkdir -m 777 "$T/unsafe"
settings yes 30 "DRAC_MAP=\"$T/unsafe/dracd.db\""
out=$(initd start 2>&1); rc=$?
note "start with an unsafe map directory: $out"
check "a failed start exits non-zero" test $rc -ne 0
check "with dracd's reason" grep -qi "$T/unsafe" <<< "$out"
check "and leaves no dracd behind" test "$(count_daemons)" -eq 0
initd status > /dev/null; rc=$?
check "status after a failed start is 3" test $rc -eq 3

settings yes 30 'EXPIRE_TIME="forever"'
out=$(initd start 2>&1); rc=$?
check "a bad settings file: start exits 6" test $rc -eq 6
note "$out"

# --- the systemd unit's capability set is enough: dracd started with
# only CapabilityBoundingSet= and NoNewPrivileges=, as root and as
# DRAC_USER=nobody, with the tap on, grants, mirrors and restores.
UNIT=$TOP/init/dracd.service
if ! command -v setpriv > /dev/null; then
	echo "skip - setpriv not installed"
elif [ ! -e "$UNIT" ]; then
	echo "skip - no init/dracd.service"
else
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
	for user in "" nobody; do
		who=${user:-root}
		mkdir -m 755 "$T/m$who"
		[ -n "$user" ] && chown "$user" "$T/m$who"
		settings yes 30 "DRAC_MAP=\"$T/m$who/dracd.db\"
DRAC_TAP=\"yes\"
DRAC_USER=\"$user\""
		nft delete table inet drac 2> /dev/null
		setpriv --bounding-set "-all,$caps" --no-new-privs "$BIN/dracd" -c "$T/dracd" 2> "$T/err"; rc=$?
		pid=$(pid_of)
		check "unit caps ($caps), $who: dracd starts" test $rc -eq 0 -a -n "$pid"
		[ $rc -eq 0 ] || note "$(cat "$T/err")"
		check "  $who: the tap chains are loaded" bash -c "nft list chain inet drac tap >/dev/null 2>&1"
		check "  $who: a grant reaches the map" bash -c "$BIN/drac -c $T/dracd add 192.0.2.44 >/dev/null"
		check "  $who: (in the map)" eventually 5 db_has "$T/m$who/dracd.db" 192.0.2.44
		nft flush ruleset
		check "  $who: restored after nft flush ruleset" eventually 5 bash -c "nft list set inet drac authed 2>/dev/null | grep -q 192.0.2.44"
		if [ -n "$user" ]; then
			check "  $who: runs as $user with CAP_NET_ADMIN alone" \
				grep -q "^CapEff:[[:space:]]*0*1000\$" "/proc/$pid/status"
		fi
		[ -n "$pid" ] && kill "$pid"
		eventually 5 gone "${pid:-0}"
		rm -f "$T/dracd.pid"
	done
fi

t_done
