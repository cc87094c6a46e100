#!/bin/bash
# bench/login_latency.sh - from the mail server writing the login's
# success line to the client's address committed in the kernel set.
#
# dracd (tap on) in the server namespace of a test world; instead of
# Dovecot, bench/tool_login.c answers POP3 and IMAP logins and, for each,
# takes the time just before write()ing "+OK" / the tagged OK and the time
# its nf_tables event socket delivers the NEWSETELEM for the peer's
# address (an upper bound of the commit).  Re-granting a live address
# refreshes the element and emits NEWSETELEM again, so one client logs in
# over and over.  Client: one python3 process in c1, sequential logins.
# Numbers only; the floor (p99 < 1 ms) is printed beside them.
set -u
. "$(dirname "$0")/lib.sh"
N=${LOGIN_LATENCY_N:-1000}
bench_init login_latency

bench_tool login
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates the tail)"

world_up || { echo "login_latency: world_up failed"; exit 1; }
dracd_start ${LOGIN_LATENCY_DRACD_ARGS:-} || exit 1
world_spawn tool_login srv "$BIN/bench/tool_login" -t 1000
TOOL_LOG=$WORLD/tool_login.log
world_wait_log "$TOOL_LOG" 'listening on' 5 || { echo "login_latency: tool_login did not start"; cat "$TOOL_LOG"; exit 1; }

cat > "$WORLD/client.py" <<'EOF'
import socket, sys
proto, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
port = 110 if proto == "pop3" else 143
fails = 0
for i in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5)
        f = s.makefile("rb")
        f.readline()
        if proto == "pop3":
            s.sendall(b"USER demo\r\n"); f.readline()
            s.sendall(b"PASS demopass\r\n"); r = f.readline()
            s.sendall(b"QUIT\r\n"); f.readline()
            ok = r.startswith(b"+OK")
        else:
            s.sendall(b"a1 LOGIN demo demopass\r\n"); r = f.readline()
            s.sendall(b"a2 LOGOUT\r\n"); f.readline(); f.readline()
            ok = r.startswith(b"a1 OK")
        f.close(); s.close()
        if not ok:
            fails += 1
    except OSError as e:
        fails += 1
if fails:
    print("client: %d of %d logins failed" % (fails, n), file=sys.stderr)
EOF

# stats LABEL: the samples tool_login printed since line $FROM.
stats() {
	local label=$1 miss
	miss=$(tail -n +"$FROM" "$TOOL_LOG" | grep -cE '^(pop3|imap) [46] miss')
	tail -n +"$FROM" "$TOOL_LOG" | awk '/^(pop3|imap) [46] [0-9]+$/ { print $3 / 1000 }' |
	sort -n | awk -v label="$label" -v miss="$miss" '
		{ v[n++] = $1 }
		END {
			if (n == 0) { printf "login latency %s: no samples (%d misses)\n", label, miss; exit }
			med = v[int(0.50 * (n - 1))]; p90 = v[int(0.90 * (n - 1))]
			p99 = v[int(0.99 * (n - 1))]; max = v[n - 1]
			printf "login latency %s: n=%d median %.0f us p90 %.0f us p99 %.0f us max %.0f us; misses (no event in 1 s) %d; floor p99 < 1000 us: %s\n",
				label, n, med, p90, p99, max, miss, (p99 < 1000 && miss == 0) ? "met" : "NOT met"
		}'
}

run() {	# PROTO SERVER_ADDR LABEL
	FROM=$(( $(wc -l < "$TOOL_LOG") + 1 ))
	c1 "$WORLD_PY" "$WORLD/client.py" "$1" "$2" "$N"
	stats "$3"
}

# Warm-up (first flows, first map writes, caches); not counted.
c1 "$WORLD_PY" "$WORLD/client.py" pop3 "$SRV4" 50
eventually 2 granted "$C1_4" || echo "login_latency: warning: $C1_4 not granted after warm-up"

t0=$(date +%s)
run pop3 "$SRV4" "pop3/IPv4"
run pop3 "$SRV6" "pop3/IPv6"
run imap "$SRV4" "imap/IPv4"
run imap "$SRV6" "imap/IPv6"
echo "($((4 * N)) logins in $(( $(date +%s) - t0 )) s; load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
drac status --json | "$WORLD_PY" -c '
import json, sys
d = json.load(sys.stdin)["daemon"]
t = d.get("tap", {})
print("dracd: tap packets %d, lost %d, overruns %d, logins seen %d, kernel commits %d" % (
    t.get("packets", 0), t.get("lost", 0), t.get("overruns", 0), t.get("logins", 0),
    d["kernel"]["commits"]))'
echo "reference (prototype, /work/shared/notes/netfilter.md, loopback, 1000 logins, NFLOG threshold 1):"
echo "  from the server's +OK write: NEWSETELEM seen by a monitor median 109 us / p99 640 us (IPv4);"
echo "  batch committed median 87 us / p99 392 us; IPv6 commit median 156 us / p99 937 us"
