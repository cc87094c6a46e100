#!/bin/bash
# The tap stops copying a connection once dracd is done with it (inet
# drac done/done6), and nothing else: a new connection on the same
# 4-tuple (port reuse) is copied and judged from its SYN, and a long
# packet is copied cut instead of skipped.  Also reports what checksums
# the world's real clients put on the wire (the tap verifies them).
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

WORLD_TLS=0
world_up || { nok "world_up"; exit 1; }
world_dovecot_start || { nok "dovecot starts"; exit 1; }
dracd_start -e 10m || { nok "dracd starts"; exit 1; }
ok "dovecot and dracd running"
st() { drac status --json | /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin)['daemon']['tap']; print($1)"; }

# pop3_from ADDR SRCADDR SRCPORT [RETR]: one POP3 login from a fixed
# source port; the server closes first (QUIT), so the port is free again
# at once on the client and in TIME_WAIT on the server, which takes a
# new SYN on it.
pop3_from() {
	c1 /usr/bin/python3 - "$@" <<'PY'
import socket, sys
srv, src, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
retr = len(sys.argv) > 4
fam = socket.AF_INET6 if ":" in srv else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, port))
s.settimeout(5)
s.connect((srv, 110))
f = s.makefile("rb")
def line():
    l = f.readline()
    if not l:
        raise SystemExit("closed")
    return l
assert line().startswith(b"+OK")
s.sendall(b"USER demo\r\n"); assert line().startswith(b"+OK")
s.sendall(b"PASS demopass\r\n"); assert line().startswith(b"+OK")
if retr:
    s.sendall(b"RETR 1\r\n"); assert line().startswith(b"+OK")
    n = 0
    while True:
        l = line()
        if l == b".\r\n":
            break
        n += len(l)
    print("retr", n, file=sys.stderr)
s.sendall(b"QUIT\r\n"); line()
while f.read(4096):
    pass
s.close()
PY
}

for fam in 4 6; do
	srv=$SRV4 c=$C1_4 set=done
	[ $fam = 6 ] && srv=$SRV6 c=$C1_6 set=done6
	revoke_all
	pop3_from "$srv" "$c" 45678; rc=$?
	check "IPv$fam login from port 45678 succeeds" test $rc -eq 0
	check "IPv$fam it grants $c" wait_granted "$c" 1
	check "IPv$fam the finished connection is in inet drac $set" \
		eventually 1 sh -c "ip netns exec $NS_SRV nft list set inet drac $set | grep -q -- '$c . 45678 . $srv . 110'"
	revoke_all
	pop3_from "$srv" "$c" 45678; rc=$?
	check "IPv$fam a new connection on the same 4-tuple succeeds" test $rc -eq 0
	check "IPv$fam and is copied from its SYN and grants again" wait_granted "$c" 1
done

# A first IPv6 fragment on a finished 4-tuple is still copied: it may
# wait in the server's reassembly queue and complete into bytes of a
# new connection on that 4-tuple, so that connection must not grant.
p0=$(st "t['packets']")
c1 /usr/bin/python3 - "$C1_6" "$SRV6" <<'PY' 2>/dev/null
import sys
from scapy.all import IPv6, IPv6ExtHdrFragment, TCP, Raw, send, conf
conf.verb = 0
send(IPv6(src=sys.argv[1], dst=sys.argv[2]) / IPv6ExtHdrFragment(offset=0, m=1, id=4242)
     / TCP(sport=45678, dport=110, flags="PA", seq=1000) / Raw(b"NOOP\r\n" * 4))
PY
sleep 0.3
p1=$(st "t['packets']")
check "a first IPv6 fragment on a finished 4-tuple reaches the tap" test "$p1" -gt "$p0"
revoke_all
pop3_from "$SRV6" "$C1_6" 45678; rc=$?
check "IPv6 a new connection on that 4-tuple logs in" test $rc -eq 0
check "IPv6 but does not grant within a minute of the fragment" not_granted "$C1_6" 1

# A 3 MB message read over POP3 after the login: the tap copies the
# login, then (done) only FIN/RST; without the done set every segment
# of the download would be copied (cut to the snap length).
c1 /usr/bin/python3 - <<'PY' >/dev/null
import imaplib
c = imaplib.IMAP4("192.0.2.1", 143); c.login("demo", "demopass")
c.append("INBOX", None, None, b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 3000); c.logout()
PY
p0=$(st "t['packets']")
pop3_from "$SRV4" "$C1_4" 45679 retr 2> "$WORLD/retr.log"; rc=$?
sleep 0.3
p1=$(st "t['packets']")
echo "# tap packets for a POP3 login and a 3 MB RETR: $((p1 - p0)) ($(cat "$WORLD/retr.log"))"
check "POP3 login and 3 MB RETR succeed" test $rc -eq 0
check "the download costs the tap fewer than 100 packets" test $((p1 - p0)) -lt 100

# A long segment in a flow still waiting for its login is copied cut and
# ends that flow: the client's 5000-byte line is refused by Dovecot, but
# the tap must have seen it (truncated) rather than skipped it.
t0=$(st "t['drops']['truncated']")
c1 /usr/bin/python3 - <<'PY'
import socket
s = socket.create_connection(("192.0.2.1", 110), timeout=3)
f = s.makefile("rb"); f.readline()
s.sendall(b"USER " + b"u" * 8000 + b"\r\n")
try:
    f.readline()
except Exception:
    pass
s.close()
PY
sleep 0.3
t1=$(st "t['drops']['truncated']")
check "a segment longer than the snap length before a login is copied cut, not skipped" test "$t1" -gt "$t0"

echo "# checksums: $(st "t['drops']['csum_partial']") client packets with the pseudo-header sum only (offloaded, taken), $(st "t['discarded']['bad_csum']") bad (ignored)"
echo "# $(drac status --json | /usr/bin/python3 -c "import json,sys; t=json.load(sys.stdin)['daemon']['tap']; print('discarded', t['discarded'], 'done_added', t['done_added'], 'done_errors', t['done_errors'])")"
check "no error adding finished connections" test "$(st "t['done_errors']")" -eq 0
t_done
