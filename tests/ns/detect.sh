#!/bin/bash
# Detection on the wire: real Dovecot in the server namespace, real
# clients in the client namespaces, dracd's NFLOG tap in between.  Each
# successful login grants exactly the client's address; failures and the
# adversarial dialogues grant nothing.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

world_up || { nok "world_up"; exit 1; }
world_dovecot_start || { nok "dovecot starts"; exit 1; }
dracd_start -e 10m || { nok "dracd starts"; exit 1; }
ok "dovecot and dracd running"
capeff=$(awk '/^CapEff/ { print $2 }' /proc/$DRACD_PID/status)
check "without DRAC_USER dracd still keeps only CAP_NET_ADMIN (CapEff $capeff)" test "$capeff" = 0000000000001000

for fam in 4 6; do
	srv4=$SRV4 c1=$C1_4 c2=$C2_4
	[ $fam = 6 ] && srv4=$SRV6 c1=$C1_6 c2=$C2_6
	for login in world_pop3_login world_pop3_auth_plain world_imap_login world_imap_authenticate_plain; do
		revoke_all
		world_pop3_login c1 "$srv4" "$DEMO_USER" wrongpass >/dev/null 2>&1
		check "IPv$fam ${login#world_} with a wrong password grants nothing" not_granted "$c1"
		"$login" c1 "$srv4" >/dev/null 2>&1; rc=$?
		check "IPv$fam ${login#world_} succeeds against Dovecot" test $rc -eq 0
		check "IPv$fam ${login#world_} grants $c1" wait_granted "$c1" 1
		check "IPv$fam ${login#world_} does not grant $c2" not_granted "$c2" 0
	done
done

# Adversarial dialogues from a raw socket (tests/lib/mailclient.py):
# the first list must grant nothing, the second must grant.
for sc in pop3-pipelined-fail-noop pop3-fake-server-text pop3-auth-cancel pop3-auth-plain-fail \
	imap-tag-reuse imap-fake-server-text imap-literal-fail imap-authenticate-cancel \
	imap-authenticate-fail; do
	for fam in 4 6; do
		a=$SRV4 c=$C1_4; [ $fam = 6 ] && a=$SRV6 c=$C1_6
		revoke_all
		out=$(world_scenario c1 "$sc" "$a" 2>&1); rc=$?
		check "IPv$fam $sc ran as intended against Dovecot" test $rc -eq 0
		[ $rc -eq 0 ] || echo "$out" | sed 's/^/# /'
		check "IPv$fam $sc grants nothing" not_granted "$c" 0.4
	done
done
for sc in pop3-split-bytes imap-split-bytes pop3-pipelined-ok-noop pop3-auth-plain-ir pop3-auth-login \
	imap-pipelined-retry imap-quoted-login imap-literal-login imap-literal-plus \
	imap-authenticate-plain-ir imap-authenticate-login; do
	revoke_all
	out=$(world_scenario c1 "$sc" "$SRV4" 2>&1); rc=$?
	check "$sc runs as intended against Dovecot" test $rc -eq 0
	[ $rc -eq 0 ] || echo "# $out"
	check "$sc grants $C1_4" wait_granted "$C1_4" 1
done

# Commands hidden from a naive parser: after a line error Dovecot skips
# to the next LF and runs what looks like a {9+} literal's content as
# commands, so "T2 OK" (to the hidden NOOP) precedes "T2 NO" (to the
# LOGIN).  Our machine must not take that OK for the LOGIN's.
revoke_all
world_client c1 raw "$SRV4" 143 'expect:^\* OK' \
	'send:x1 NOOP caf\xc3\xa9 {9+}\r\nT2 NOOP\r\n\r\nT2 LOGIN demo wrong\r\n' \
	'until:^T2 NO' 'send:T3 LOGOUT\r\n' 'drain' > "$WORLD/smuggle.log" 2>&1
sed 's/^/# /' "$WORLD/smuggle.log" | head -8
check "a LOGIN smuggled past a literal (Dovecot answers T2 OK, then T2 NO) grants nothing" not_granted "$C1_4"

# TLS cannot be read on the wire: a POP3S login is not the tap's to grant.
revoke_all
world_pop3_login c1 "$SRV4" --tls >/dev/null 2>&1
check "a POP3S login is invisible to the tap" not_granted "$C1_4"

# The tap's cost stays with the login: a 3 MB download after it is not
# copied to dracd packet by packet (without the length rule: ~620).
c1 /usr/bin/python3 - <<'PY' >/dev/null
import imaplib
c = imaplib.IMAP4("192.0.2.1", 143); c.login("demo", "demopass")
c.append("INBOX", None, None, b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 3000); c.logout()
PY
tap_packets() { drac status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['daemon']['tap']['packets'])"; }
p0=$(tap_packets)
c1 /usr/bin/python3 -c '
import poplib
c = poplib.POP3("192.0.2.1", 110); c.user("demo"); c.pass_("demopass"); c.retr(1); c.quit()'
p1=$(tap_packets)
echo "# tap packets for a login and a 3 MB download: $((p1 - p0))"
check "a 3 MB download after the login costs the tap fewer than 100 packets" test $((p1 - p0)) -lt 100

# Trusted networks are never granted.
dracd_stop
dracd_start -e 10m -o DRAC_TRUSTED="192.0.2.2/32" || nok "dracd restarts with DRAC_TRUSTED"
revoke_all
world_pop3_login c1 "$SRV4" >/dev/null 2>&1
check "a trusted client is not granted" not_granted "$C1_4"
world_pop3_login c2 "$SRV4" >/dev/null 2>&1
check "an untrusted one is" wait_granted "$C2_4" 1
grep -q "grant 192.0.2.3 for 600s (source nflog)" "$WORLD/dracd.log"
check "the grant is logged with its source" test $? -eq 0
t_done
