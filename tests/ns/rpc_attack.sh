#!/bin/bash
# The real dracd's RPC server against a hostile reviewer's callers: calls
# sent to broadcast and multicast addresses (answered to a forged source
# by every dracd on the link), and one allowed IPv6 host using many source
# addresses to get past the per-source TCP connection cap.  rpcbind and dracd share a
# private mount namespace in the server namespace S; an allowed (A) and a
# refused (R) client namespace sit on one bridge.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/rpcbind.sh"
rpc_need "build first (make)" dracd dracauth
ATK=$TOP/tests/lib/rpcattack.py

rpc_world da rpca

# Loopback, the POP host A, and (for the cap test) 2001:db8::100/120,
# which R also holds: an allowed host with many IPv6 addresses.
printf '255.255.255.255 127.0.0.1\n::1/128\n255.255.255.255 192.0.2.2\n2001:db8::2/128\n2001:db8::100/120\n' > "$W/allow"

start_dracd d1 || { nok "dracd starts with RPC"; exit 1; }
ok "dracd serves RPC on port $PORT"
out=$(inR $PY "$RAW" udp 192.0.2.1 "$PORT" 198.51.100.1)
check "a unicast call from the refused host is answered ADD_PERM ($out)" test "$out" = 1

# ---- 1. calls to broadcast and multicast addresses ----
# Every dracd on the link would answer the one (forgeable) datagram: a
# reflector that multiplies.  DRAC clients call one server, never a group.
for dst in 192.0.2.255 255.255.255.255 ff02::1%eth0; do
	out=$(inR $PY "$ATK" group "$dst" "$PORT" 198.51.100.2)
	check "no answer to a call sent to $dst ($out)" test "$out" = "answers 0"
done
inA $PY "$ATK" group 192.0.2.255 "$PORT" 198.51.100.3 > /dev/null
inA $PY "$ATK" group ff02::1%eth0 "$PORT" 2001:db8:1::3 2001:db8::2 > /dev/null
sleep 0.3
check_not "the allowed host's broadcast call grants nothing" in_set authed 198.51.100.3
check_not "nor its multicast call" in_set authed6 2001:db8:1::3
check "dracd still serves the allowed host" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.4
check "198.51.100.4 granted" eventually 2 in_set authed 198.51.100.4

nu=$(status d1 "d['rpc']['not_unicast']")
check "the 5 group calls were dropped and counted ($nu)" test "$nu" = 5
check "and logged" grep -q 'dropped a datagram from 192.0.2.3: to a broadcast' "$W/d1.err"
stop_dracd

# ---- 2. addresses no client can have, asked for by an allowed host ----
# ADD_UNKOWN (3) for those that name no host; loopback and DRAC_TRUSTED
# are declined by the gate (ADD_SUCCESS, as rpc.dracd, but no grant).
start_dracd d4 -o DRAC_TRUSTED=10.0.0.0/8 || { nok "dracd starts for the address test"; exit 1; }
printf 'DRAC_CONTROL="%s"\n' "$W/d4.ctl" > "$W/d4.settings"
inS "$BIN/drac" -c "$W/d4.settings" flush > /dev/null	# earlier sections' grants
for x in 0.0.0.0 0.1.2.3 255.255.255.255 224.0.0.1 240.0.0.1 ::ffff:0.0.0.0 \
	::ffff:0.1.2.3 ::ffff:224.0.0.1 :: ff02::1 ::127.0.0.1 ::192.0.2.9 ::ffff:0:c000:209; do
	out=$(inA $PY "$RAW" udp 192.0.2.1 "$PORT" $x)
	check "$x is no host: ADD_UNKOWN ($out)" test "$out" = 3
done
for x in 127.0.0.1 127.1.2.3 ::ffff:127.0.0.1 ::1 10.1.2.3 ::ffff:10.1.2.3; do
	inA $PY "$RAW" udp 192.0.2.1 "$PORT" $x > /dev/null
done
check "dracd still grants a real address" inA "$BIN/dracauth" -s 192.0.2.1 2001:db8:2::9
check "2001:db8:2::9 granted" eventually 2 in_set authed6 2001:db8:2::9
got=$( (inS nft list set inet drac authed; inS nft list set inet drac authed6) |
	tr -s ' \t,{}=' '\n' | grep -E '^[0-9a-f]*[.:][0-9a-f.:]*$' | grep -vx 2001:db8:2::9 | tr '\n' ' ')
check "nothing else is in the sets (${got:-none})" test -z "$got"
stop_dracd

# ---- 3. one allowed host, many IPv6 source addresses ----
# The per-source cap (16 of 64 connections) is what keeps a busy host
# from pushing other callers' connections out; with a fresh address per
# connection it would never apply.  A /64 is one host.
for i in $(seq 0 79); do ip -n $R addr add "$(printf '2001:db8::1%02x' $i)/64" dev eth0 nodad; done
start_dracd d3 || { nok "dracd starts for the cap test"; exit 1; }
inA $PY "$RAW" keep 192.0.2.1 "$PORT" 40 198.51.100. 8 > "$W/keep.out" 2>&1 &
KPID=$!
sleep 0.5
inR timeout 20 $PY "$ATK" churn 2001:db8::1 "$PORT" '2001:db8::1%02x' 70 7 > "$W/churn.out" 2>&1
wait $KPID
echo "# attacker: $(tail -1 "$W/churn.out"); allowed caller: $(tail -1 "$W/keep.out")"
grep '^#' "$W/keep.out" | head -3
check "the attacker churned connections from 70 addresses ($(tail -1 "$W/churn.out"))" \
	test "$(awk '/^rounds/ { print $2 }' "$W/churn.out")" -gt 20
