#!/bin/bash
# The real dracd's RPC server against hostile callers (issue 12): forged
# IPv4-mapped sources, UDP versus TCP-only service, and a TCP connection
# flood from a refused host.  rpcbind and dracd share a private mount
# namespace in the server namespace; an allowed (A) and a refused (R)
# client namespace sit on one bridge.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/rpcbind.sh"
rpc_need "build first (make)" dracd dracauth

rpc_world dh rpch

# dracd.allow as shipped (loopback) plus the POP host A.
printf '255.255.255.255 127.0.0.1\n::1/128\n255.255.255.255 192.0.2.2\n2001:db8::2/128\n' > "$W/allow"
printf '192.0.2.1\n' > "$W/servers.conf"

# ---- 1. forged IPv4-mapped sources ----
start_dracd d1 || { nok "dracd starts with RPC"; exit 1; }
ok "dracd serves RPC on port $PORT (udp and tcp)"
check "the allowed host adds over UDP" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.1
check "198.51.100.1 granted" eventually 2 in_set authed 198.51.100.1
# From the refused host: IPv6 datagrams whose source is ::ffff:127.0.0.1,
# the loopback caller every dracd.allow trusts.  Linux delivers them.
# Neighbour discovery first: the raw socket's packets would wait for it.
inR $PY "$RAW" udp 2001:db8::1 "$PORT" 198.51.100.65 > /dev/null
out=$(inR $PY "$RAW" spoof6 ::ffff:127.0.0.1 2001:db8::1 "$PORT" 198.51.100.66 2001:db8:1::66 2>&1)
check "forged ::ffff:127.0.0.1 datagrams sent from the refused host ($out)" test "$out" = "sent 2"
sleep 0.5
check_not "no grant from a forged mapped source (v1)" in_set authed 198.51.100.66
check_not "no grant from a forged mapped source (v2)" in_set authed6 2001:db8:1::66
check "the forgery is logged as such" grep -q 'refused a datagram from ::ffff:127.0.0.1: an IPv4-mapped source' "$W/d1.err"
check "and counted (rpc.forged = 2)" test "$(status d1 "d['rpc']['forged']")" = 2
check "dracd keeps serving the allowed host" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.2
stop_dracd

# A dracd.allow line written as a mapped address is refused at start.
printf '255.255.255.255 192.0.2.2\n::ffff:127.0.0.1/128\n' > "$W/allow.mapped"
ip netns exec $S "$BIN/dracd" -f -c /dev/null -o DRAC_TAP=no -o DRAC_MAP="$W/m.db" \
	-o DRAC_PIDFILE="$W/m.pid" -o DRAC_CONTROL="$W/m.ctl" -o DRAC_RPC=yes \
	-o DRAC_ALLOW="$W/allow.mapped" > /dev/null 2> "$W/m.err" & mpid=$!
eventually 5 bash -c "! kill -0 $mpid 2>/dev/null"
wait $mpid; rc=$?
check "dracd refuses a mapped dracd.allow entry (exit $rc)" test $rc -ne 0
check "naming FILE:LINE" grep -q "$W/allow.mapped:2: \"::ffff:127.0.0.1/128\" is an IPv4-mapped" "$W/m.err"
printf 'DRAC_TRUSTED="10.0.0.0/8 ::ffff:192.0.2.0/120"\n' > "$W/trusted.settings"
out=$(ip netns exec $S "$BIN/dracd" -c "$W/trusted.settings" --print-settings 2>&1); rc=$?
check "a mapped DRAC_TRUSTED entry is refused with FILE:LINE ($out)" \
	bash -c "test $rc -ne 0 && echo '$out' | grep -q 'trusted.settings:1:.*::ffff:192.0.2.0/120'"

