#!/bin/bash
# A flood of spoofed SYNs to the POP3 port (hping3 --rand-source, two
# senders) while a real client logs in: dracd's memory stays bounded by
# DRAC_MAX_FLOWS and the real logins are still granted.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"
command -v hping3 >/dev/null || skip_all "hping3 not installed"

MAXF=20000
world_up || { nok "world_up"; exit 1; }
world_dovecot_start || { nok "dovecot starts"; exit 1; }
dracd_start -e 10m -o DRAC_MAX_FLOWS=$MAXF || { nok "dracd starts"; exit 1; }
rss() { awk '/^VmRSS/ { print $2 }' /proc/$DRACD_PID/status; }
status() { drac status --json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)['daemon']; print($1)"; }
rss0=$(rss)
for i in 1 2; do
	world_spawn flood$i c2 timeout 6 hping3 -q -S -p 110 --flood --rand-source "$SRV4"
done
sleep 1
granted_all=0
for i in 1 2 3; do
	revoke_all
	world_pop3_login c1 "$SRV4" >/dev/null 2>&1 && wait_granted "$C1_4" 2 && granted_all=$((granted_all + 1))
	sleep 0.5
done
flows=$(status "d['tap']['flows']")
packets=$(status "d['tap']['packets']")
evicted=$(status "d['tap']['drops']['evicted']")
lost=$(status "d['tap']['lost']")
rss1=$(rss)
sleep 5	# the senders stop themselves
echo "# flood: $packets packets seen by the tap, $lost lost, $flows flows (cap $MAXF), $evicted evicted; RSS ${rss0} kB -> ${rss1} kB"
check "the tap saw the flood (> 50,000 packets)" test "$packets" -gt 50000
check "every real login during the flood was granted (3 of 3)" test "$granted_all" -eq 3
check "the flow table stayed within its cap" test "$flows" -le $MAXF
check "flows were evicted rather than memory grown" test "$evicted" -gt 0
check "RSS grew by less than 64 MB" test $((rss1 - rss0)) -lt 65536
check "dracd is still running" kill -0 "$DRACD_PID"
revoke_all
world_imap_login c1 "$SRV6" >/dev/null 2>&1
check "and grants after the flood" wait_granted "$C1_6"
t_done
