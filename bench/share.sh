#!/bin/bash
# bench/share.sh - the fleet (issue 14): grants shared through Redis
# (DRAC_SHARE) beside the DRAC RPC fan-out (DRAC_FORWARD), same hosts,
# same run.
#
# Namespaces on one bridge (192.0.2.0/24, 2001:db8::/64): host A
# (192.0.2.1, the world's server: real Dovecot, dracd with the tap and a
# log hook file), hosts B (.11) and C (.12) (dracd, DRAC_TAP=no), Redis
# (.20, Debian's redis-server over TCP, no persistence) and the login
# client (c1).  Each dracd has its own map, pidfile and control socket.
#
#   1. login on A -> element on C: 1,000 real POP3 logins (Dovecot on A,
#      the tap grants), each from its own IPv6 source; from the client
#      reading "+OK" to C's NEWSETELEM (bench/tool_share watch in C's
#      namespace, same CLOCK_MONOTONIC); A's own set beside it.
#   2. 100,000 grants from A to B and C: Dovecot login lines appended to
#      A's log hook file at once (the same input for both mechanisms);
#      for Redis also a single nft transaction-set of foreign adds (10 x
#      10,000 elements) on A.  Time until B's and C's mirrors of their sets
#      (map.entries, following the kernel's events) hold all, checked
#      against a kernel dump at the end.  The RPC forwarder keeps at most
#      256 calls per server in flight and drops beyond: its burst figure
#      is what arrived; a paced run (the feeder keeps <= 250 calls in
#      flight to B and C together, watching forward.acked) gives its rate
#      without drops.
#   3. host C down: Redis: C stopped, 100,000 grants on A, C started:
#      C's share.reconcile_ms and the wall time until C holds all.  RPC:
#      C stopped, 1,000 grants on A, A's forwarder done (gives up after
#      5 s), C started: how many it holds (no catch-up: 0).
#
# Environment: SHARE_N (100000), SHARE_LOGINS (1000).  Numbers only.
set -u
. "$(dirname "$0")/lib.sh"
N=${SHARE_N:-100000}
LOGINS=${SHARE_LOGINS:-1000}
bench_init share
for p in /usr/bin/redis-server /usr/bin/redis-cli rpcbind dovecot; do
	command -v "$p" >/dev/null || { echo "share: $p not installed; skipped"; exit 0; }
done
bench_tool share
TOOL=$BIN/bench/tool_share
T_START=$(date +%s)
bench_machine

WORLD_TLS=0
world_up || { echo "share: world_up failed"; exit 1; }
# SHARE_KEEP=DIR: the logs are copied there at the end (debugging).
[ -n "${SHARE_KEEP:-}" ] && world_on_cleanup 'mkdir -p "$SHARE_KEEP" && cp "$WORLD"/*.log "$WORLD"/*.out "$SHARE_KEEP"/'
NS_A=$NS_SRV NS_B=$WORLD_NAME-b NS_C=$WORLD_NAME-c NS_R=$WORLD_NAME-r
B4=192.0.2.11 C4=192.0.2.12 R4=192.0.2.20
REDIS=redis://$R4:6379
i=3
for x in b:$B4 c:$C4 r:$R4; do
	ns=$WORLD_NAME-${x%%:*}
	ip netns add "$ns" && WORLD_NETNS+=("$ns") &&
	ip -n "$ns" link set lo up &&
	ip -n "$NS_SRV" link add p$i type veth peer name eth0 netns "$ns" &&
	ip -n "$NS_SRV" link set p$i master br0 up &&
	ip -n "$ns" addr add "${x#*:}/24" dev eth0 &&
	ip -n "$ns" link set eth0 up || { echo "share: cannot make namespace $ns"; exit 1; }
	i=$((i + 1))
done

# --- Redis, Dovecot ----------------------------------------------------------
mkdir -p "$WORLD/redis"
world_spawn redis "$NS_R" /usr/bin/redis-server --bind "$R4" --port 6379 \
	--protected-mode no --save '' --appendonly no --dir "$WORLD/redis" --loglevel warning
