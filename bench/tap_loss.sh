#!/bin/bash
# bench/tap_loss.sh - what it takes to make the tap lose packets, and
# whether real logins are still granted meanwhile.
#
# NFLOG loss makes every flow alive at that moment unable to grant: a
# lost packet may have been the copy of some client bytes the server
# really took where we then see another (even after the server ACKed
# nothing yet, the real copy lost and a decoy for the same range seen
# next would pass every later check).  So an attacker who can cause loss
# can deny the grants of logins under way at that moment.  Here senders in the
# second client namespace flood the POP3 port with spoofed-source
# segments that carry payload (hping3 -A -d 64 --rand-source), each one
# logged by the tap, with 1, 2 and 4 senders, while a real client logs
# in every 0.5 s.  Reports the rate the tap saw, NFLOG sequence gaps and
# overruns, and the logins granted.
set -u
. "$(dirname "$0")/lib.sh"
bench_init tap_loss
command -v hping3 >/dev/null || { echo "tap_loss: hping3 not installed; skipped"; exit 0; }
bench_machine
SECS=${TAP_LOSS_SECS:-6}

world_up || { echo "tap_loss: world_up failed"; exit 1; }
world_dovecot_start || { echo "tap_loss: dovecot failed"; exit 1; }
dracd_start -e 10m || exit 1
st() { drac status --json | "$WORLD_PY" -c "import json,sys; t=json.load(sys.stdin)['daemon']['tap']; print($1)"; }
for n in 1 2 4; do
	p0=$(st "t['packets']") l0=$(st "t['lost'] + t['overruns']")
	t0=$(date +%s%N)
	pids=()
	for ((i = 0; i < n; i++)); do
		c2 timeout "$SECS" hping3 -q -A -d 64 -p 110 --flood --rand-source "$SRV4" >/dev/null 2>&1 &
		pids+=($!)
	done
	sleep 0.5
	tries=0 granted=0
	while [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt $((SECS - 1)) ]; do
		revoke_all
		tries=$((tries + 1))
		world_pop3_login c1 "$SRV4" >/dev/null 2>&1 && wait_granted "$C1_4" 1 && granted=$((granted + 1))
		sleep 0.5
	done
	wait "${pids[@]}"
	t1=$(date +%s%N)
	p1=$(st "t['packets']") l1=$(st "t['lost'] + t['overruns']")
	echo "$n hping3 sender(s): $(( (p1 - p0) * 1000000000 / (t1 - t0) )) logged packets/s for $SECS s, $((l1 - l0)) lost, real logins granted $granted of $tries"
done
