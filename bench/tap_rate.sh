#!/bin/bash
# bench/tap_rate.sh - logged packets per second one dracd core takes in
# without loss, CPU per packet, and the flow table's memory at 100,000
# concurrent flows.
#
# In the server namespace of a test world, bench/tool_flood.c sends paced
# TCP segments with payload (the tap logs them: tcp dport 110 at the input
# hook, IP length 46) from rotating 127/8 sources to 127.0.0.1:110, at
# several rates for a few seconds each.  Nothing listens there, so the
# kernel would answer every segment with a RST from port 110, which the
# tap logs too (output hook) and which doubles the sender's kernel work:
# a table of this benchmark drops the segments at input priority 300,
# after dracd's tap chain (priority 100) has logged them, so TCP never
# sees them and sends no RST; any RST that still gets out is dropped and
# counted at output priority 0, before the tap.  Dracd sees exactly the
# offered segments; a chain at input priority -200 counts what reached
# the input hook.  Counters come from
# `drac status --json` (tap.packets, tap.lost = NFLOG sequence gaps,
# tap.overruns = ENOBUFS), CPU from /proc/PID/schedstat.
set -u
. "$(dirname "$0")/lib.sh"
RATES=${TAP_RATE_RATES:-50000 100000 200000 300000}
SECS=${TAP_RATE_SECS:-2}
FLOWS=${TAP_RATE_FLOWS:-100000}
bench_init tap_rate

fpids=()
bench_tool flood
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the sender, the kernel's loopback path and dracd share these cores with anything else running)"

world_up || { echo "tap_rate: world_up failed"; exit 1; }
srv nft -f - <<'EOF' || { echo "tap_rate: cannot load the bench table"; exit 1; }
table inet drac_bench {
	chain in {
		type filter hook input priority -200; policy accept;
		tcp dport 110 counter
	}
	chain sink {
		type filter hook input priority 300; policy accept;
		ip saddr 127.0.0.0/8 tcp dport 110 drop
	}
	chain out {
		type filter hook output priority 0; policy accept;
		tcp sport 110 tcp flags & rst == rst counter drop
	}
}
EOF
# Baseline in the same run: the senders alone, flat out, with no tap.
for ((j = 0; j < 2; j++)); do
	srv "$BIN/bench/tool_flood" -r 2000000 -s 1 -n 65536 > "$WORLD/base.$j" &
	fpids+=($!)
done
wait "${fpids[@]}"
fpids=()
echo "baseline, no dracd and no tap: $(cat "$WORLD"/base.* | awk '{ n += $2; if ($4 > el) el = $4 } END { printf "2 senders flat out offer %.0f segments/s", n / el }') (1 s)"
rm -f "$WORLD"/base.*
dracd_start -o DRAC_MAX_FLOWS=200000 || exit 1