rcli() { ip netns exec "$NS_R" /usr/bin/redis-cli -h "$R4" "$@"; }
eventually 5 rcli ping >/dev/null 2>&1 || { echo "share: redis-server did not start"; cat "$WORLD/redis.log"; exit 1; }
world_dovecot_start || { echo "share: dovecot did not start"; exit 1; }

# --- the hosts' dracd --------------------------------------------------------
declare -A PID NSOF=([a]=$NS_A [b]=$NS_B [c]=$NS_C)
MODE=share
echo "255.255.255.255 $SRV4" > "$WORLD/allow"
printf '%s\n%s\n' "$B4" "$C4" > "$WORLD/servers.conf"
ctl() { echo "$WORLD/$1.ctl"; }
get() { ip netns exec "${NSOF[$1]}" "$TOOL" get "$(ctl "$1")" "$2"; }
at_least() { [ "$(get "$1" "$2")" -ge "$3" ]; }	# HOST PATH N

# host_start NAME [-i]: dracd of host NAME in the current MODE (share:
# DRAC_SHARE to Redis; rpc: A forwards, B and C serve RPC with an rpcbind
# of their own in a private mount namespace).
host_start() {
	local h=$1 ns=${NSOF[$1]} args pid
	shift
	args=(-f -c /dev/null -o DRAC_MAP="$WORLD/$h.db" -o DRAC_PIDFILE="$WORLD/$h.pid"
	      -o DRAC_CONTROL="$(ctl "$h")" "$@")
	if [ "$h" = a ]; then
		: > "$WORLD/a-mail.log"
		args+=(-o DRAC_LOGHOOK_FILE="$WORLD/a-mail.log")
		[ "$MODE" = rpc ] && args+=(-o DRAC_FORWARD=yes -o DRAC_SERVERS="$WORLD/servers.conf")
	else
		args+=(-o DRAC_TAP=no)
		[ "$MODE" = rpc ] && args+=(-o DRAC_RPC=yes -o DRAC_ALLOW="$WORLD/allow")
	fi
	[ "$MODE" = share ] && args+=(-o DRAC_SHARE="$REDIS")
	if [ "$MODE" = rpc ] && [ "$h" != a ]; then
		world_spawn "$h" "$ns" unshare -m --propagation private bash -c '
			mount -t tmpfs tmpfs /run || exit 1
			rpcbind -f -w & echo $! > "$1"
			for i in $(seq 100); do [ -S /run/rpcbind.sock ] && break; sleep 0.02; done
			shift; exec "$@"' _ "$WORLD/$h.rpcbind" "$BIN/dracd" "${args[@]}"
	else
		world_spawn "$h" "$ns" "$BIN/dracd" "${args[@]}"
	fi
	pid=$WORLD_PID
	PID[$h]=$pid
	world_wait_log "$WORLD/$h.log" "ready \\(pid $pid\\)" 10 ||
		{ echo "share: dracd $h did not start:"; tail -5 "$WORLD/$h.log"; exit 1; }
	if [ "$MODE" = share ]; then
		eventually 5 at_least "$h" share.reconciles 1 ||
			{ echo "share: dracd $h did not connect to Redis"; tail -5 "$WORLD/$h.log"; exit 1; }
	fi
}
host_stop() {
	[ -n "${PID[$1]:-}" ] && world_stop "${PID[$1]}"
	PID[$1]=
	if [ -s "$WORLD/$1.rpcbind" ]; then
		world_stop "$(cat "$WORLD/$1.rpcbind")"
		: > "$WORLD/$1.rpcbind"
	fi
}
# all_fresh: every host restarted with empty sets and maps, Redis empty.
all_fresh() {
	local h
	for h in a b c; do host_stop $h; done
	[ "$MODE" = share ] && rcli flushall >/dev/null
	# B and C first: the forwarder asks their rpcbind at its start
	for h in b c a; do host_start $h -i; done
}

