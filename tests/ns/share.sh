#!/bin/bash
# Fleet sharing through Redis (issue 14, /work/wt/SHARE-SPEC.md): a real
# redis-server in its own namespace and three dracd hosts in three more
# (tests/lib/fleet.sh): A with real Dovecot and the tap, B and C with real
# Postfix (check_client_access btree:their map) and DRAC_TAP=no.  Each host
# reaches Redis another way: A redis://192.0.2.20, B unix:SOCKET, C
# redis://[2001:db8::20]:6379/0.
#   a  a POP3 login on A opens relay on B and C (Postfix 554 -> 250)
#   b  drac del on C closes it on A and B (sets, maps, Postfix 554)
#   c  Redis restarted empty: hosts reconnect, push their grants again, a
#      new login propagates, a host started afterwards learns the old grants
#   d  C stopped, logins on A, C restarted: C has them with A's remaining
#      time; a revocation made while C was down is not undone by C
#   e  Redis unreachable (stopped, packets dropped) at A's start: A starts,
#      grants locally, queues; Redis back: A pushes, B and C follow
#   f  garbage keys, values and messages: counted, ignored, clamped; the
#      daemons live on and still propagate a real login
#   g  Redis ACLs: the documented user line works; a wrong password is a
#      clear error without a hot loop; credentials readable by others or
#      missing are refused
# IPv4 and IPv6 client addresses throughout.  Bounds are loose (the machine
# is shared); measured times are printed as comments.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/redis.sh"
. "$TOP/tests/lib/fleet.sh"
redis_need
[ -x "$BIN/dracd" ] && [ -x "$BIN/drac" ] || skip_all "build first (make all)"