# status: TAP_PACKETS TAP_LOST TAP_OVERRUNS FLOWS FLOW_MEMORY PID
status() {
	local i
	for i in 1 2 3; do	# retried: a busy daemon, or a drac binary being rebuilt
		drac status --json 2>/dev/null | "$WORLD_PY" -c '
import json, sys
d = json.load(sys.stdin)["daemon"]; t = d["tap"]
print(t["packets"], t["lost"], t["overruns"], t["flows"], t["flow_memory"], d["pid"])' 2>/dev/null && return 0
		sleep 0.2
	done
	echo "tap_rate: no status from dracd" >&2
	return 1
}
# cpu_ns PID: time on CPU (schedstat, ns; else utime+stime from stat).
cpu_ns() {
	local s
	if read -r s _ < "/proc/$1/schedstat" 2>/dev/null; then
		echo "$s"
	else
		awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"
	fi
}
counter() {	# packets counted by the bench table's chain $1
	srv nft list chain inet drac_bench "$1" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -1
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

LAST_US=0 BEST=0 LOSSY="no loss at any rate offered"
read -r P0 L0 O0 F0 M0 PID < <(status)
[ -n "$PID" ] || { echo "tap_rate: no status from dracd"; exit 1; }
RSS0=$(rss_kb "$PID")
echo "dracd pid $PID, VmRSS $RSS0 kB at start, flow table $M0 bytes with $F0 flows (max 200000)"
echo "offered = segments the sender got out (tool_flood); input = reached the input hook; the segments are dropped after the tap logged them, so the kernel sends no RSTs (any that do get out are dropped before the tap and counted)"

# Warm-up: the first burst grows the receive buffer if it must.
srv "$BIN/bench/tool_flood" -r 50000 -s 0.5 >/dev/null
sleep 0.3

for rate in $RATES; do
	read -r p0 l0 o0 _ _ _ < <(status) || continue
	c0=$(cpu_ns "$PID"); i0=$(counter in); r0=$(counter out)
	# One sender does about 150,000 segments/s on a core of this kind
	# (its share of the loopback path, NFLOG included, runs in its
	# context); faster rates are split over several senders.
	ns=$(( (rate + 149999) / 150000 ))
	fpids=()
	for ((j = 0; j < ns; j++)); do
		srv "$BIN/bench/tool_flood" -r $((rate / ns)) -s "$SECS" -n 65536 > "$WORLD/flood.$j" &
		fpids+=($!)
	done
	wait "${fpids[@]}"	# not a bare wait: dracd is a child too
	sleep 0.5	# let dracd drain its socket
	read -r p1 l1 o1 _ _ _ < <(status) || continue
	c1=$(cpu_ns "$PID"); i1=$(counter in); r1=$(counter out)
	# each: "sent N in S s = R pps (cpu C s, ...)"
	read -r sent el achieved scpu < <(cat "$WORLD"/flood.* | awk '
		{ n += $2; if ($4 > el) el = $4; c += $10 }
		END { printf "%d %.3f %.0f %.3f\n", n, el, el ? n / el : 0, c }')
	rm -f "$WORLD"/flood.*
	recv=$((p1 - p0)) lost=$((l1 - l0)) ovr=$((o1 - o0)) input=$((i1 - i0)) rst=$((r1 - r0))
	awk -v rate="$rate" -v ns="$ns" -v sent="$sent" -v el="$el" -v ach="$achieved" -v scpu="$scpu" \
		-v input="$input" -v recv="$recv" -v lost="$lost" -v ovr="$ovr" -v rst="$rst" \
		-v cpu=$((c1 - c0)) 'BEGIN {
		printf "tap rate %6d pps asked: offered %d in %.2f s (%.0f pps, %d sender%s, cpu %.2f s); input hook %d; dracd received %d, lost %d, overruns %d; dracd cpu %.2f us/packet, %.0f%% of one core; RSTs %d\n",
			rate, sent, el, ach, ns, (ns > 1) ? "s" : "", scpu, input, recv, lost, ovr,
			recv ? cpu / 1000 / recv : 0, cpu / 1e7 / el, rst
		if (ach < 0.95 * rate)
			printf "  (the sender reached only %.0f%% of the asked rate on this machine now)\n", 100 * ach / rate
		if (recv != input || lost || ovr)
			printf "  LOSS: %d of %d logged segments did not reach dracd\n", input - recv + lost, input
	}'
	if [ "$recv" -ne "$input" ] || [ "$lost" -ne 0 ] || [ "$ovr" -ne 0 ]; then
		LOSSY="loss at $rate pps asked"
	elif [ "${achieved%.*}" -gt "$BEST" ]; then
		BEST=${achieved%.*}
	fi
	[ "$recv" -gt 0 ] && LAST_US=$(awk -v c=$((c1 - c0)) -v r="$recv" 'BEGIN { print c / 1000 / r }')
done

if [ "$BEST" -ge 200000 ]; then
	echo "highest offered rate taken with zero loss: $BEST pps; floor 200000 pps with zero loss: met"
else
	echo "highest offered rate taken with zero loss: $BEST pps; floor 200000 pps: not reached by the senders on this machine now ($LOSSY)"
fi
echo "one dracd core, projected from the CPU per packet at the highest rate: about $(awk -v c="$LAST_US" 'BEGIN { printf "%.0f", (c > 0) ? 1e6 / c : 0 }') packets/s (the floor is 200000 with zero loss)"

# Flow table at FLOWS concurrent flows: one SYN from each distinct
# (127/8 address, port); the server's RST|ACK is dropped before the tap, so
# each stays a half-open flow until the idle timeout (120 s).
read -r _ _ _ F1 M1 _ < <(status)
RSS1=$(rss_kb "$PID")
out=$(srv "$BIN/bench/tool_flood" -m syn -r 50000 -c "$FLOWS" -n "$FLOWS")
sleep 0.5
read -r _ lost _ F2 M2 _ < <(status)
RSS2=$(rss_kb "$PID")
echo "flow table: $F2 flows after $FLOWS SYNs from distinct sources ($out)"
awk -v f1="$F1" -v m1="$M1" -v f2="$F2" -v m2="$M2" -v r1="$RSS1" -v r2="$RSS2" -v r0="$RSS0" 'BEGIN {
	printf "flow table memory: %.1f MB at %d flows (%.1f MB at %d); %.0f bytes per flow\n",
		m2 / 1048576, f2, m1 / 1048576, f1, (f2 - f1) ? (m2 - m1) / (f2 - f1) : 0
	printf "dracd VmRSS: %.1f MB at start, %.1f MB before the SYNs, %.1f MB at %d flows\n",
		r0 / 1024, r1 / 1024, r2 / 1024, f2
}'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