# --- measurements ------------------------------------------------------------
ip -n "$NS_C1" -b - <<EOF
$(for ((k = 1; k <= LOGINS + 20; k++)); do printf 'addr add 2001:db8::1:%x/64 dev eth0 nodad\n' $k; done)
EOF
cat > "$WORLD/client.py" <<'EOF'
import ipaddress, socket, sys, time
host, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for k in range(first, first + n):
    src = "2001:db8::1:%x" % k
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.settimeout(5)
        s.bind((src, 0))
        s.connect((host, 110))
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"USER demo\r\n"); f.readline()
        s.sendall(b"PASS demopass\r\n"); r = f.readline()
        t = time.monotonic_ns()
        s.sendall(b"QUIT\r\n"); f.readline()
        f.close(); s.close()
        out.append("%d %s" % (t, src) if r.startswith(b"+OK") else "fail " + src)
    except OSError as e:
        out.append("fail %s %s" % (src, e))
print("\n".join(out))
EOF

# login_run LABEL: sets LAT_A and LAT_C ("p50 p99 misses" in ms)
login_run() {
	local h
	for h in a c; do
		world_spawn "watch-$MODE-$h" "${NSOF[$h]}" "$TOOL" watch
		eval "W_$h=\$WORLD_PID"
		world_wait_log "$WORLD/watch-$MODE-$h.log" watching 5
	done
	# warm-up: first connections, rpcbind look-ups, caches; not counted
	c1 "$WORLD_PY" "$WORLD/client.py" "$SRV6" $((LOGINS + 1)) 20 > "$WORLD/warm-$MODE.out"
	sleep 0.3
	c1 "$WORLD_PY" "$WORLD/client.py" "$SRV6" 1 "$LOGINS" > "$WORLD/login-$MODE.out"
	sleep 1
	world_stop "$W_a"; world_stop "$W_c"
	LAT_A=$(login_stats "$WORLD/watch-$MODE-a.log")
	LAT_C=$(login_stats "$WORLD/watch-$MODE-c.log")
	LAT_AC=$(hop_stats "$WORLD/watch-$MODE-a.log" "$WORLD/watch-$MODE-c.log")
	LOGIN_FAILS=$(grep -c '^fail' "$WORLD/login-$MODE.out")
}
login_stats() {	# WATCH_LOG: "p50 p99 max misses"
	awk -v n="$LOGINS" 'FNR == NR { if ($1 != "fail") ok[$2] = $1; next }
		$1 ~ /^[0-9]+$/ && ($2 in ok) && !($2 in seen) { seen[$2] = $1 - ok[$2] }
		END { for (a in ok) if (a in seen) print seen[a] / 1e6; else print "miss" }' \
		"$WORLD/login-$MODE.out" "$1" |
	sort -g | awk '$1 == "miss" { m++; next } { v[k++] = $1 }
		END { if (!k) { print "- - - " m + 0; exit }
		      printf "%.2f %.2f %.2f %d\n", v[int(0.5 * (k - 1))], v[int(0.99 * (k - 1))], v[k - 1], m }'
}

# hop_stats WATCH_A WATCH_C: per login, A's event to C's event (the fleet's
# own part): "p50 p99 max misses"
hop_stats() {
	awk 'FNR == 1 { f++ } $1 !~ /^[0-9]+$/ { next }
		f == 1 && $2 ~ /^2001:db8::1:/ && !($2 in a) { a[$2] = $1 }
		f == 2 && ($2 in a) && !($2 in c) { c[$2] = $1 }
		END { for (x in a) if (x in c) print (c[x] - a[x]) / 1e6; else print "miss" }' "$1" "$2" |
	sort -g | awk '$1 == "miss" { m++; next } { v[k++] = $1 }
		END { if (!k) { print "- - - " m + 0; exit }
		      printf "%.2f %.2f %.2f %d\n", v[int(0.5 * (k - 1))], v[int(0.99 * (k - 1))], v[k - 1], m }'
}

