#!/bin/bash
# nft/drac.nft and rules/*.nft: what ships is what dracd loads, loads on
# its own, twice without duplicates, and a gate from nftables.conf
# survives dracd.
[ -z "$DRAC_IN_NS" ] && [ "$(id -u)" -eq 0 ] && DRAC_IN_NS=1 exec unshare -n bash "$0" "$@"
. "$(dirname "$0")/../lib/t.sh"
tmp=$(mktemp -d /tmp/drac-rs.XXXXXX); trap 'rm -rf "$tmp"' EXIT

"$BIN/dracd" -c /dev/null --print-ruleset > "$tmp/printed.nft"
check "nft/drac.nft is what dracd loads with the default settings (make nft)" cmp -s "$TOP/nft/drac.nft" "$tmp/printed.nft"
check "nft -c accepts it" nft -c -f "$TOP/nft/drac.nft"
check "it loads on its own" nft -f "$TOP/nft/drac.nft"
check "and again (idempotent)" nft -f "$TOP/nft/drac.nft"
check "sets with a 30m default timeout" bash -c "nft list set inet drac authed | grep -q 'timeout 30m' && nft list set inet drac authed6 | grep -q 'timeout 30m'"
check "the tap logs with queue-threshold 1" bash -c "nft list chain inet drac tap | grep -q 'queue-threshold 1'"
check "loading twice left one copy of each rule" test "$(nft list chain inet drac tap | grep -c 'log group')" -eq 2
nft add element inet drac authed '{ 192.0.2.9 timeout 5m }'
nft -f "$TOP/nft/drac.nft"
check "reloading the file keeps the grants" bash -c "nft list set inet drac authed | grep -q 192.0.2.9"

check "rules/submission.nft loads into the table" nft -f "$TOP/rules/submission.nft"
check "and again" nft -f "$TOP/rules/submission.nft"
check "its gate accepts @authed and resets the rest" bash -c \
	"nft list chain inet drac gate | grep -q 'ip saddr @authed accept' && nft list chain inet drac gate | grep -q 'reject with tcp reset'"
"$BIN/dracd" -f -c /dev/null -o DRAC_TAP=no -o DRAC_MAP="$tmp/map.db" -o DRAC_PIDFILE="$tmp/pid" \
	-o DRAC_CONTROL="$tmp/sock" > "$tmp/log" 2>&1 &
pid=$!
eventually 3 grep -q 'ready' "$tmp/log"
check "dracd without DRAC_GATE_PORTS leaves that gate alone" bash -c "nft list chain inet drac gate | grep -q 'reject with tcp reset'"
check "and keeps the grant made before it started" bash -c "nft list set inet drac authed | grep -q 192.0.2.9"
kill "$pid"; wait "$pid"
check "dracd never deletes its table at exit" nft list table inet drac
t_done