check "the other allowed caller's kept connection survived: every call answered" \
	grep -qx 'answered 40 of 40' "$W/keep.out"
ev=$(status d3 "d['rpc']['evicted']")
check "connections were evicted ($ev)" test "$ev" -gt 0
stop_dracd

# ---- 4. a burst of logins forwarded over one TCP connection ----
# The POP host's dracd pipelines up to 256 calls.  A server that reads
# more than 145 calls in one go stalled before 88c76c4 (see
# test_rpc_attack); the forwarder writes each call as it comes, so this
# passed on that code too: it guards the burst end to end.
inS nft flush set inet drac authed 2>/dev/null
start_dracd d5 || { nok "dracd starts for the burst"; exit 1; }
printf '192.0.2.1\n' > "$W/fwd.conf"
start_forwarder
for i in $(seq 1 250); do
	echo "Nov 27 21:00:00 pop dovecot[1]: pop3-login: Login: user=<u>, method=PLAIN, rip=198.51.$((100 + i / 200)).$((i % 200 + 1)), lip=192.0.2.2, mpid=9, session=<s$i>"
done >> "$W/mail.log"
count() { inS nft list set inet drac authed | grep -Eo '198\.51\.10[01]\.[0-9]+' | sort -u | wc -l; }
full() { [ "$(count)" -ge 250 ]; }
eventually 8 full
n=$(count)
check "all 250 logins granted on the server within 8 s ($n)" test "$n" -ge 250
echo "# forward: $(status a "d['forward']")"
kill $DPID; wait $DPID 2>/dev/null; DPID=
stop_dracd

# ---- 5. local users: loopback entries trusted every process here ----
# "local_users root" in dracd.allow: a caller whose socket is on this
# host must be root's; other local users get ADD_PERM over UDP and TCP,
# IPv4 and IPv6, also through the host's own non-loopback address and
# from a socket closed right after sending.  Remote callers are unchanged.
NB="setpriv --reuid 65534 --regid 65534 --clear-groups"
cp "$W/allow" "$W/allow.orig"
printf '192.0.2.1/32\nlocal_users root\n' >> "$W/allow"
inS nft flush set inet drac authed 2>/dev/null; inS nft flush set inet drac authed6 2>/dev/null
start_dracd d6 || { nok "dracd starts with a local_users line"; exit 1; }
check "root on the server adds over UDP" inS "$BIN/dracauth" -s 127.0.0.1 198.51.100.60
check "and over TCP to ::1" inS "$BIN/dracauth" -s tcp:::1 2001:db8:6::60
i=61
for srv in 127.0.0.1 tcp:127.0.0.1 ::1 tcp:::1 192.0.2.1 tcp:192.0.2.1; do
	out=$(inS $NB "$BIN/dracauth" -s $srv 198.51.100.$i 2>&1); rc=$?
	check "nobody's call to $srv is refused (exit $rc: $out)" \
		bash -c "test $rc -eq 1 && echo '$out' | grep -q 'permission denied'"
	i=$((i + 1))
done
for dst in 127.0.0.1 ::1 192.0.2.1; do	# a socket closed right after sending
	inS $NB $PY -c "
import socket, struct, sys
m = struct.pack('>IIIIII', 7, 0, 2, 900101, 1, 1) + bytes(16) + bytes([198, 51, 100, 70])
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[2] else socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(m, (sys.argv[2], int(sys.argv[1]))); s.close()" "$PORT" $dst
done
check "the allowed remote host still adds" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.71
check "and over TCP" inA "$BIN/dracauth" -s tcp:2001:db8::1 2001:db8:6::71
sleep 0.3
got=$( (inS nft list set inet drac authed; inS nft list set inet drac authed6) |
	grep -Eo '198\.51\.100\.[0-9]+|2001:db8:6::[0-9]+' | sort | tr '\n' ' ')
check "granted: root's and the remote host's only ($got)" \
	test "$got" = "198.51.100.60 198.51.100.71 2001:db8:6::60 2001:db8:6::71 "
check "the refusals are logged with the uid" grep -q 'local user 65534 is not in' "$W/d6.err"
stop_dracd
printf 'local_users nosuchuser\n' > "$W/allow.bad"
out=$(inS timeout 5 "$BIN/dracd" -f -c /dev/null -o DRAC_TAP=no -o DRAC_MAP="$W/b.db" \
	-o DRAC_PIDFILE="$W/b.pid" -o DRAC_CONTROL="$W/b.ctl" -o DRAC_RPC=yes \
	-o DRAC_ALLOW="$W/allow.bad" 2>&1 </dev/null)
check "an unknown user is an error naming FILE:LINE" grep -q "allow.bad:1: local_users: no user" <<< "$out"
cp "$W/allow.orig" "$W/allow"

t_done