# propagate FEED LABEL: N grants made on A, time until B and C hold them;
# FEED is a command run in A's namespace.  Sets PROP (ms until both held
# all, or "-"), PROP_B, PROP_C (counts held), FEED_MS.
propagate() {
	local feed=$1 t0 h out rb rc
	local -A base
	for h in a b c; do base[$h]=$(get "$h" map.entries); done
	t0=$(date +%s%N)
	# A too: how long this host itself takes to hold them is the
	# baseline of the same run (no fleet can be faster).
	for h in a b c; do
		ip netns exec "${NSOF[$h]}" "$TOOL" wait "$(ctl "$h")" map.entries \
			$(( base[$h] + N )) "$t0" 20000 > "$WORLD/wait-$h.out" &
		eval "WP_$h=\$!"
	done
	eval "$feed" >/dev/null
	FEED_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	wait "$WP_b"; rb=$?
	wait "$WP_c"; rc=$?
	wait "$WP_a"
	LOCAL_A=$(awk '{ print $1 }' "$WORLD/wait-a.out")
	PROP=-
	if [ $rb = 0 ] && [ $rc = 0 ]; then
		PROP=$(cat "$WORLD/wait-b.out" "$WORLD/wait-c.out" | awk '$1 > m { m = $1 } END { print m }')
	fi
	for h in b c; do
		eval "PROP_$h=\$(( \$(get $h map.entries) - base[$h] ))"
	done
}
rate() { [ "$1" = - ] && echo - || awk -v n="$N" -v ms="$1" 'BEGIN { printf "%.0f", n / (ms / 1000) }'; }
kcount() { ip netns exec "${NSOF[$1]}" "$TOOL" count; }

"$TOOL" nftbatch "$WORLD/batch-all.nft" "$N" d
split -l 10 -d "$WORLD/batch-all.nft" "$WORLD/batch-d."
NFT_FEED="for f in $WORLD/batch-d.*; do ip netns exec $NS_A nft -f \$f || exit 1; done"
log_feed() { echo "ip netns exec $NS_A $TOOL feed $WORLD/a-mail.log $N $1 ${2:-}"; }

# (what a phase skipped with SHARE_ONLY=share|rpc leaves in the table)
for v in S_LAT_A S_LAT_C S_LAT_AC R_LAT_A R_LAT_C R_LAT_AC; do eval "$v='- - - -'"; done
for v in S_LOG_LOCAL S_NFT_LOCAL S_LOG_PROP S_LOG_B S_LOG_C S_NFT_PROP S_NFT_B S_NFT_C S_REC_HELD S_REC_MS S_REC_WALL \
	R_LOG_PROP R_LOG_B R_LOG_C R_PACE_PROP R_PACE_B R_PACE_C R_DOWN_C M; do eval "$v=-"; done

# ===== Redis =================================================================
MODE=share
if [ "${SHARE_ONLY:-}" != rpc ]; then
all_fresh
echo "share: Redis $(rcli info server | sed -n 's/^redis_version:\(.*\)\r$/\1/p') at $REDIS; hosts A (tap, Dovecot), B, C up $(( $(date +%s) - T_START )) s after start"
login_run
S_LAT_A=$LAT_A S_LAT_C=$LAT_C S_LAT_AC=$LAT_AC S_FAILS=$LOGIN_FAILS
echo "share: logins done ($S_FAILS failed); C's share.lag_max_ms $(get c share.lag_max_ms)"

