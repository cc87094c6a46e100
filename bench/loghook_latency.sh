#!/bin/bash
# bench/loghook_latency.sh - grant latency of the log hook: from a
# Dovecot login line appended to the file dracd follows (inotify) to the
# address committed in the kernel set; dracd alone in a private network
# namespace.  Lines per second parsed: build/bench/bench_logpat.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/${BUILD:-build}
[ "$(id -u)" -eq 0 ] || { echo "loghook_latency: needs root; skipped"; exit 0; }
[ -x "$BIN/bench/tool_logline" ] || make -s -C "$TOP" "${BUILD:-build}/bench/tool_logline" || exit 1
exec unshare -n bash -c '
tmp=$(mktemp -d /tmp/drac-lhb.XXXXXX)
trap "kill \$pid 2>/dev/null; wait \$pid 2>/dev/null; rm -rf $tmp" EXIT
: > $tmp/dovecot.log
'"$BIN"'/dracd -f -c /dev/null -o DRAC_TAP=no -o DRAC_LOGHOOK_FILE=$tmp/dovecot.log \
	-o DRAC_MAP=$tmp/dracd.db -o DRAC_PIDFILE=$tmp/pid -o DRAC_CONTROL=$tmp/sock 2>$tmp/log &
pid=$!
for i in $(seq 50); do grep -q ready $tmp/log && break; sleep 0.1; done
'"$BIN"'/bench/tool_logline $tmp/dovecot.log ${LOGHOOK_LATENCY_N:-1000}
'
