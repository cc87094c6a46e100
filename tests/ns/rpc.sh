#!/bin/bash
# The legacy DRAC RPC protocol between namespaces: rpcbind and the server
# in one namespace (rpcbind in a private mount namespace with its own
# /run), an allowed and a refused client namespace on one bridge.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/rpcbind.sh"
rpc_need "build first (make unit)" dracauth tests/test_rpc

rpc_world dr rpc

printf '# the POP host only\n255.255.255.255 192.0.2.2\n2001:db8::2/128\n' > "$W/allow"
printf '192.0.2.1\n2001:db8::1\n' > "$W/servers.conf"

# rpcbind and the server share one private mount namespace: the server
# registers through /run/rpcbind.sock.
start_server() {
	ip netns exec $S "${RPCBIND_RUN[@]}" "$BIN/tests/test_rpc" serve "$W/allow" \
		> "$W/srv.out" 2> "$W/srv.err" &
	SRVPID=$!
}
start_server
eventually 5 grep -q '^ready' "$W/srv.out" || { cat "$W/srv.err"; skip_all "server did not start"; }
PORT=$(awk '/^ready/ { print $2 }' "$W/srv.out")
granted() { grep -qx "grant $1" "$W/srv.out"; }
stats() { : > "$W/stats"; kill -USR1 $SRVPID; eventually 2 grep -q '^stats' "$W/srv.out" &&
	  grep '^stats' "$W/srv.out" | tail -1; }

out=$(inA rpcinfo -p 192.0.2.1 2>&1)
check "rpcbind lists program 900101 v1 and v2 over udp and tcp" \
	bash -c "echo '$out' | grep -Eq '900101 +1 +udp' && echo '$out' | grep -Eq '900101 +2 +tcp'"
check "rpcinfo null call over UDP (v1)" inA rpcinfo -u 192.0.2.1 900101 1 >/dev/null
check "rpcinfo null call over TCP (v2)" inA rpcinfo -t 192.0.2.1 900101 2 >/dev/null
check "rpcinfo null call over UDP6" inA rpcinfo -n "$PORT" -u 2001:db8::1 900101 1 >/dev/null

# allowed client: every combination of address family and transport
check "dracauth 198.51.100.7 via 192.0.2.1 (v1 over IPv4)" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.7
check "granted 198.51.100.7" eventually 2 granted 198.51.100.7
check "dracauth 2001:db8:1::7 via 192.0.2.1 (v2 over IPv4)" inA "$BIN/dracauth" -s 192.0.2.1 2001:db8:1::7
check "granted 2001:db8:1::7" eventually 2 granted 2001:db8:1::7
check "dracauth 198.51.100.8 via 2001:db8::1 (rpcbind v3 over udp6)" inA "$BIN/dracauth" -s 2001:db8::1 198.51.100.8
check "granted 198.51.100.8" eventually 2 granted 198.51.100.8
check "dracauth 2001:db8:1::8 via 2001:db8::1" inA "$BIN/dracauth" -s 2001:db8::1 2001:db8:1::8
check "granted 2001:db8:1::8" eventually 2 granted 2001:db8:1::8
check "dracauth -c: every server of dracd.conf" inA "$BIN/dracauth" -c "$W/servers.conf" 198.51.100.9
check "granted 198.51.100.9" eventually 2 granted 198.51.100.9

# refused client
out=$(inR "$BIN/dracauth" -s 192.0.2.1 198.51.100.66 2>&1); rc=$?
check "refused namespace: exit 1 ($out)" test $rc -eq 1
check "with ADD_PERM's message" bash -c "echo '$out' | grep -q 'permission denied'"
out=$(inR "$BIN/dracauth" -s 2001:db8::1 2001:db8:1::66 2>&1); rc=$?
check "refused over IPv6 too ($out)" test $rc -eq 1
sleep 0.2
check_not "nothing granted for the refused client" grep -Eq 'grant (198.51.100.66|2001:db8:1::66)' "$W/srv.out"
check "the refusal is logged with the caller's address" grep -q 'refused to add 198.51.100.66 for 192.0.2.3' "$W/srv.err"
check "and for the IPv6 caller" grep -q 'refused to add 2001:db8:1::66 for 2001:db8::3' "$W/srv.err"
s=$(stats); echo "# $s"
check "refusals counted" bash -c "echo '$s' | grep -q 'refused=2 '"