all_fresh
# SHARE_PERF=FILE: perf record -a of this burst (debugging).
PERF_PID=
[ -n "${SHARE_PERF:-}" ] && { perf record -a -g -o "$SHARE_PERF" -- sleep 6 >/dev/null 2>&1 & PERF_PID=$!; sleep 0.5; }
propagate "$(log_feed c)"
[ -n "$PERF_PID" ] && wait "$PERF_PID"
S_LOG_PROP=$PROP S_LOG_FEED=$FEED_MS S_LOG_B=$PROP_b S_LOG_C=$PROP_c
S_LOG_KC=$(kcount c)
S_LOG_QPEAK=$(get a share.queued_peak) S_LOG_OVF=$(get a share.queue_overflow)
S_LOG_LOCAL=$LOCAL_A
echo "share: log hook burst: A fed in ${FEED_MS} ms, A itself holds them after ${LOCAL_A} ms; B holds $PROP_b, C $PROP_c (kernel: C $S_LOG_KC) after ${PROP} ms; A pushed $(get a share.pushed), queued_peak $S_LOG_QPEAK, overflow $S_LOG_OVF; C lag_max_ms $(get c share.lag_max_ms)"

all_fresh
propagate "$NFT_FEED"
S_NFT_PROP=$PROP S_NFT_FEED=$FEED_MS S_NFT_B=$PROP_b S_NFT_C=$PROP_c
S_NFT_KC=$(kcount c)
S_NFT_LOCAL=$LOCAL_A
echo "share: nft batch (10 x 10,000, foreign adds): applied in ${FEED_MS} ms, A holds them after ${LOCAL_A} ms; B holds $PROP_b, C $PROP_c (kernel: C $S_NFT_KC) after ${PROP} ms; A pushed $(get a share.pushed), kernel.event_overruns $(get a kernel.event_overruns), queue_overflow $(get a share.queue_overflow)"

# 3. C down while A grants; C back: reconciliation
all_fresh
host_stop c
eval "$(log_feed e)" >/dev/null
eventually 20 at_least b map.entries "$N" || echo "share: warning: B holds only $(get b map.entries)"
eventually 20 at_least a share.pushed "$N" || echo "share: warning: A pushed only $(get a share.pushed)"
echo "share: with C down: A pushed $(get a share.pushed), Redis holds $(rcli dbsize) keys"
t0=$(date +%s%N)
host_start c
ip netns exec "$NS_C" "$TOOL" wait "$(ctl c)" map.entries "$N" "$t0" 20000 > "$WORLD/wait-rec.out"
S_REC_WALL=$(awk '{ print $1 }' "$WORLD/wait-rec.out")
S_REC_HELD=$(awk '{ print $2 }' "$WORLD/wait-rec.out")
S_REC_MS=$(get c share.reconcile_ms) S_REC_N=$(get c share.reconciled)
S_REC_KC=$(kcount c)
echo "share: C restarted: reconciled $S_REC_N grants in $S_REC_MS ms (share.reconcile_ms); holds $S_REC_HELD (kernel $S_REC_KC) ${S_REC_WALL} ms after its start"

fi
[ "${SHARE_ONLY:-}" = share ] && exit 0
# ===== DRAC RPC fan-out ======================================================
for h in a b c; do host_stop $h; done
MODE=rpc
all_fresh
echo "rpc: A forwards to $B4 and $C4 (TCP, rpcbind in each); up $(( $(date +%s) - T_START )) s after start"
login_run
R_LAT_A=$LAT_A R_LAT_C=$LAT_C R_LAT_AC=$LAT_AC R_FAILS=$LOGIN_FAILS
echo "rpc: logins done ($R_FAILS failed)"

all_fresh
propagate "$(log_feed c)"
R_LOG_PROP=$PROP R_LOG_B=$PROP_b R_LOG_C=$PROP_c
R_LOG_KC=$(kcount c)
echo "rpc: log hook burst: B holds $PROP_b, C $PROP_c (kernel: C $R_LOG_KC) of $N; forward sent $(get a forward.sent) acked $(get a forward.acked) failed $(get a forward.failed)"

all_fresh
propagate "$(log_feed c "$(ctl a) 250 2")"
R_PACE_PROP=$PROP R_PACE_B=$PROP_b R_PACE_C=$PROP_c
echo "rpc: paced (<= 250 calls in flight to B and C together): fed in ${FEED_MS} ms; B holds $PROP_b, C $PROP_c after ${PROP} ms; forward failed $(get a forward.failed)"

