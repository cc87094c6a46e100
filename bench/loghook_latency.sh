#!/bin/bash
# bench/loghook_latency.sh - grant latency of the log hook, from a Dovecot
# login line written to its point of entry to the address committed in
# the kernel set (NEWSETELEM seen on nf_tables' event group); dracd alone
# in a private network namespace.  Three runs (target p99 <= 50 ms):
#   file     a line appended to the file dracd follows (inotify)
#   renamed  the file renamed away (logrotate) and no new file yet: lines
#            appended to the renamed file, as a server that has not
#            reopened its log writes them (inotify on the open file)
#   journal  the message sent to a real systemd-journald (private /run,
#            the host's journal untouched), read back through sd-journal
#            with the trusted-field check
# Lines per second parsed: build/bench/bench_logpat.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/${BUILD:-build}
N=${LOGHOOK_LATENCY_N:-1000}
[ "$(id -u)" -eq 0 ] || { echo "loghook_latency: needs root; skipped"; exit 0; }
[ -x "$BIN/bench/tool_logline" ] || make -s -C "$TOP" "${BUILD:-build}/bench/tool_logline" || exit 1
export BIN N
exec unshare -n -m --propagation private bash -c '
tmp=$(mktemp -d /tmp/drac-lhb.XXXXXX)
pid= jpid=
trap "kill \$pid \$jpid 2>/dev/null; wait \$pid \$jpid 2>/dev/null; rm -rf $tmp" EXIT
dracd_run() {	# SETTING...: start dracd, wait until ready
	: > $tmp/log
	$BIN/dracd -f -c /dev/null -o DRAC_TAP=no -o DRAC_MAP=$tmp/dracd.db \
		-o DRAC_PIDFILE=$tmp/pid -o DRAC_CONTROL=$tmp/sock "$@" 2>$tmp/log &
	pid=$!
	for i in $(seq 50); do grep -q ready $tmp/log && return 0; sleep 0.1; done
	echo "dracd did not start:"; cat $tmp/log; return 1
}
dracd_end() { kill $pid; wait $pid 2>/dev/null; pid=; }

: > $tmp/dovecot.log
dracd_run -o DRAC_LOGHOOK_FILE=$tmp/dovecot.log || exit 1
echo -n "file:    "; $BIN/bench/tool_logline $tmp/dovecot.log $N
mv $tmp/dovecot.log $tmp/dovecot.log.1
sleep 1.1	# past a stat poll: only the watch on the open file helps now
echo -n "renamed: "; $BIN/bench/tool_logline $tmp/dovecot.log.1 $N
dracd_end

# journald in this private mount namespace; the host journal untouched
mount -t tmpfs -o mode=755 tmpfs /run && mount -t tmpfs tmpfs /var/log/journal &&
	mkdir -p /run/systemd/journal || exit 1
/lib/systemd/systemd-journald </dev/null >$tmp/journald.out 2>&1 &
jpid=$!
for i in $(seq 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
dracd_run -o DRAC_LOGHOOK_JOURNAL="_EXE=$BIN/bench/tool_logline _UID=0" || exit 1
echo -n "journal: "; $BIN/bench/tool_logline --journal $N
dracd_end
'
