#!/bin/bash
# Lost nf_tables events (ENOBUFS): a bulk insert of 200,000 elements
# overruns a deliberately small event buffer; dracd counts the overrun,
# logs it once, resynchronises with one dump, and the map ends up holding
# exactly what the kernel holds.
[ -z "$DRAC_IN_NS" ] && [ "$(id -u)" -eq 0 ] && DRAC_IN_NS=1 exec unshare -n bash "$0" "$@"
. "$(dirname "$0")/../lib/t.sh"
ip link set lo up
tmp=$(mktemp -d /tmp/drac-resync.XXXXXX)
cat > "$tmp/settings" <<EOS
DRAC_TAP="no"
DRAC_MAP="$tmp/dracd.db"
DRAC_PIDFILE="$tmp/pid"
DRAC_CONTROL="$tmp/sock"
DRAC_EVENT_BUFFER="65536"
EOS
"$BIN/dracd" -f -c "$tmp/settings" -e 10m > "$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
eventually 3 grep -q ready "$tmp/log"
status() { "$BIN/drac" -c "$tmp/settings" status --json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)['daemon']; print($1)"; }

/usr/bin/python3 -c "
print('add element inet drac authed {')
print(',\n'.join('10.%d.%d.%d timeout 10m' % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(1, 200001)))
print('}')" > "$tmp/bulk.nft"
nft -f "$tmp/bulk.nft"
check "the map holds all 200,000 grants" eventually 60 bash -c "[ \"\$($BIN/drac -c $tmp/settings status --json | /usr/bin/python3 -c \"import json,sys; print(json.load(sys.stdin)['daemon']['map']['entries'])\")\" = 200000 ]"
over=$(status "d['kernel']['event_overruns']")
resyncs=$(status "d['kernel']['resyncs']")
echo "# event overruns $over, resyncs $resyncs"
check "the overrun was counted" test "$over" -gt 0
check "and resolved by a resync" test "$resyncs" -gt 0
check "logged once" test "$(grep -c 'events lost' "$tmp/log")" -eq 1
mkdir -p "$tmp/pmconf" && echo "compatibility_level = 3.6" > "$tmp/pmconf/main.cf"
check "10.3.13.64 (element 200,000) is in the map" postmap -c "$tmp/pmconf" -q 10.3.13.64 "btree:$tmp/dracd"
nft flush set inet drac authed
check "a flush of 200,000 elements empties the map too" eventually 60 bash -c "[ \"\$($BIN/drac -c $tmp/settings status --json | /usr/bin/python3 -c \"import json,sys; print(json.load(sys.stdin)['daemon']['map']['entries'])\")\" = 0 ]"
check "dracd is still running" kill -0 $pid
t_done