# malformed calls: answered GARBAGE_ARGS or dropped, counted, harmless
cat > "$W/raw.py" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
hdr = struct.pack('>IIIIII', 0x77, 0, 2, 900101, 1, 1) + b'\0' * 16
s.sendto(hdr + b'\xc0\x00\x02', ('192.0.2.1', port))        # 3-byte argument
r = s.recv(100)
assert struct.unpack('>I', r[20:24])[0] == 4, r               # GARBAGE_ARGS
s.sendto(b'\xde\xad\xbe\xef\x00', ('192.0.2.1', port))        # not RPC at all
try:
    s.recv(100); sys.exit('junk was answered')
except socket.timeout:
    pass
h6 = struct.pack('>IIIIII', 0x78, 0, 2, 900101, 2, 1) + b'\0' * 16
s.sendto(h6 + struct.pack('>16I', *([0x100] * 16)), ('192.0.2.1', port))  # chars out of range
r = s.recv(100)
assert struct.unpack('>I', r[20:24])[0] == 4, r
print('ok')
PY
check "raw malformed calls: GARBAGE_ARGS, junk dropped" inA /usr/bin/python3 "$W/raw.py" "$PORT"
s=$(stats); echo "# $s"
check "three malformed calls counted" bash -c "echo '$s' | grep -q 'malformed=3 '"
check "the server keeps answering" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.11
check_not "nothing granted from malformed calls" grep -q 'grant 192.0.2' "$W/srv.out"

# bad usage
out=$(inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.300 2>&1); rc=$?
check "bad address: exit 2, names it ($out)" bash -c "test $rc -eq 2 && echo '$out' | grep -q 198.51.100.300"
inA "$BIN/dracauth" >/dev/null 2>&1; rc=$?
check "no address: exit 2" test $rc -eq 2
inA "$BIN/dracauth" -t 0 192.0.2.5 >/dev/null 2>&1; rc=$?
check "bad timeout: exit 2" test $rc -eq 2

# forwarding this host's grants (split setup) from the allowed and the
# refused namespace
out=$(inA "$BIN/tests/test_rpc" forward "$W/servers.conf" 198.51.100.20 2001:db8:1::20 2>&1)
echo "# $out" | tail -1
check "forwarded to both servers, all acknowledged" bash -c "echo '$out' | grep -q 'sent=4 acked=4 failed=0'"
check "granted 198.51.100.20" eventually 2 granted 198.51.100.20
check "granted 2001:db8:1::20" eventually 2 granted 2001:db8:1::20
out=$(inR "$BIN/tests/test_rpc" forward "$W/servers.conf" 198.51.100.21 2>&1)
check "forwarding from a refused host fails and says why" \
	bash -c "echo '$out' | grep -q 'acked=0 failed=2' && echo '$out' | grep -Eq 'permission denied|in its dracd.allow'"

# reload: the refused namespace becomes allowed
echo "255.255.255.0 192.0.2.0" >> "$W/allow"
kill -HUP $SRVPID
check "SIGHUP reloads the allow file" eventually 2 grep -q '^reload 0' "$W/srv.out"
check "the other namespace may now add" inR "$BIN/dracauth" -s 192.0.2.1 198.51.100.12
echo "bogus" >> "$W/allow"
kill -HUP $SRVPID
check "a broken allow file is refused" eventually 2 grep -q '^reload -1' "$W/srv.out"
check "naming file and line" grep -q "$W/allow:5:" "$W/srv.err"
check "and the old list stays" inR "$BIN/dracauth" -s 192.0.2.1 198.51.100.13

