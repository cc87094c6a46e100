#!/bin/bash
# The drac command against a running dracd (issue 12): `drac add` without
# a window uses the window in force (dracd -e), not the settings file's
# EXPIRE_TIME; `drac status` treats the control socket's reply as
# untrusted (a reply cut inside a string, garbage).  One namespace.
. "$(dirname "$0")/../lib/t.sh"
[ -x "$BIN/dracd" ] && [ -x "$BIN/drac" ] || skip_all "build first (make)"
PY=/usr/bin/python3
N=dcl$$
W=$(mktemp -d /tmp/drac-cli.XXXXXX)
DPID= FPID=
cleanup() {
	for p in $DPID $FPID; do kill "$p" 2>/dev/null; done
	sleep 0.2
	ip netns del $N 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
ip netns add $N || skip_all "cannot create a namespace"
ip -n $N link set lo up
in_ns() { ip netns exec $N "$@"; }
cat > "$W/settings" <<EOS
EXPIRE_TIME="30"
DRAC_TAP="no"
DRAC_MAP="$W/dracd.db"
DRAC_PIDFILE="$W/dracd.pid"
DRAC_CONTROL="$W/dracd.sock"
EOS
drac() { in_ns "$BIN/drac" -c "$W/settings" "$@"; }
timeout_of() { # ADDR's remaining time in the set, rounded up to 10 s
	drac list --json | $PY -c "import json,sys
for e in json.load(sys.stdin):
    if e['address'] == sys.argv[1]: print((e['expires_ms'] + 9999) // 10000 * 10)" "$1"
}

# ---- 8. the window in force ----
# ip netns exec execs: $! is dracd itself
ip netns exec $N "$BIN/dracd" -f -c "$W/settings" -e 2m > "$W/dracd.out" 2> "$W/dracd.err" &
DPID=$!
eventually 5 grep -q ready "$W/dracd.err" || { sed 's/^/# /' "$W/dracd.err"; nok "dracd starts"; exit 1; }
out=$(drac add 192.0.2.9)
check "drac add without a window under dracd -e 2m: 120 s ($out)" \
	bash -c "echo '$out' | grep -q 'granted for 120s'"
t=$(timeout_of 192.0.2.9)
check "the element's timeout is 120 s, not the file's 30 minutes ($t)" test "$t" = 120
out=$(drac add 2001:db8::9)
check "the same for IPv6 ($out)" test "$(timeout_of 2001:db8::9)" = 120
out=$(drac add 192.0.2.10 10m)
check "an explicit window still wins ($out)" test "$(timeout_of 192.0.2.10)" = 600
kill $DPID; eventually 3 bash -c "! kill -0 $DPID 2>/dev/null"; DPID=
out=$(drac add 192.0.2.11)
check "with no dracd answering, the file's EXPIRE_TIME ($out)" test "$(timeout_of 192.0.2.11)" = 1800

# ---- 7. an untrusted reply on the control socket ----
# fake_control REPLY: a server on the control socket that sends REPLY
# (Python bytes literal) to every client.
fake_control() {
	[ -n "$FPID" ] && kill $FPID 2>/dev/null && sleep 0.1
	rm -f "$W/dracd.sock"
	ip netns exec $N $PY -c "
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
reply = eval(sys.argv[2])
while True:
    c, _ = s.accept(); c.sendall(reply); c.close()" "$W/dracd.sock" "$1" &
	FPID=$!
	eventually 2 test -S "$W/dracd.sock"
}
fake_control "b'{\"pid\":1,\"map\":{\"path\":\"/etc/dr'"
out=$(drac status 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "drac status survives a reply cut inside a string (exit $rc)" test $rc -lt 2
check "and says the reply is malformed" bash -c "echo '$out' | grep -q 'malformed or cut short'"
check "printing what came before it" bash -c "echo '$out' | grep -Eq '^  pid +1$'"
out=$(drac status --json 2>&1)
check "drac status --json stays valid JSON, daemon null" \
	bash -c "echo '$out' | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"daemon\"] is None'"
fake_control "b'{\"a\":\"' + b'x' * 9000"
out=$(drac status 2>&1); rc=$?
check "a reply longer than the buffer, never closed (exit $rc)" \
	bash -c "test $rc -lt 2 && echo '$out' | grep -q 'malformed or cut short'"
fake_control "b'{\"window_s\":5'"
out=$(drac add 192.0.2.12)
check "drac add takes no window from a cut-short reply ($out)" test "$(timeout_of 192.0.2.12)" = 1800
drac flush >/dev/null
t_done