# 3. C down while A grants: the forwarder retries for 5 s, then gives up
all_fresh
host_stop c
M=1000
ip netns exec "$NS_A" "$TOOL" feed "$WORLD/a-mail.log" $M f "$(ctl a)" 250 2 >/dev/null
fwd_done() { [ $(( $(get a forward.acked) + $(get a forward.failed) )) -ge $((2 * M)) ]; }
eventually 10 at_least b map.entries $M
eventually 15 fwd_done
host_start c
sleep 1
R_DOWN_C=$(get c map.entries)
R_DOWN_B=$(get b map.entries)
echo "rpc: $M grants on A with C down (forward acked $(get a forward.acked), failed $(get a forward.failed)): after its restart C holds $R_DOWN_C, B $R_DOWN_B"

# ===== table =================================================================
ms() { [ "$1" = - ] && echo - || echo "$1 ms"; }
lat() { set -- $1; echo "$1 / $2 ms (max $3, miss $4)"; }
held() { [ "$1" = "$N" ] && [ "$2" = "$N" ] && echo "$3" || echo "$3 (B $1, C $2 of $N)"; }
echo
echo "fleet benchmark: $N grants, $LOGINS logins; load average after: $(cut -d' ' -f1-3 /proc/loadavg); $(( $(date +%s) - T_START )) s"
{
printf 'metric\tredis share\trpc fan-out\ttarget\n'
printf 'login on A (+OK read by client) -> set of C, p50 / p99\t%s\t%s\tp99 <= 5 ms\n' "$(lat "$S_LAT_C")" "$(lat "$R_LAT_C")"
printf 'same logins: +OK -> set of A (local tap)\t%s\t%s\t-\n' "$(lat "$S_LAT_A")" "$(lat "$R_LAT_A")"
printf 'same logins: set of A -> set of C (the hop)\t%s\t%s\t-\n' "$(lat "$S_LAT_AC")" "$(lat "$R_LAT_AC")"
printf '%s grants, log hook burst: A itself holds them (baseline)\t%s\t-\t-\n' "$N" "$(ms "$S_LOG_LOCAL")"
printf '%s grants, nft batch: A itself holds them (baseline)\t%s\t-\t-\n' "$N" "$(ms "$S_NFT_LOCAL")"
printf '%s grants A->B+C, log hook burst: time\t%s\t%s\t-\n' "$N" "$(held "$S_LOG_B" "$S_LOG_C" "$(ms "$S_LOG_PROP")")" "$(held "$R_LOG_B" "$R_LOG_C" "$(ms "$R_LOG_PROP")")"
printf '%s grants A->B+C, log hook burst: rate\t%s/s\t%s\t>= 50,000/s\n' "$N" "$(rate "$S_LOG_PROP")" "$( [ "$R_LOG_PROP" = - ] && echo "lost $(( 2 * N - R_LOG_B - R_LOG_C )) of $((2 * N))" || echo "$(rate "$R_LOG_PROP")/s")"
printf '%s grants A->B+C, paced for rpc (<= 250 in flight)\t-\t%s, %s/s\t>= 50,000/s\n' "$N" "$(held "$R_PACE_B" "$R_PACE_C" "$(ms "$R_PACE_PROP")")" "$(rate "$R_PACE_PROP")"
printf '%s grants A->B+C, nft batch on A (foreign adds)\t%s, %s/s\tnot forwarded\t>= 50,000/s\n' "$N" "$(held "$S_NFT_B" "$S_NFT_C" "$(ms "$S_NFT_PROP")")" "$(rate "$S_NFT_PROP")"
printf 'C down during grants, then restarted: C holds\t%s of %s\t%s of %s\t-\n' "$S_REC_HELD" "$N" "$R_DOWN_C" "$M"
printf 'reconcile %s grants: share.reconcile_ms / wall to all held\t%s / %s\tno catch-up\t<= 2 s\n' "$N" "$(ms "$S_REC_MS")" "$(ms "$S_REC_WALL")"
} | column -t -s $'\t'
