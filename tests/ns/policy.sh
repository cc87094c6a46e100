#!/bin/bash
# policy.sh - dracd as Postfix's policy service (DRAC_POLICY), with real
# Postfix deciding relay by check_policy_service alone (no btree map in
# its restrictions): granted clients 250, others 554, IPv4 and IPv6; the
# end of a window closes relay within a second; dracd killed by SIGKILL
# means relay 554 (not 451) while local mail still gets 250; dracd back
# means unexpired grants relay again; hostile clients (malformed,
# oversized, silent, 600 idle connections) are answered or closed and
# Postfix is still answered promptly.  The inet form (IPv4 and IPv6
# listeners) and Debian's unix:private/dracd form under the queue
# directory, switched by SIGHUP.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

command -v postfix >/dev/null || skip_all "postfix not installed"
WINDOW=4
PORT=10040
export WORLD_TLS=0

world_up || { nok "world_up"; exit 1; }
[ -n "${POLICY_KEEP:-}" ] && world_on_cleanup "cp -r \"\$WORLD\" $POLICY_KEEP"
world_dovecot_start || { nok "dovecot starts"; exit 1; }
cat > "$WORLD/dracd.settings" <<EOS
DRAC_MAP="$WORLD/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
DRAC_POLICY="inet:127.0.0.1:$PORT"
EOS
DRACD_ARGS=(-d -e ${WINDOW}s -o DRAC_MAP_INTERVAL=20)
dracd_start "${DRACD_ARGS[@]}" || { nok "dracd starts"; exit 1; }
check "dracd listens on 127.0.0.1:$PORT" bash -c "ip netns exec $NS_SRV ss -Hltn | grep -q '127.0.0.1:$PORT '"

# Relay decided by the policy service only; example.org is a local domain.
policy_main() {
	echo "smtpd_relay_restrictions = permit_mynetworks, check_policy_service $1, reject_unauth_destination"
	echo "smtpd_policy_service_default_action = DUNNO"
	echo "mydestination = example.org"
}
world_postfix_start "$DRACD_MAP" "$(policy_main inet:127.0.0.1:$PORT)" || { nok "postfix starts"; exit 1; }
check "Postfix's relay restrictions name no btree map" \
	bash -c "! ip netns exec $NS_SRV postconf -c $WORLD_POSTFIX_DIR -h smtpd_relay_restrictions | grep -q btree"
ok "dovecot, dracd (policy service) and postfix running"

relay() { world_smtp_rcpt "$1" "$2" 25; }
is() { local got; got=$(relay "$2" "$3"); echo "# relay from $2 via $3: $got"; [ "$got" = "$1" ]; }
local_mail() { world_smtp_rcpt "$1" "$2" 25 --rcpt postmaster@example.org; }
status() { drac status 2>/dev/null | awk -v k="policy.$1" '$1 == k { print $2 }'; }

for fam in 4 6; do
	s=$SRV4 a1=$C1_4 a2=$C2_4
	[ $fam = 6 ] && s=$SRV6 a1=$C1_6 a2=$C2_6
	check "IPv$fam: before any login, relay is 554" is 554 c1 "$s"
	world_pop3_login c1 "$s" >/dev/null || nok "IPv$fam POP3 login"
	check "IPv$fam: the login granted $a1" wait_granted "$a1" 2
	check "IPv$fam: granted client relays (250)" is 250 c1 "$s"
	check "IPv$fam: a client without a login is refused (554)" is 554 c2 "$s"
	check "IPv$fam: mail to the local domain from it is accepted (250)" \
		test "$(local_mail c2 "$s")" = 250
done

# The end of the window: relay must stop within a second of it.  The
# grant's expiry lies between the login's start + WINDOW and the moment
# the grant was seen + WINDOW.
world_pop3_login c1 "$SRV4" >/dev/null	# refresh: a full window from now
wait_granted "$C1_4" 2
t_seen=$(date +%s%N)
check "a fresh grant relays" is 250 c1 "$SRV4"
first554=
while [ "$(date +%s%N)" -lt $(( t_seen + (WINDOW + 3) * 1000000000 )) ]; do
	if [ "$(relay c1 "$SRV4")" = 554 ]; then first554=$(date +%s%N); break; fi
done
if [ -n "$first554" ]; then
	late=$(( (first554 - t_seen) / 1000000 - WINDOW * 1000 ))
	echo "# first 554 at $late ms after (grant seen + window)"
	check "relay closed within 1 s of the window's end ($late ms)" test "$late" -le 1000
	check "and not long before it" test "$late" -gt -1000
else
	nok "relay never closed after the window"
fi
check "and the kernel no longer holds it" not_granted "$C1_4" 0

