#!/bin/bash
# The set engine and the drac CLI against the real kernel, in a private
# network namespace (the host's ruleset is never touched).
[ -z "$DRAC_IN_NS" ] && [ "$(id -u)" -eq 0 ] && DRAC_IN_NS=1 exec unshare -n bash "$0" "$@"
. "$(dirname "$0")/../lib/t.sh"
drac() { "$BIN/drac" -c /dev/null "$@"; }
in_set() { nft list set inet drac "$1" 2>/dev/null | grep -qw -- "$2"; }
# remaining seconds of an element, from nft's own listing
expires_s() {
	nft list set inet drac "$1" | grep -o "$2 timeout [^ ]* expires [0-9hms]*" |
		sed 's/.*expires //' | awk '{ s = 0; if (match($0, /[0-9]+m[^s]/)) s += 60 * substr($0, RSTART, RLENGTH - 2);
			if (match($0, /[0-9]+s/)) s += substr($0, RSTART, RLENGTH - 1); print s }'
}

check "no table before the first grant" bash -c '! nft list table inet drac 2>/dev/null'
check "drac add creates table and grants 192.0.2.7" drac add 192.0.2.7 10s
check "192.0.2.7 is in inet drac authed" in_set authed 192.0.2.7
check "with a 10s timeout" bash -c "nft list set inet drac authed | grep -q '192.0.2.7 timeout 10s'"
check "set default timeout is 30m" bash -c "nft list set inet drac authed | grep -q 'timeout 30m'"
check "IPv6 lands in authed6" drac add 2001:DB8::7 1m
check "2001:db8::7 is in authed6" in_set authed6 2001:db8::7
check_not "and not in authed" in_set authed 2001:db8::7

sleep 3
before=$(expires_s authed 192.0.2.7)
drac add 192.0.2.7 10s >/dev/null
after=$(expires_s authed 192.0.2.7)
echo "# remaining before re-grant ${before}s, after ${after}s"
check "re-grant resets the timer (measured)" test "$before" -le 7 -a "$after" -ge 9

check "drac list shows both" bash -c "$BIN/drac -c /dev/null list | grep -q 192.0.2.7 && $BIN/drac -c /dev/null list | grep -q 2001:db8::7"
check "drac list --json is one array" bash -c "$BIN/drac -c /dev/null list --json | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d)==2, d'"

check "drac del removes 192.0.2.7" drac del 192.0.2.7
check_not "192.0.2.7 is gone" in_set authed 192.0.2.7
drac del 192.0.2.7 2>/dev/null; rc=$?
check "deleting an absent address says so (exit 1)" test $rc -eq 1

drac add 192.0.2.8 2s >/dev/null
check "a 2s grant is there" in_set authed 192.0.2.8
sleep 2.5
check_not "and the kernel expired it" in_set authed 192.0.2.8

snapshot() { nft list table inet drac | sed "s/ expires [0-9hms]*//g"; }
snap=$(snapshot)
for bad in 1.2.3.999 192.0.2.0/24 "" localhost 192.0.2.1x " 192.0.2.1" "[2001:db8::1]" 2001:db8::/64 ::ffff:1.2.3.4.5; do
	out=$(drac add "$bad" 2>&1); rc=$?
	check "bad address '$bad' exits 2 with a message ($out)" test $rc -eq 2 -a -n "$out"
done
out=$(drac add 192.0.2.9 0s 2>&1); rc=$?
check "a 0s window is refused ($out)" test $rc -eq 2
out=$(drac add 192.0.2.9 3650d 2>&1); rc=$?
check "a ten-year window is refused ($out)" test $rc -eq 2
out=$(drac bogus 2>&1); rc=$?
check "unknown command exits 2" test $rc -eq 2
check "bad input changed nothing" test "$snap" = "$(snapshot)"

nft delete table inet drac
check "after the table was deleted, drac add recreates it" drac add 192.0.2.10 1m
check "and the grant is there" in_set authed 192.0.2.10
check "drac flush empties both sets" drac flush
check_not "authed6 empty" in_set authed6 2001:db8::7
check "drac status reports both sets" bash -c "$BIN/drac -c /dev/null status --json | grep -q '\"authed6\":{\"present\":true'"

t_done
