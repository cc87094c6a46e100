#!/bin/bash
# bench/map_load.sh - the Postfix map under load: set change -> map
# visible at 100 grants/s on a 100,000-entry set while Postfix keeps
# serving SMTP sessions that read the map; then the full rebuild and the
# mirror's memory at 1,000,000 entries (build/bench/bench_map).
#
# A test world's server namespace runs dracd (tap off) and a private
# Postfix whose relay check is btree:$DRACD_MAP.  bench/tool_mapload.c
# preloads 100,000 elements into inet drac authed, waits until the map has
# them, then adds one new address every 10 ms for 60 s and polls the map
# file (btmap_get, every 1 ms) until each key is there.  Meanwhile one
# python3 process in c1 (granted, so its RCPT is 250) opens SMTP session
# after session to port 25: EHLO, MAIL, RCPT to an outside domain, QUIT;
# it counts completed sessions, reply codes and dropped connections.
set -u
. "$(dirname "$0")/lib.sh"
PRELOAD=${MAP_LOAD_PRELOAD:-100000}
RATE=${MAP_LOAD_RATE:-100}
SECS=${MAP_LOAD_SECS:-60}
FULL=${MAP_LOAD_FULL:-1000000}
bench_init map_load


bench_tool mapload
bench_machine

world_up || { echo "map_load: world_up failed"; exit 1; }
dracd_start -o DRAC_TAP=no || exit 1
# in_flow_delay 0: a session that gets RCPT 250 and then QUITs makes
# smtpd open (and abandon) a queue file; with no mail ever delivered,
# qmgr hands out no flow-control tokens and every such session after the
# first hundred or so would wait in_flow_delay (1 s), measuring that
# instead of the map.
world_postfix_start "$DRACD_MAP" "in_flow_delay = 0s" || { echo "map_load: postfix did not start"; exit 1; }
drac add "$C1_4" >/dev/null || echo "map_load: warning: drac add $C1_4 failed"
eventually 5 in_map "$C1_4" || echo "map_load: warning: $C1_4 not in the map"

cat > "$WORLD/smtp.py" <<'EOF'
import socket, sys, time
host, secs = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + secs
done = 0
drops = {}
codes = {}
def reply(f):
    # the last line of a (multi-line) reply: its code
    while True:
        line = f.readline()
        if not line:
            raise EOFError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return line[:3].decode("ascii", "replace")
def expect(f, want):
    c = reply(f)
    if c != want:
        raise EOFError("reply " + c)
while time.monotonic() < end:
    try:
        s = socket.create_connection((host, 25), timeout=10)
        f = s.makefile("rb")
        expect(f, "220")
        s.sendall(b"EHLO client.example.com\r\n"); expect(f, "250")
        s.sendall(b"MAIL FROM:<bench@example.com>\r\n"); expect(f, "250")
        s.sendall(b"RCPT TO:<someone@example.net>\r\n"); c = reply(f)
        codes[c] = codes.get(c, 0) + 1
        s.sendall(b"QUIT\r\n"); expect(f, "221")
        f.close(); s.close()
        done += 1
    except (OSError, EOFError) as e:
        k = type(e).__name__ + ": " + str(e)[:60]
        drops[k] = drops.get(k, 0) + 1
        try: s.close()
        except Exception: pass
        time.sleep(0.01)
print("smtp client: %d sessions completed in %.0f s (%.0f/s); RCPT replies %s; dropped %d %s"
      % (done, secs, done / secs, " ".join("%s:%d" % kv for kv in sorted(codes.items())),
         sum(drops.values()), drops if drops else ""))
EOF

srv "$BIN/bench/tool_mapload" -m "$DRACD_MAP.db" -p "$PRELOAD" -s 0 || { echo "map_load: preload failed"; exit 1; }
# Baseline in the same run: the same client on the same map, unchanged.
printf 'baseline, map not changing, 5 s: '
c1 "$WORLD_PY" "$WORLD/smtp.py" "$SRV4" 5
MARK=$(wc -l < "$WORLD_POSTFIX_LOG")
world_spawn smtp c1 "$WORLD_PY" "$WORLD/smtp.py" "$SRV4" "$SECS"
SMTP_PID=$WORLD_PID
srv "$BIN/bench/tool_mapload" -m "$DRACD_MAP.db" -p "$PRELOAD" -r "$RATE" -s "$SECS" -x
# The client stops with the grants; let it finish its last session.
printf 'during the grants: '
for ((i = 0; i < 200; i++)); do world__alive "$SMTP_PID" || break; sleep 0.1; done
cat "$WORLD/smtp.log"
drac status --json | "$WORLD_PY" -c '
import json, sys
d = json.load(sys.stdin)
m = d["daemon"]["map"]; k = d["daemon"]["kernel"]
print("dracd: map %d entries, %d writes, %d write errors; kernel events %d, event overruns %d, resyncs %d"
      % (m["entries"], m["writes"], m["write_errors"], k["events"], k["event_overruns"], k["resyncs"]))'
PFLOG=$(tail -n +"$((MARK + 1))" "$WORLD_POSTFIX_LOG")
echo "postfix log during the grants: $(grep -c 'fatal' <<<"$PFLOG") fatal (expect 0), $(grep -c 'warning' <<<"$PFLOG") warnings, $(grep -c '4\.3\.5' <<<"$PFLOG") 'Server configuration error' (expect 0), $(grep -c 'has changed -- restarting' <<<"$PFLOG") smtpd restarts for a changed map; whole log: $(grep -c fatal "$WORLD_POSTFIX_LOG") fatal"
grep -E 'fatal|warning' "$WORLD_POSTFIX_LOG" | sed -E 's/^.*(fatal|warning)/\1/' | sort | uniq -c | sort -rn | head -5 | sed 's/^/  postfix: /'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$FULL" -gt 0 ] && [ -x "$BIN/bench/bench_map" ]; then
	echo "full rebuild and memory at $FULL entries (build/bench/bench_map -n $FULL -i 0):"
	unshare -n "$BIN/bench/bench_map" -n "$FULL" -i 0 2>&1 | grep -E '^(table|full|load)' | sed 's/^/  /'
else
	echo "full rebuild at 1,000,000 entries: see bench_map (build/bench/bench_map, make bench)"
fi