WIN_MS=600000			# EXPIRE_TIME below
PROP=3				# seconds for a grant to reach the other hosts
HID=0123456789abcdef		# a foreign HOSTID for injected messages
now_ms() { date +%s%3N; }
dead() { ! world__alive "$1"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# On failure, what the daemons said.
share__report() {
	[ "$T_FAILED" -gt 0 ] || return 0
	local x
	for x in A B C; do
		echo "# ---- dracd $x (last lines of $WORLD/dracd$x.log):"
		tail -25 "$WORLD/dracd$x.log" 2>/dev/null | sed 's/^/#   /'
		echo "# ---- drac status $x (share.*):"
		fdrac $x status 2>&1 | grep -E 'share|dracd:' | sed 's/^/#   /'
	done
	echo "# ---- redis (last lines):"
	tail -10 "$REDIS_LOG" 2>/dev/null | sed 's/^/#   /'
}

fleet_up || { nok "fleet_up"; exit 1; }
world_on_cleanup share__report
"$BIN/dracd" --print-settings -c /dev/null -o DRAC_SHARE="redis://$RD4" >/dev/null 2>&1 ||
	{ nok "dracd knows DRAC_SHARE"; exit 1; }

FLEET_COMMON=('EXPIRE_TIME="10m"' 'DRAC_MAP_INTERVAL="20"'
	'DRAC_TRUSTED="203.0.113.0/24 2001:db8:1::/48"')
redis_start "$NS_RD" "$RD4 $RD6" || { nok "redis-server starts"; exit 1; }
share_A="DRAC_SHARE=\"redis://$RD4\""
share_B="DRAC_SHARE=\"unix:$REDIS_SOCK\""
share_C="DRAC_SHARE=\"redis://[$RD6]:6379/0\""
fleet_settings A "$share_A"
fleet_settings B "$share_B"
fleet_settings C "$share_C"
world_dovecot_start || { nok "dovecot starts on A"; exit 1; }
for x in A B C; do fleet_dracd_start $x || { nok "dracd $x starts"; exit 1; }; done
for x in B C; do fleet_postfix_start $x || { nok "postfix starts on $x"; exit 1; }; done
ok "fleet up: Dovecot + dracd on A, Postfix + dracd on B and C, redis-server $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/')"

for x in A B C; do
	check "$x connected to Redis ($(fstatus $x endpoint))" eventually 5 fstatus_is $x connected 1
	check "$x subscribed" eventually 5 fstatus_is $x subscribed 1
done

# All of A's grants of client CL (c1, c2) over both families.
login_both() {	# CL
	world_pop3_login "$1" "$HA4" >/dev/null || nok "$1 POP3 login on A over IPv4"
	world_pop3_login "$1" "$HA6" >/dev/null || nok "$1 POP3 login on A over IPv6"
}
# granted_on "X Y" ADDR... / absent_on "X Y" ADDR...: sets and maps
granted_on() {
	local hosts=$1 x a; shift
	for x in $hosts; do for a; do fgranted $x "$a" && fin_map $x "$a" || return 1; done; done
}
absent_on() {
	local hosts=$1 x a; shift
	for x in $hosts; do for a; do ! fgranted $x "$a" && ! fin_map $x "$a" || return 1; done; done
}
relay_is() {	# CODE CLIENT HOST FAM
	local r; r=$(frelay "$2" "$3" "$4")
	[ "$r" = "$1" ] || { echo "# relay from $2 through $3 over IPv$4: $r, not $1"; return 1; }
}

# --- a: a login on A opens relay on B and C ---------------------------------
echo "# a: POP3 login on A -> B and C"
world_spawn sub "$NS_RD" redis-cli -h "$RD4" SUBSCRIBE drac:events
SUBPID=$WORLD_PID
for f in 4 6; do for x in B C; do
	check "a: before the login, $x answers 554 to c1 over IPv$f" relay_is 554 c1 $x $f
done; done
t0=$(date +%s%N)
login_both c1
check "a: A granted c1 ($C1_4, $C1_6)" eventually 2 granted_on A "$C1_4" "$C1_6"
check "a: B and C have it within ${PROP} s (sets and maps)" eventually $PROP granted_on "B C" "$C1_4" "$C1_6"
echo "# a: two logins on A to the element in B's and C's sets and maps: $(ms_since $t0) ms"
for f in 4 6; do for x in B C; do
	check "a: $x answers 250 to c1 over IPv$f" relay_is 250 c1 $x $f
done; done
check "a: c2 (no login) still 554 on B" relay_is 554 c2 B 4
v=$(rcli GET "drac:g:$C1_4"); pttl=$(rcli PTTL "drac:g:$C1_4"); n=$(now_ms)
echo "# a: drac:g:$C1_4 = $v, PTTL $pttl, now $n"
check "a: drac:g:$C1_4 holds the absolute expiry in ms (now+window)" \
	test "${v:-0}" -gt $((n + WIN_MS - 15000)) -a "${v:-0}" -le $((n + WIN_MS + 1000))
check "a: and expires then (PTTL)" test "${pttl:--1}" -gt $((WIN_MS - 15000)) -a "${pttl:--1}" -le $((WIN_MS + 1000))
check "a: drac:g:$C1_6 exists" test "$(rcli EXISTS "drac:g:$C1_6")" = 1
check "a: a G message went out on drac:events" \
	eventually 2 grep -qE "^G $C1_4 [0-9]{13} [0-9]{13} [0-9a-f]{16}\$" "$WORLD/sub.log"
lag=$(fstatus B lag_max_ms)
check "a: B reports its lag (share.lag_max_ms $lag)" bash -c "[[ '$lag' =~ ^[0-9]+\$ ]] && [ '$lag' -lt 5000 ]"
c=$(fstatus B applied)
check "a: B counts what it applied (share.applied $c)" test "${c:-0}" -ge 2
check "a: B and C do not publish what they applied (share.pushed 0 on B)" fstatus_is B pushed 0
sleep 0.5
n=$(grep -cE "^G $C1_4 " "$WORLD/sub.log")
check "a: one G message for $C1_4 on drac:events ($n)" test "$n" -eq 1

# --- b: drac del on C revokes everywhere ------------------------------------
echo "# b: drac del on C"
check "b: drac del $C1_4 on C" fdrac C del "$C1_4"
check "b: drac del $C1_6 on C" fdrac C del "$C1_6"
check "b: gone from C" absent_on C "$C1_4" "$C1_6"
t0=$(date +%s%N)
check "b: gone from A and B (sets and maps) within ${PROP} s" eventually $PROP absent_on "A B" "$C1_4" "$C1_6"
echo "# b: drac del on C to gone on A and B: $(ms_since $t0) ms"
for f in 4 6; do
	check "b: B answers 554 to c1 over IPv$f" relay_is 554 c1 B $f
	check "b: C answers 554 to c1 over IPv$f" relay_is 554 c1 C $f
done
check "b: the grant key is gone from Redis" test "$(rcli EXISTS "drac:g:$C1_4")" = 0
check "b: a tombstone drac:r:$C1_4 is there" test "$(rcli EXISTS "drac:r:$C1_4")" = 1
check "b: an R message went out" eventually 2 grep -qE "^R $C1_4 [0-9]{13} [0-9]{13} [0-9a-f]{16}\$" "$WORLD/sub.log"
check "b: C counted the revocations it sent" fstatus_ge C revokes_sent 2
check "b: A applied them" fstatus_ge A revokes_applied 2
world_stop "$SUBPID"

# --- c: Redis restarted, empty ----------------------------------------------
echo "# c: Redis restart"
login_both c2
check "c: c2 granted on A, B and C before the restart" eventually $PROP granted_on "A B C" "$C2_4" "$C2_6"
declare -A conn0=()
for x in A B C; do conn0[$x]=$(fstatus $x connects); done
t0=$(date +%s%N)
redis_restart || { nok "c: redis restarts"; exit 1; }
for x in A B C; do
	check "c: $x reconnects (share.connected 1, connects ${conn0[$x]} -> more)" \
		eventually 10 fstatus_ge $x connects $(( ${conn0[$x]:-0} + 1 ))
	check "c: $x share.connected 1" eventually 5 fstatus_is $x connected 1
done
echo "# c: Redis restart to all three reconnected: $(ms_since $t0) ms"
check "c: the grants made before the restart are pushed again ($C2_4)" \
	eventually 5 test "$(rcli EXISTS "drac:g:$C2_4")" = 1
check "c: and $C2_6" eventually 5 test "$(rcli EXISTS "drac:g:$C2_6")" = 1
t0=$(date +%s%N)
world_pop3_login c1 "$HA4" >/dev/null || nok "c: c1 login on A"
check "c: a new login on A reaches B and C" eventually $PROP granted_on "B C" "$C1_4"
echo "# c: login after the restart to B and C: $(ms_since $t0) ms"
check "c: B answers 250 to c1" relay_is 250 c1 B 4
# A host started afterwards, with nothing of its own (table and state file
# gone), learns the old grants from Redis alone.
fleet_dracd_stop C
inC nft delete table inet drac 2>/dev/null
rm -f "$WORLD/hostC/dracd.db.state"
check_not "c: C's set is gone while C is down" fgranted C "$C2_4"
fleet_dracd_start C || nok "c: dracd C starts again"
check "c: C, started afterwards, learned the grants made before the restart" \
	eventually 5 granted_on C "$C2_4" "$C2_6" "$C1_4"
check "c: C reconciled (share.reconciled $(fstatus C reconciled))" fstatus_ge C reconciled 3
check "c: C answers 250 to c2 over IPv6" relay_is 250 c2 C 6

# --- d: C down while grants are made; a revocation while C is down --------------
echo "# d: C stopped, logins on A, C restarted"
check "d: drac flush on A" fdrac A flush
check "d: everything revoked on B and C" \
	eventually $PROP absent_on "B C" "$C1_4" "$C1_6" "$C2_4" "$C2_6"
check "d: drac add 198.51.100.20 on A" fdrac A add 198.51.100.20
check "d: 198.51.100.20 reaches C" eventually $PROP granted_on C 198.51.100.20
fleet_dracd_stop C
sleep 1		# the tombstones of the flush are older than the next grants
check "d: drac del 198.51.100.20 on A while C is down" fdrac A del 198.51.100.20
login_both c1
world_pop3_login c2 "$HA4" >/dev/null || nok "d: c2 login on A"
check "d: B got the logins" eventually $PROP granted_on B "$C1_4" "$C1_6" "$C2_4"
sleep 3		# C started now must not grant a fresh window
fleet_dracd_start C || nok "d: dracd C starts again"
check "d: C has the grants made while it was down" eventually 5 granted_on C "$C1_4" "$C1_6" "$C2_4"
for a in "$C1_4" "$C1_6" "$C2_4"; do
	ea=$(fexpires_ms A "$a"); ec=$(fexpires_ms C "$a")
	echo "# d: $a expires in ${ea:-?} ms on A, ${ec:-?} ms on C"
	check "d: $a on C has A's remaining time (within 2 s)" \
		test -n "$ea" -a -n "$ec" -a $(( ${ea:-0} - ${ec:-0} )) -le 2000 -a $(( ${ec:-0} - ${ea:-0} )) -le 2000
	check "d: not a fresh window" test "${ec:-$WIN_MS}" -lt $((WIN_MS - 2500))
done
check "d: C answers 250 to c1 over IPv6" relay_is 250 c1 C 6
check "d: C dropped 198.51.100.20, revoked while it was down" eventually 5 absent_on C 198.51.100.20
sleep 1
check "d: and did not bring it back to A or B" absent_on "A B" 198.51.100.20
check "d: nor to Redis" test "$(rcli EXISTS drac:g:198.51.100.20)" = 0

# --- e: Redis unreachable at A's start --------------------------------------
echo "# e: Redis unreachable at A's start"
check "e: drac flush on A" fdrac A flush
check "e: revoked on B and C" eventually $PROP absent_on "B C" "$C1_4" "$C1_6" "$C2_4"
sleep 1
redis_stop
# Unreachable, not refused: SYNs to Redis vanish (connect timeout path).
inrd nft -f - <<'EOF' || nok "e: drop rule in Redis's namespace"
table inet blackhole {
	chain in {
		type filter hook input priority -10; policy accept;
		tcp dport 6379 drop
	}
}
EOF
fleet_dracd_stop A
t0=$(date +%s%N)
check "e: A starts with Redis unreachable" fleet_dracd_start A -o DRAC_SHARE_QUEUE=16
echo "# e: dracd A ready after $(ms_since $t0) ms"
t0=$(date +%s%N)
check "e: drac status answers at once" fdrac A status >/dev/null
check "e: (within 1 s: $(ms_since $t0) ms)" test "$(ms_since $t0)" -lt 1000
check "e: A says share.connected 0" fstatus_is A connected 0
login_both c1
check "e: A grants locally ($C1_4, $C1_6)" eventually 2 granted_on A "$C1_4" "$C1_6"
check "e: B does not have it yet" absent_on B "$C1_4"
check "e: grants wait in A's table, not in the queue (share.queued $(fstatus A queued))" \
	fstatus_is A queued 0
check "e: A is alive" fleet_alive A
# Grants made while away are pushed from the table at the connect; only
# revocations wait in the queue (16 here): 20 of them overflow it.
OVF=()
for i in $(seq 1 20); do OVF+=(198.51.100.$((100 + i))); fdrac A add "198.51.100.$((100 + i))" >/dev/null; done
for i in $(seq 1 20); do
	fdrac A add "198.51.100.$((150 + i))" >/dev/null
	fdrac A del "198.51.100.$((150 + i))" >/dev/null
done
check "e: revocations queue (share.queued $(fstatus A queued) = 16)" fstatus_is A queued 16
check "e: overflow counted (share.queue_overflow $(fstatus A queue_overflow))" fstatus_ge A queue_overflow 4
inrd nft delete table inet blackhole
t0=$(date +%s%N)
redis_start "$NS_RD" "$RD4 $RD6" || { nok "e: redis-server starts"; exit 1; }
check "e: Redis back: A connects" eventually 15 fstatus_is A connected 1
check "e: B and C get A's grants" eventually 15 granted_on "B C" "$C1_4" "$C1_6"
check "e: and every grant made while away" eventually 5 granted_on "B C" "${OVF[@]}"
check "e: the queued revocations reached Redis" eventually 5 test "$(rcli EXISTS drac:r:198.51.100.151)" = 1
echo "# e: Redis started to A's grants on B and C: $(ms_since $t0) ms"
check "e: A's queue is empty" eventually 3 fstatus_is A queued 0
check "e: A counted pushes (share.pushed $(fstatus A pushed))" fstatus_ge A pushed 2
check "e: B answers 250 to c1 over IPv4" relay_is 250 c1 B 4
both_connected() { fstatus_is B connected 1 && fstatus_is C connected 1; }
check "e: B and C are connected again" eventually 10 both_connected

# --- f: garbage in Redis ----------------------------------------------------
echo "# f: garbage keys, values and messages"
fdrac A flush >/dev/null
eventually $PROP absent_on "B C" "$C1_4" "$C1_6" || nok "f: flush reached B and C"
g0=$(fstatus B garbage) cl0=$(fstatus B clamped) r0=$(fstatus B reconciles)
n=$(now_ms) fut=$(( $(now_ms) + 60000 )) ten=$(( $(now_ms) + 10 * 365 * 86400000 ))
over=$(( $(now_ms) + WIN_MS + 20000 ))
big=$(head -c 100000 /dev/zero | tr '\0' 7)
rcli SET drac:g:not-an-address $fut PX 60000 >/dev/null
rcli SET drac:g:192.0.2.77 abc PX 60000 >/dev/null
rcli SET drac:g:192.0.2.78 $over PXAT $over >/dev/null	# just beyond the window: clamped
rcli SET drac:g:192.0.2.88 $ten PXAT $ten >/dev/null		# 10 years: never beyond the window
rcli SET drac:g:192.0.2.79 $fut >/dev/null			# no TTL
printf '%s' "$big" | rcli -x SET drac:g:192.0.2.80 >/dev/null; rcli PEXPIRE drac:g:192.0.2.80 60000 >/dev/null
rcli SET drac:g:192.0.2.82 $((n - 1000)) PX 60000 >/dev/null	# expiry in the past
rcli SET drac:g:192.0.2.83 "${fut}abc" PX 60000 >/dev/null
rcli SET drac:g:192.0.2.84 "-$fut" PX 60000 >/dev/null
rcli SET drac:g:127.0.0.1 $fut PX 60000 >/dev/null		# loopback
rcli SET drac:g:203.0.113.9 $fut PX 60000 >/dev/null		# trusted
rcli SET "drac:g:192.0.2.85/24" $fut PX 60000 >/dev/null
rcli HSET drac:g:192.0.2.86 f $fut >/dev/null			# wrong type
rcli PEXPIRE drac:g:192.0.2.86 60000 >/dev/null
rcli SET "drac:g:$(head -c 5000 /dev/zero | tr '\0' 1)" $fut PX 60000 >/dev/null
rcli SET drac:zzz 1 >/dev/null
rcli SET drac:r:192.0.2.87 xyz PX 60000 >/dev/null		# garbage tombstone
rcli SET drac:g: $fut PX 60000 >/dev/null
echo "# f: $(rcli DBSIZE) keys in Redis"
# Reconnect every host: they reconcile with the keyspace.
rcli CLIENT KILL TYPE pubsub >/dev/null
rcli CLIENT KILL TYPE normal >/dev/null
check "f: B reconciled again" eventually 10 fstatus_ge B reconciles $(( ${r0:-0} + 1 ))
for x in A B C; do check "f: $x connected again" eventually 10 fstatus_is $x connected 1; done
g1=$(fstatus B garbage)
echo "# f: B share.garbage $g0 -> $g1 after the reconcile"
check "f: B counted the garbage keys (+>=6)" test "${g1:-0}" -ge $(( ${g0:-0} + 6 ))
check "f: an expiry 20 s beyond the window (192.0.2.78) is granted on B" eventually 3 fgranted B 192.0.2.78
e78=$(fexpires_ms B 192.0.2.78)
check "f: clamped to the window (${e78:-?} ms <= $WIN_MS)" test "${e78:-99999999999}" -le $((WIN_MS + 1000))
within_window() {	# X ADDR: absent, or granted for no more than the window
	local e
	fgranted "$1" "$2" || return 0
	e=$(fexpires_ms "$1" "$2")
	echo "# $2 granted on $1, expires in ${e:-?} ms"
	[ "${e:-99999999999}" -le $((WIN_MS + 1000)) ]
}
for x in A B C; do
	check "f: the 10-year expiry (192.0.2.88) gives nothing beyond the window on $x" within_window $x 192.0.2.88
done
for a in 192.0.2.77 192.0.2.79 192.0.2.80 192.0.2.82 192.0.2.83 192.0.2.84 127.0.0.1 \
	203.0.113.9 192.0.2.85 192.0.2.86; do
	check "f: key drac:g:$a... granted nowhere" absent_on "A B C" $a
done
# Messages on drac:events.
pub() { rcli PUBLISH drac:events "$1" >/dev/null; }
n=$(now_ms) fut=$(( $(now_ms) + 60000 ))
pub "G 192.0.2.90"
pub "G 192.0.2.91 $fut $n $HID extra"
pub "X 192.0.2.92 $fut $n $HID"
pub ""
pub "G 192.0.2.93 $(head -c 20000 /dev/zero | tr '\0' 9) $n $HID"
pub "G 192.0.2.94 $fut $n $HID $(head -c 20000 /dev/zero | tr '\0' x)"
pub "G 300.1.2.3 $fut $n $HID"
pub "G 192.0.2.95/24 $fut $n $HID"
pub "G 192.0.2.96 abc $n $HID"
pub "G 192.0.2.97 -$fut $n $HID"
pub "G 192.0.2.98 $((n - 5000)) $n $HID"
pub "G 192.0.2.99 $fut $n not-hex-at-all!!"
pub "R not-an-address $n $n $HID"
printf 'G 192.0.2.100\n%s\0 %s %s' "$fut" "$n" "$HID" | rcli -x PUBLISH drac:events >/dev/null
pub "G 127.0.0.1 $fut $n $HID"
pub "G ::1 $fut $n $HID"
pub "G 203.0.113.5 $fut $n $HID"
pub "G 2001:db8:1::5 $fut $n $HID"
pub "G 192.0.2.101 $over $n $HID"			# just beyond: clamped
pub "G 192.0.2.102 $ten $n $HID"				# 10 years
sleep 1
g2=$(fstatus B garbage) cl1=$(fstatus B clamped)
echo "# f: B share.garbage $g1 -> $g2 after the messages; share.clamped $cl0 -> $cl1"
check "f: B counted the garbage messages (+>=10)" test "${g2:-0}" -ge $(( ${g1:-0} + 10 ))
check "f: B counted clamped expiries" test "${cl1:-0}" -gt "${cl0:-0}"
check "f: an expiry 20 s beyond the window (192.0.2.101) is granted on C" eventually 3 fgranted C 192.0.2.101
e101=$(fexpires_ms C 192.0.2.101)
check "f: clamped to the window (${e101:-?} ms <= $WIN_MS)" test "${e101:-99999999999}" -le $((WIN_MS + 1000))
for x in A B C; do
	check "f: the 10-year message (192.0.2.102) gives nothing beyond the window on $x" within_window $x 192.0.2.102
done
for a in 192.0.2.90 192.0.2.91 192.0.2.92 192.0.2.93 192.0.2.94 192.0.2.95 192.0.2.96 \
	192.0.2.97 192.0.2.98 192.0.2.99 192.0.2.100 127.0.0.1 ::1 203.0.113.5 2001:db8:1::5; do
	check "f: message for $a granted nowhere" absent_on "A B C" $a
done
for x in A B C; do check "f: dracd $x still alive" fleet_alive $x; done
t0=$(date +%s%N)
login_both c2
check "f: a real login on A still reaches B and C" eventually $PROP granted_on "B C" "$C2_4" "$C2_6"
echo "# f: login to B and C after the garbage: $(ms_since $t0) ms"
check "f: C answers 250 to c2" relay_is 250 c2 C 4

# --- g: Redis with ACLs -----------------------------------------------------
echo "# g: Redis ACL"
for x in A B C; do fdrac $x flush >/dev/null; fleet_dracd_stop $x; done
ACL_DRAC=${SHARE_TEST_ACL:-'user drac on >secret resetkeys ~drac:* resetchannels &drac:* -@all +eval +get +pexpiretime +set +del +publish +scan +subscribe +ping +select +role'}
redis_stop
redis_start "$NS_RD" "$RD4 $RD6" "user default off" \
	"user admin on >adminpw ~* &* +@all" "$ACL_DRAC" || { nok "g: redis-server with ACLs starts"; exit 1; }
REDIS_CLI_USER=admin REDIS_CLI_PASS=adminpw
check "g: the default user is off" bash -c "ip netns exec $NS_RD redis-cli -h $RD4 PING 2>&1 | grep -q NOAUTH"
for x in A B C; do
	install -m 600 /dev/null "$WORLD/host$x/share.auth"
	echo "drac secret" > "$WORLD/host$x/share.auth"
	v=share_$x
	fleet_settings $x "${!v}" "DRAC_SHARE_AUTH=\"$WORLD/host$x/share.auth\""
done
echo "drac wrong" > "$WORLD/hostC/share.auth"
for x in A B C; do fleet_dracd_start $x || nok "g: dracd $x starts with credentials"; done
check "g: A connects as drac" eventually 5 fstatus_is A connected 1
check "g: B connects as drac" eventually 5 fstatus_is B connected 1
t0=$(date +%s%N)
world_pop3_login c1 "$HA4" >/dev/null || nok "g: c1 login on A"
world_pop3_login c1 "$HA6" >/dev/null || nok "g: c1 login on A over IPv6"
check "g: the login on A reaches B through the ACL user" eventually $PROP granted_on B "$C1_4" "$C1_6"
echo "# g: login to B with ACLs: $(ms_since $t0) ms"
check "g: B answers 250 to c1" relay_is 250 c1 B 4
check "g: C (wrong password) not connected" fstatus_is C connected 0
err=$(fstatus C error)
echo "# g: C share.error: $err"
check "g: C's share.error carries Redis's WRONGPASS" bash -c "grep -Eqi 'WRONGPASS|invalid username-password' <<<'$err'"
check "g: C's log too" grep -Eqi 'WRONGPASS|invalid username-password' "$WORLD/dracdC.log"
check "g: C counts auth failures" fstatus_ge C auth_failures 1
check_not "g: C did not get the grant" fgranted C "$C1_4"
c0=$(redis_info_field total_connections_received)
sleep 5
c1=$(redis_info_field total_connections_received)
echo "# g: Redis accepted $((c1 - c0)) connections in 5 s while C's password is wrong"
check "g: no hot loop (<= 10 connections in 5 s)" test $((c1 - c0)) -le 10
n=$(grep -Eci 'WRONGPASS|invalid username-password' "$WORLD/dracdC.log")
check "g: the auth error is logged once per streak ($n lines)" test "$n" -le 2
check "g: dracd C still alive" fleet_alive C
check "g: C still grants locally" fdrac C add 198.51.100.30
check "g: 198.51.100.30 in C's set and map" eventually 2 granted_on C 198.51.100.30
fleet_dracd_stop C
echo "drac secret" > "$WORLD/hostC/share.auth"
fleet_dracd_start C || nok "g: dracd C restarts with the right password"
check "g: C connects with the right password" eventually 5 fstatus_is C connected 1
check "g: and learns A's grant" eventually 5 granted_on C "$C1_4" "$C1_6"
check "g: C pushed its local grant 198.51.100.30 to B" eventually $PROP granted_on B 198.51.100.30
denied=$(rcli ACL LOG 100 | awk 'p == "reason" && $0 != "auth" { d = 1 } p == "object" && d { print; d = 0 } { p = $0 }' | sort -u | tr '\n' ' ')
check "g: Redis's ACL LOG shows no command or key the drac user was denied (${denied:-none})" test -z "$denied"
fleet_dracd_stop C
# Credentials readable by others, or missing: refused, naming the file.
chmod 644 "$WORLD/hostC/share.auth"
world_spawn dracdC-bad "$NS_C" "$BIN/dracd" -f -c "$WORLD/hostC/dracd.settings"
pid=$WORLD_PID
check "g: credentials readable by others: dracd exits" eventually 5 dead $pid
wait $pid; rc=$?
check "g: with a non-zero status ($rc)" test $rc -ne 0
check "g: naming the file" grep -qF "$WORLD/hostC/share.auth" "$WORLD/dracdC-bad.log"
sed 's/^/#   /' "$WORLD/dracdC-bad.log"
rm -f "$WORLD/hostC/share.auth"
: > "$WORLD/dracdC-bad.log"
world_spawn dracdC-bad "$NS_C" "$BIN/dracd" -f -c "$WORLD/hostC/dracd.settings"
pid=$WORLD_PID
check "g: missing credentials file: dracd exits" eventually 5 dead $pid
wait $pid; rc=$?
check "g: with a non-zero status ($rc)" test $rc -ne 0
check "g: naming the file" grep -qF "$WORLD/hostC/share.auth" "$WORLD/dracdC-bad.log"
for x in A B; do check "dracd $x alive at the end" fleet_alive $x; done
t_done