# ---- 2. TCP only: UDP callers can be forged ----
start_dracd d2 -o DRAC_RPC_UDP=no || { nok "dracd starts with DRAC_RPC_UDP=no"; exit 1; }
check "the start line says tcp only" grep -q "port $PORT (tcp only" "$W/d2.err"
out=$(inA rpcinfo -p 192.0.2.1 2>&1)
check "rpcbind lists 900101 over tcp" bash -c "echo '$out' | grep -Eq '900101 +1 +tcp'"
check_not "and not over udp" bash -c "echo '$out' | grep -Eq '900101 +[12] +udp'"
out=$(inA $PY "$RAW" udp 192.0.2.1 "$PORT" 198.51.100.20)
check "a UDP call to the port gets no answer ($out)" test "$out" = noanswer
out=$(inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.21 2>&1); rc=$?
check "dracauth over UDP fails, saying why (exit $rc: $out)" \
	bash -c "test $rc -eq 1 && echo '$out' | grep -q 'not registered over UDP'"
sleep 0.3
check_not "nothing granted over UDP" bash -c "in_set() { ip netns exec $S nft list set inet drac authed | grep -Eqw -- \"\$1\"; }; in_set '198.51.100.2[01]'"
check "dracauth -T adds over TCP" inA "$BIN/dracauth" -T -s 192.0.2.1 198.51.100.22
check "198.51.100.22 granted" eventually 2 in_set authed 198.51.100.22
check "tcp:SERVER over IPv6" inA "$BIN/dracauth" -s tcp:2001:db8::1 2001:db8:1::22
check "2001:db8:1::22 granted" eventually 2 in_set authed6 2001:db8:1::22
printf '# the SMTP host\ntcp:192.0.2.1\n' > "$W/tcp.conf"
check "a dracd.conf line tcp:NAME" inA "$BIN/dracauth" -c "$W/tcp.conf" 198.51.100.23
check "198.51.100.23 granted" eventually 2 in_set authed 198.51.100.23
out=$(inR "$BIN/dracauth" -T -s 192.0.2.1 198.51.100.24 2>&1); rc=$?
check "the refused host's TCP call fails (exit $rc: $out)" \
	bash -c "test $rc -eq 1 && echo '$out' | grep -q 'dracd.allow'"
check "logged as a refused connection" grep -q 'refused a tcp connection from 192.0.2.3' "$W/d2.err"
# The split setup: the POP host's dracd forwards over TCP by default,
# to the server's IPv4 and IPv6 address (rpcbind asked over TCP too).
printf '192.0.2.1\n2001:db8::1\n' > "$W/fwd.conf"
start_forwarder
echo "Nov 27 21:00:00 pop dovecot[1]: pop3-login: Login: user=<u>, method=PLAIN, rip=198.51.100.25, lip=192.0.2.2, mpid=9, TLS, session=<s>" >> "$W/mail.log"
check "the POP host's forwarder grants on the TCP-only server" eventually 5 in_set authed 198.51.100.25
acked() { [ "$(status a "d['forward']['acked']")" = 2 ]; }
check "acknowledged by both addresses" eventually 3 acked
s=$(status a "d['forward']"); echo "# forward: $s"
kill $DPID; DPID=
stop_dracd

# ---- 5. a TCP connection flood from a refused host ----
start_dracd d5 || { nok "dracd starts for the flood"; exit 1; }
inA $PY "$RAW" keep 192.0.2.1 "$PORT" 40 198.51.100. 8 > "$W/keep.out" 2>&1 &
KPID=$!
sleep 1
inR timeout 20 $PY "$RAW" flood 192.0.2.1 "$PORT" 6 > "$W/flood.out" 2>&1
wait $KPID
echo "# flood: $(cat "$W/flood.out"); allowed caller: $(tail -1 "$W/keep.out")"
grep '^#' "$W/keep.out" | head -5
check "the refused host made thousands of connections ($(cat "$W/flood.out"))" \
	test "$(awk '{ print $2 }' "$W/flood.out")" -gt 2000
check "every call on the allowed caller's one connection succeeded" grep -qx 'answered 40 of 40' "$W/keep.out"
check "198.51.100.40 granted" in_set authed 198.51.100.40
refused=$(status d5 "d['rpc']['conn_refused']")
check "the flood's connections were refused at accept ($refused)" test "$refused" -gt 2000
check "and it was logged with the caller" grep -q 'refused a tcp connection from 192.0.2.3' "$W/d5.err"
check "an allowed new connection still works after the flood" inA "$PY" "$RAW" keep 192.0.2.1 "$PORT" 1 198.51.100.4 0 >/dev/null
stop_dracd

t_done