# dracd killed: relay 554 (Postfix's default action), local mail 250.
kill_and_back() {	# FORM
	drac add "$C1_4" 10m >/dev/null && drac add "$C1_6" 10m >/dev/null
	wait_granted "$C1_4" 2
	check "$1: drac add grants relay (250)" is 250 c1 "$SRV4"
	check "$1: IPv6 too" is 250 c1 "$SRV6"
	kill -KILL "$DRACD_PID"; wait "$DRACD_PID" 2>/dev/null
	DRACD_PID=
	check "$1: dracd SIGKILLed: relay 554, not 451" is 554 c1 "$SRV4"
	check "$1: IPv6 relay 554" is 554 c1 "$SRV6"
	check "$1: mail to the local domain still 250" test "$(local_mail c1 "$SRV4")" = 250
	check "$1: Postfix logged that it could not talk to the service" \
		grep -q "problem talking to server" "$WORLD_POSTFIX_LOG"
	dracd_start "${DRACD_ARGS[@]}" || nok "$1: dracd restarts"
	check "$1: dracd back: the unexpired grant relays again" eventually 3 is 250 c1 "$SRV4"
	check "$1: IPv6 as well" is 250 c1 "$SRV6"
	check "$1: an ungranted client still 554" is 554 c2 "$SRV4"
	drac del "$C1_4" >/dev/null; drac del "$C1_6" >/dev/null
	check "$1: drac del ends relay at once" eventually 2 is 554 c1 "$SRV4"
}
kill_and_back inet

# --- hostile clients beside a real Postfix ---------------------------------
cat > "$WORLD/hostile.py" <<'EOF'
import socket, sys, time
host, port, n_idle = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def conn():
    s = socket.create_connection((host, port), timeout=3)
    return s
def ask(s, req):
    s.sendall(req)
    buf = b""
    try:
        while not buf.endswith(b"\n\n"):
            d = s.recv(4096)
            if not d:
                return "closed"
            buf += d
    except (socket.timeout, ConnectionResetError):
        return "closed"
    return buf.decode("latin-1").strip()
res = {}
s = conn()
res["malformed"] = ask(s, b"this is not a policy request\n\n")
res["after_malformed"] = ask(s, b"request=smtpd_access_policy\nclient_address=192.0.2.99\n\n")
res["bad_address"] = ask(s, b"request=smtpd_access_policy\nclient_address=192.0.2.999\n\n")
res["binary"] = ask(s, bytes(range(1, 256)).replace(b"\n", b"") + b"\n\n")
s.close()
s = conn()
try:
    res["oversized"] = ask(s, b"request=smtpd_access_policy\nx=" + b"a" * 100000 + b"\n\n")
except (BrokenPipeError, ConnectionResetError):
    res["oversized"] = "closed"
s.close()
idle = []
for i in range(n_idle):
    try:
        idle.append(conn())
    except OSError as e:
        res["idle_error"] = str(e); break
res["idle_opened"] = len(idle)
# The newest connection: not the one the cap evicts, so only dracd's
# request deadline can close it.
silent = conn()
print(" ".join(f"{k}={v.replace(chr(10), '|') if isinstance(v, str) else v}" for k, v in res.items()), flush=True)
# Hold them while the test asks Postfix; then see whether the silent
# one was closed by the server.
t0 = time.time()
silent.settimeout(20)
try:
    d = silent.recv(1)
    print("silent=closed" if d == b"" else "silent=data", "after=%.1f" % (time.time() - t0), flush=True)
except socket.timeout:
    print("silent=open", flush=True)
except ConnectionResetError:
    print("silent=closed after=%.1f" % (time.time() - t0), flush=True)
EOF
drac add "$C1_4" 10m >/dev/null
wait_granted "$C1_4" 2
world_spawn hostile srv "$WORLD_PY" "$WORLD/hostile.py" 127.0.0.1 $PORT 600
HOSTILE=$WORLD_PID
world_wait_log "$WORLD/hostile.log" "idle_opened=" 20
echo "# hostile: $(head -1 "$WORLD/hostile.log")"
h() { grep -q " $1=$2\( \|\$\)\|^$1=$2\( \|\$\)" "$WORLD/hostile.log"; }
check "a malformed request is answered DUNNO" h malformed action=DUNNO
check "the connection still answers afterwards" h after_malformed action=DUNNO
check "an unparsable client_address: DUNNO" h bad_address action=DUNNO
check "binary junk: DUNNO" h binary action=DUNNO
check "an oversized request: DUNNO or closed" bash -c "grep -Eq ' oversized=(action=DUNNO|closed)' '$WORLD/hostile.log'"
check "600 idle connections were accepted by the kernel" h idle_opened 600
t0=$(date +%s%N)
r=$(relay c1 "$SRV4")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# with 600 idle connections held: relay $r in $ms ms"
check "with them held, Postfix still gets an answer: granted relay 250" test "$r" = 250
check "promptly (under 2 s, including Python and SMTP)" test "$ms" -lt 2000
check "an ungranted client still 554" is 554 c2 "$SRV4"
check "the connection cap evicted idle connections" test "$(status evicted)" -gt 0
check "at most 512 connections kept" test "$(status connections)" -le 512
check "a client that sends nothing is closed by dracd" world_wait_log "$WORLD/hostile.log" "silent=closed" 20
grep silent= "$WORLD/hostile.log" | sed 's/^/# /'
check "by its request deadline, not by the cap" test "$(status timeouts)" -gt 0
world_stop "$HOSTILE"
check "drac status counts requests" test "$(status requests)" -gt 10
check "drac status counts OK answers" test "$(status ok)" -gt 0
check "drac status counts DUNNO answers" test "$(status dunno)" -gt 0
check "drac status counts malformed requests" test "$(status malformed)" -ge 3
check "drac status counts oversized requests" test "$(status oversized)" -ge 1
drac status | grep '^ *policy\.' | sed 's/^/# /'
check "dracd is still running" kill -0 "$DRACD_PID"
drac del "$C1_4" >/dev/null