# a hung server: the client gives up within its timeout
kill -STOP $SRVPID
t0=$(date +%s%N)
out=$(inA "$BIN/dracauth" -s 192.0.2.1 -t 1000 198.51.100.14 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "stopped server: dracauth fails ($out)" test $rc -eq 1
check "within 2 s (${ms} ms)" test $ms -lt 2000
t0=$(date +%s%N)
out=$(inA "$BIN/tests/test_rpc" forward "$W/servers.conf" 198.51.100.15 2>&1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# $(echo "$out" | tail -1) in ${ms} ms"
check "forwarding to a stopped server gives up, loop never stalls" \
	bash -c "echo '$out' | grep -Eq 'failed=2 maxlag=[0-9]$|failed=2 maxlag=[1-4][0-9]$'"
kill -CONT $SRVPID
t0=$(date +%s%N)
out=$(inA "$BIN/dracauth" -s 192.0.2.99 -t 1000 198.51.100.16 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "no host at the server address: fails ($out)" test $rc -eq 1
check "within 2 s (${ms} ms)" test $ms -lt 2000
check "the resumed server answers again" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.17

# stop: unregistered from rpcbind
kill $SRVPID
check "server stops on SIGTERM" eventually 3 grep -q '^stopped' "$W/srv.out"
check_not "and is no longer registered" bash -c "ip netns exec $A rpcinfo -p 192.0.2.1 | grep -q 900101"
SRVPID=
kill "$(cat "$W/rpcbind.pid")" 2>/dev/null; : > "$W/rpcbind.pid"

# ---- the real daemon: grants land in the server namespace's nft sets ----
[ -x "$BIN/dracd" ] || { ok "# SKIP dracd not built"; t_done; exit; }
sleep 0.3
printf '255.255.255.255 192.0.2.2\n2001:db8::2/128\n' > "$W/allow"
dracd_opts() { echo -f -c /dev/null -o DRAC_TAP=no -o DRAC_MAP="$W/$1.db" \
	-o DRAC_PIDFILE="$W/$1.pid" -o DRAC_CONTROL="$W/$1.ctl"; }
ip netns exec $S "${RPCBIND_RUN[@]}" "$BIN/dracd" $(dracd_opts s) -o DRAC_RPC=yes -o DRAC_ALLOW="$W/allow" \
	> "$W/dracd.out" 2> "$W/dracd.err" &
SRVPID=$!
check "dracd registers with rpcbind" eventually 5 bash -c "ip netns exec $A rpcinfo -p 192.0.2.1 2>/dev/null | grep -q 900101"
check "dracauth to dracd (IPv4)" inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.50
check "198.51.100.50 is in inet drac authed" eventually 2 in_set authed 198.51.100.50
check "dracauth to dracd (IPv6 over IPv6)" inA "$BIN/dracauth" -s 2001:db8::1 2001:db8:1::50
check "2001:db8:1::50 is in inet drac authed6" eventually 2 in_set authed6 2001:db8:1::50
check_not "refused namespace gets ADD_PERM from dracd" inR "$BIN/dracauth" -s 192.0.2.1 198.51.100.52
sleep 0.2
check_not "and 198.51.100.52 is not in the set" in_set authed 198.51.100.52

# split setup: a POP host's dracd (log hook source) forwards to the SMTP
# host's dracd, which grants it as an RPC grant
: > "$W/mail.log"
ip netns exec $A "$BIN/dracd" $(dracd_opts a) -o DRAC_FORWARD=yes -o DRAC_SERVERS="$W/servers.conf" \
	-o DRAC_LOGHOOK_FILE="$W/mail.log" > "$W/popd.out" 2> "$W/popd.err" &
DPID=$!
eventually 5 grep -q ready "$W/popd.err"
sleep 0.3
echo "Nov 27 21:00:00 pop dovecot[1]: pop3-login: Login: user=<u>, method=PLAIN, rip=198.51.100.51, lip=192.0.2.2, mpid=9, TLS, session=<s>" >> "$W/mail.log"
check "POP host grants its own login" eventually 3 bash -c "ip netns exec $A nft list set inet drac authed | grep -qw 198.51.100.51"
check "and forwards it to the SMTP host's dracd" eventually 3 in_set authed 198.51.100.51
kill $DPID; DPID=

# SIGHUP with a broken allow file: the old list must stay in force.
# (rpcsrv_reload() keeps it; a daemon that frees and re-creates the
# server on SIGHUP instead fails to start it again and loses RPC.)
echo "bogus" >> "$W/allow"
kill -HUP $SRVPID
sleep 0.5
check "dracd still answers after a reload with a broken allow file" \
	inA "$BIN/dracauth" -s 192.0.2.1 198.51.100.53
kill $SRVPID
check "dracd stops" eventually 3 bash -c "! kill -0 $SRVPID 2>/dev/null"
check_not "and unregisters" bash -c "ip netns exec $A rpcinfo -p 192.0.2.1 2>/dev/null | grep -q 900101"
SRVPID=

t_done