# --- SIGHUP: the IPv6 listener, then Debian's unix:private/dracd ----------
# Postfix's relay line for FORM, rewritten in place: duplicate entries
# would make every Postfix process log warnings, and a master that logs
# many of them while it restarts postlogd at a reload can stall.
postfix_policy() {	# FORM
	postconf -c "$WORLD_POSTFIX_DIR" -X smtpd_relay_restrictions mydestination \
		smtpd_policy_service_default_action &&
	postconf -c "$WORLD_POSTFIX_DIR" -e "$(policy_main "$1" | sed -n 1p)" \
		"$(policy_main "$1" | sed -n 2p)" "$(policy_main "$1" | sed -n 3p)" &&
	world__age "$WORLD_POSTFIX_DIR/main.cf" &&
	world_postfix_reload
	sleep 1.5	# the master restarts its smtpd processes
	check "the Postfix master survived its reload to $1" kill -0 "$WORLD_POSTFIX_PID"
}
reload_policy() {	# DRAC_POLICY POSTFIX_FORM
	sed -i '/^DRAC_POLICY=/d' "$DRACD_SETTINGS"
	echo "DRAC_POLICY=\"$1\"" >> "$DRACD_SETTINGS"
	kill -HUP "$DRACD_PID"
	eventually 3 grep -qF "policy service on $1" "$WORLD/dracd.log"
	postfix_policy "$2"
}
reload_policy "inet:[::1]:$PORT" "inet:[::1]:$PORT"
check "SIGHUP: dracd says it serves inet:[::1]:$PORT" grep -qF "policy service on inet:[::1]:$PORT" "$WORLD/dracd.log"
check "SIGHUP: dracd listens on [::1]:$PORT" bash -c "ip netns exec $NS_SRV ss -Hltn | grep -q '\[::1\]:$PORT '"
check "and no longer on 127.0.0.1:$PORT" bash -c "! ip netns exec $NS_SRV ss -Hltn | grep -q '127.0.0.1:$PORT '"
drac add "$C2_6" 10m >/dev/null
check "inet:[::1]: granted client relays (250)" eventually 5 is 250 c2 "$SRV6"
check "inet:[::1]: ungranted 554" is 554 c1 "$SRV6"
drac del "$C2_6" >/dev/null

# Debian's chrooted smtpd reaches unix:private/dracd, which is
# $queue_directory/private/dracd: a 0700 directory of the postfix user.
# After its start dracd keeps only CAP_NET_ADMIN, so a SIGHUP cannot make a
# socket there: the reload says so and the old listener keeps serving.
SOCK=$WORLD/pf/queue/private/dracd
sed -i '/^DRAC_POLICY=/d' "$DRACD_SETTINGS"
echo "DRAC_POLICY=\"unix:$SOCK\"" >> "$DRACD_SETTINGS"
kill -HUP "$DRACD_PID"
check "SIGHUP to unix:private/dracd: the reload says it is incomplete" \
	eventually 3 grep -q "reload incomplete" "$WORLD/dracd.log"
check "and the old [::1] listener keeps serving" eventually 3 bash -c "ip netns exec $NS_SRV ss -Hltn | grep -q '\[::1\]:$PORT '"
dracd_stop
dracd_start "${DRACD_ARGS[@]}" || nok "dracd restarts with unix:private/dracd"
check "a restart makes the socket in Postfix's private/ directory" test -S "$SOCK"
check "its mode lets smtpd's user connect (0666 inside the 0700 private/)" \
	test "$(stat -c %a "$SOCK")" = 666
check "the [::1] listener is gone" bash -c "! ip netns exec $NS_SRV ss -Hltn | grep -q '\[::1\]:$PORT '"
postfix_policy unix:private/dracd
kill_and_back unix:private/dracd
check "Postfix logged no fatal error" bash -c "! grep -q fatal: $WORLD_POSTFIX_LOG"
drac add "$C1_4" 10m >/dev/null
dracd_stop
# The socket stays (no right to remove it in private/ any more); nobody
# listens on it, so smtpd's connect fails and the default action applies.
check "after a clean stop: relay 554" is 554 c1 "$SRV4"
check "and mail to the local domain 250" test "$(local_mail c1 "$SRV4")" = 250
t_done
