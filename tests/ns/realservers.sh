#!/bin/bash
# Real POP3/IMAP servers other than Dovecot, as Debian 12 ships them:
# Courier (courier-pop, courier-imap), Cyrus (cyrus-pop3d, cyrus-imapd),
# GNU Mailutils (mailutils-pop3d, mailutils-imap4d) and popa3d (POP3,
# IPv4, no TLS).  Each runs as a
# private instance laid over /usr, /etc and /var with overlayfs in a
# private mount namespace of the server namespace (tests/lib/overlay.sh;
# the .debs are downloaded once into /var/cache/drac-tests), its
# /dev/log being dracd's DRAC_LOGHOOK_SOCKET.  Real clients log in over
# IPv4 and IPv6, plain, TLS and STARTTLS:
#   log hook: every successful login grants the client's address, a
#             failed one grants nothing, a user name carrying another
#             address grants only the real client;
#   tap:      with DRAC_TAP=yes and no log hook, plain POP3/IMAP logins
#             through the same server are seen on the wire, failures not.
# REALSERVERS="courier cyrus" picks servers.  CAPTURE=DIR runs the same
# logins with a plain socket reader instead of dracd and writes each
# server's log lines to DIR/SERVER.txt (how the unit-test fixtures in
# tests/corpus/logpat/real-* were made); nothing is asserted then.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"
. "$TOP/tests/lib/overlay.sh"
[ -x "$BIN/dracd" ] || skip_all "build first (make)"
command -v unshare >/dev/null && command -v apt-get >/dev/null || skip_all "needs unshare and apt-get"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null
grep -qw overlay /proc/filesystems || skip_all "no overlayfs in this kernel"

SERVERS=${REALSERVERS:-courier cyrus mailutils popa3d}
CAPTURE=${CAPTURE:-}
# A user name that carries another address, in each server's log syntax.
EVIL_BLANKS='x [192.0.2.66] y, ip=[192.0.2.66]'
EVIL_NOBLANK='x,ip=[192.0.2.66]'
EVILPASS=evilpass

world_up || { nok "world_up"; exit 1; }
world_tls_cert || { nok "certificate"; exit 1; }
DEVLOG=$WORLD/devlog.sock

# --- the servers -------------------------------------------------------
# Each script runs inside the overlay (tests/lib/overlay.sh), $1 = $WORLD,
# and keeps running (or execs the server) until overlay_stop.

# Client names in the private /etc/hosts: Cyrus looks them up and logs
# "login: NAME [ADDR]"; client 2 stays unnamed.  No DNS server is reachable.
# shellcheck disable=SC2016
COMMON_SETUP='
W=$1
echo "nameserver 127.0.0.1" > /etc/resolv.conf
printf "192.0.2.2 c1.example.org\n2001:db8::2 c1.example.org\n" >> /etc/hosts
'

# shellcheck disable=SC2016
COURIER_SCRIPT='
echo "courier:x:990:" >> /etc/group
overlay_adduser courier 990 990 /var/lib/courier
overlay_adduser demo 2000 2000 /home/demo demopass
overlay_adduser "$2" 2001 2000 /home/evil "$3"
for h in /home/demo /home/evil; do
	mkdir -p $h/Maildir/cur $h/Maildir/new $h/Maildir/tmp
done
chown -R 2000:2000 /home/demo /home/evil
cat "$W/tls/key.pem" "$W/tls/cert.pem" > /etc/courier/pop3d.pem
cp /etc/courier/pop3d.pem /etc/courier/imapd.pem
chmod 644 /etc/courier/*.pem	# STLS failed with a 0600 file here
cp "$4" /etc/courier/dhparams.pem
mkdir -p /run/courier/authdaemon /var/lib/courier
/usr/sbin/authdaemond start
for s in pop3d pop3d-ssl imapd imapd-ssl; do /usr/sbin/$s start; done
exec sleep 3600
'

# shellcheck disable=SC2016
CYRUS_SCRIPT='
overlay_adduser cyrus 991 8 /var/lib/cyrus
sed -i "s/^mail:x:8:.*/mail:x:8:cyrus/" /etc/group
mkdir -p /run/cyrus/socket /run/cyrus/proc /run/cyrus/lock /var/lib/cyrus \
	/var/spool/cyrus/mail /var/spool/sieve
cp "$W/tls/cert.pem" /etc/cyrus-cert.pem
cp "$W/tls/key.pem" /etc/cyrus-key.pem
chown cyrus:mail /etc/cyrus-*.pem
# popminpoll 0: the Debian default (1 minute) refuses a second POP3
# login within a minute *after* logging "User logged in".
sed -i "s/^popminpoll:.*/popminpoll: 0/" /etc/imapd.conf
cat >> /etc/imapd.conf <<EOC
sasl_sasldb_path: /etc/sasldb2
sasl_mech_list: PLAIN LOGIN
tls_server_cert: /etc/cyrus-cert.pem
tls_server_key: /etc/cyrus-key.pem
EOC
cat > /etc/cyrus.conf <<EOC
START {
	recover cmd="/usr/sbin/cyrus ctl_cyrusdb -r"
}
SERVICES {
	imap cmd="imapd -U 30" listen="143" prefork=0
	imaps cmd="imapd -s -U 30" listen="993" prefork=0
	pop3 cmd="pop3d -U 30" listen="110" prefork=0
	pop3s cmd="pop3d -s -U 30" listen="995" prefork=0
}
EVENTS {
}
EOC
echo demopass | saslpasswd2 -p -c -f /etc/sasldb2 demo 2>/dev/null
printf "%s" "$3" | saslpasswd2 -p -c -f /etc/sasldb2 "$2" 2>/dev/null
chown cyrus:mail /etc/sasldb2
chmod 640 /etc/sasldb2
chown -R cyrus:mail /run/cyrus /var/lib/cyrus /var/spool/cyrus /var/spool/sieve
/usr/lib/cyrus/bin/makedirs >/dev/null 2>&1
chown -R cyrus:mail /run/cyrus /var/lib/cyrus /var/spool/cyrus
exec /usr/sbin/cyrmaster -D
'

# shellcheck disable=SC2016
MAILUTILS_SCRIPT='
overlay_adduser demo 2000 2000 /home/demo demopass
overlay_adduser "$2" 2001 2000 /home/evil "$3"
mkdir -p /var/mail && chmod 1777 /var/mail
# session-id and the acl "log" line are what put the client address in
# the log at all: Mailutils logs "SID ADDR" from the listener, then
# "SID user ... logged in" from the session process.
cat > /etc/mailutils.conf <<EOC
logging { syslog yes; facility mail; session-id yes; };
auth { authentication system; authorization system; };
tls { ssl-certificate-file "$W/tls/cert.pem"; ssl-key-file "$W/tls/key.pem"; };
tls-file-checks { key-file none; cert-file none; ca-file none; };
mailbox { mail-spool /var/mail; };
acl { log from any; allow any; };
mode daemon;
foreground yes;
EOC
printf "include /etc/mailutils.conf;\nserver \"[::]:110\" { tls-mode stls; };\nserver \"[::]:995\" { tls-mode connection; };\n" > /etc/pop3d.conf
printf "include /etc/mailutils.conf;\nserver \"[::]:143\" { tls-mode stls; };\nserver \"[::]:993\" { tls-mode connection; };\n" > /etc/imap4d.conf
pop3d --config-file=/etc/pop3d.conf &
imap4d --config-file=/etc/imap4d.conf &
wait
'

# PORT... each has a listener (dual-stack "*" / "[::]" ones count).
listening() {
	local out p
	out=$(srv ss -Hltn 2>/dev/null | awk '{ print $4 }')
	for p; do
		grep -qE ":$p\$" <<<"$out" || return 1
	done
}

# popa3d: POP3 only, no TLS, IPv4 only (Debian's build listens on
# 0.0.0.0), PAM against the private /etc/shadow.
# shellcheck disable=SC2016
POPA3D_SCRIPT='
overlay_adduser demo 2000 2000 /home/demo demopass
overlay_adduser "$2" 2001 2000 /home/evil "$3"
overlay_adduser popa3d 992 992 /var/lib/popa3d
mkdir -p /var/mail
touch /var/mail/demo "/var/mail/$2"
chown 2000 /var/mail/demo "/var/mail/$2"
exec popa3d -D
'

DHPARAMS=$OVL_CACHE/dhparams.pem
server_start() {	# SERVER: start it, wait for its four ports
	local s=$1 script
	case $s in
	courier)
		script=$COURIER_SCRIPT
		if [ ! -s "$DHPARAMS" ]; then
			openssl dhparam -dsaparam -out "$DHPARAMS.tmp" 2048 >/dev/null 2>&1 &&
				mv "$DHPARAMS.tmp" "$DHPARAMS" || return 1
		fi ;;
	cyrus) script=$CYRUS_SCRIPT ;;
	mailutils) script=$MAILUTILS_SCRIPT ;;
	popa3d) script=$POPA3D_SCRIPT ;;
	esac
	# FULL: IMAP, TLS and IPv6 besides plain POP3 over IPv4.
	FULL=1 PORTS="110 143 993 995" TLSOPT=(--tls)
	EVIL=$EVIL_BLANKS
	# popa3d takes no blank in a name
	[ "$s" = popa3d ] && FULL=0 PORTS=110 TLSOPT=() EVIL=$EVIL_NOBLANK
	overlay_spawn "$s" "$s" "$DEVLOG" "$COMMON_SETUP$script" "$WORLD" "$EVIL" "$EVILPASS" "$DHPARAMS" ||
		return 1
	SERVER_PID=$WORLD_PID
	world__until 15 listening $PORTS || {
		echo "# $s did not come up:"; tail -5 "$WORLD/$s.log" | sed 's/^/#   /'
		return 1
	}
}

# --- logins ----------------------------------------------------------------
# login NS KIND ADDR USER PASS [OPTIONS]: KIND pop3-login, imap-login,
# pop3-auth-plain, imap-auth-plain (tests/lib/mailclient.py).  Courier
# answers a wrong password after 5 s.
login() {
	local ns=$1 kind=$2 addr=$3
	shift 3
	WORLD_TIMEOUT=8 world_client "$ns" -v "$kind" "$addr" "$@" >"$WORLD/last-login" 2>&1
}
# login_ok: the same, showing the dialogue when the login fails.
login_ok() {
	login "$@" && return 0
	sed 's/^/#   /' "$WORLD/last-login"
	return 1
}

# The set, or in capture mode nothing to assert.
granted_now() { [ -z "$CAPTURE" ] && granted "$1"; }
expect_grant() {	# DESCRIPTION ADDR
	[ -n "$CAPTURE" ] && return 0
	check "$1 grants $2" wait_granted "$2" 3
}
expect_none() {	# DESCRIPTION ADDR...
	local a
	[ -n "$CAPTURE" ] && return 0
	for a in "${@:2}"; do
		check_not "$1: $a not granted" granted "$a"
	done
}
reset_set() { [ -n "$CAPTURE" ] || revoke_all; }

# dracd reading the servers' /dev/log, no tap; or the tap only.
hook_start() {
	if [ -n "$CAPTURE" ]; then
		world_spawn devlog srv "$WORLD_PY" "$TOP/tests/lib/devlog.py" "$DEVLOG" "$WORLD/lines.txt"
		CAPTURE_PID=$WORLD_PID
		world__until 3 test -S "$DEVLOG"
		return
	fi
	# Cyrus sends as its own uid (991, made by overlay_adduser above);
	# Mailutils and popa3d send their success line after switching to
	# the mail user (demo 2000, the hostile name 2001): measured, and
	# documented in the README as what makes them forgeable.
	dracd_start -e 10m -o DRAC_TAP=no -o DRAC_LOGHOOK_SOCKET="$DEVLOG" \
		-o DRAC_LOGHOOK_UIDS="0 991 2000 2001" || return 1
	# dracd makes it 0660 root:root; Cyrus logs as cyrus:mail, so the
	# socket's group is mail, as a deployment without a syslog daemon
	# in between would set it.
	chgrp mail "$DEVLOG"
}
hook_stop() {
	if [ -n "$CAPTURE" ]; then world_stop "$CAPTURE_PID"; else dracd_stop; fi
}

# log_phase SERVER: logins through the log hook.
log_phase() {
	local s=$1 rc
	reset_set
	# failures first, side by side (Courier takes 5 s to refuse)
	local f1 more=()
	login c1 pop3-login "$SRV4" demo wrongpass & f1=$!
	login c2 pop3-login "$SRV4" "$EVIL" wrongpass & more+=($!)
	if [ "$FULL" = 1 ]; then
		login c1 imap-login "$SRV6" demo wrongpass & more+=($!)
		login c2 imap-auth-plain "$SRV6" demo wrongpass & more+=($!)
	fi
	wait $f1; rc=$?
	[ -n "$CAPTURE" ] || check "$s: POP3 login with a wrong password is refused" test $rc = 1
	wait "${more[@]}"
	sleep 0.5	# the server's failure lines reach dracd
	expect_none "$s: failed logins" "$C1_4" "$C1_6" "$C2_4" "$C2_6" 192.0.2.66

	# successes, one client address each
	check "$s: POP3 USER/PASS from $C1_4" login_ok c1 pop3-login "$SRV4" demo demopass
	expect_grant "$s: POP3 USER/PASS over IPv4" "$C1_4"
	if [ "$FULL" = 1 ]; then
		check "$s: IMAP LOGIN from $C1_6" login_ok c1 imap-login "$SRV6" demo demopass
		expect_grant "$s: IMAP LOGIN over IPv6" "$C1_6"
		check "$s: POP3S from $C2_4" login_ok c2 pop3-login "$SRV4" demo demopass --tls
		expect_grant "$s: POP3S over IPv4" "$C2_4"
		check "$s: IMAP STARTTLS from $C2_6" login_ok c2 imap-login "$SRV6" demo demopass --starttls
		expect_grant "$s: IMAP STARTTLS over IPv6" "$C2_6"
		reset_set
		check "$s: IMAPS AUTHENTICATE PLAIN from $C1_4" login_ok c1 imap-auth-plain "$SRV4" demo demopass --tls
		expect_grant "$s: IMAPS AUTHENTICATE PLAIN" "$C1_4"
		check "$s: POP3 STLS from $C2_6" login_ok c2 pop3-login "$SRV6" demo demopass --stls
		expect_grant "$s: POP3 STLS over IPv6" "$C2_6"
	else
		echo "# $s: POP3 over IPv4 without TLS only"
	fi
	reset_set
	# a user name carrying another address (when the server takes it)
	if login c2 pop3-login "$SRV4" "$EVIL" "$EVILPASS" "${TLSOPT[@]}" ||
		{ [ "$FULL" = 1 ] && login c2 imap-auth-plain "$SRV4" "$EVIL" "$EVILPASS" --tls; }; then
		expect_grant "$s: login as '$EVIL'" "$C2_4"
		sleep 0.3
		expect_none "$s: the address in the user name" 192.0.2.66
	else
		echo "# $s refuses the user name '$EVIL':"
		sed 's/^/#   /' "$WORLD/last-login"
	fi
}

# tap_phase SERVER: the same server with dracd's tap and no log hook.
# tests/lib/mailclient.py's dialogues: plain logins and the adversarial
# scenarios.  A login the server accepted but the tap missed is recorded
# as a skip (TODO for the protocol machines) with its dialogue.
FAIL_SCENARIOS="pop3-pipelined-fail-noop pop3-fake-server-text pop3-auth-cancel
	pop3-auth-plain-fail imap-tag-reuse imap-fake-server-text imap-literal-fail
	imap-authenticate-cancel imap-authenticate-fail"
OK_SCENARIOS="pop3-pipelined-ok-noop pop3-split-bytes pop3-auth-plain pop3-auth-plain-ir
	pop3-auth-login imap-pipelined-retry imap-split-bytes imap-quoted-login
	imap-literal-login imap-literal-plus imap-authenticate-plain
	imap-authenticate-plain-ir imap-authenticate-login"
tap_phase() {
	local s=$1 sc i ns addr client pids=() n=0 clients
	dracd_start -e 10m -o DRAC_TAP=yes || { nok "$s: dracd with the tap starts"; return; }
	revoke_all	# dracd restores the log phase's grants
	rm -f "$WORLD"/sc-*.txt
	# Failures side by side, spread over the four client addresses
	# (Courier refuses after 5 s and takes 4 connections per address).
	clients=("c1 $SRV4" "c1 $SRV6" "c2 $SRV4" "c2 $SRV6")
	[ "$FULL" = 1 ] || clients=("c1 $SRV4" "c2 $SRV4")
	for sc in pop3-login imap-login $FAIL_SCENARIOS; do
		[ "$FULL" = 1 ] || [ "${sc%%-*}" = pop3 ] || continue
		read -r ns addr <<<"${clients[n % ${#clients[@]}]}"
		n=$((n + 1))
		if [ "${sc#*-}" = login ]; then
			login "$ns" "$sc" "$addr" demo wrongpass &
		else
			WORLD_TIMEOUT=8 world_scenario "$ns" "$sc" "$addr" demo demopass \
				>"$WORLD/sc-$sc.txt" 2>&1 &
		fi
		pids+=($!)
	done
	wait "${pids[@]}"
	sleep 0.3
	for client in "$C1_4" "$C1_6" "$C2_4" "$C2_6"; do
		check_not "$s tap: failed and adversarial logins from $client grant nothing" granted "$client"
	done
	for sc in $FAIL_SCENARIOS; do
		[ -e "$WORLD/sc-$sc.txt" ] || continue
		grep -q "RESULT:.* ok" "$WORLD/sc-$sc.txt" ||
			echo "# $s answered $sc otherwise than Dovecot: $(grep RESULT "$WORLD/sc-$sc.txt")"
	done
	# Successes one by one: each must grant its client.
	for sc in pop3-login imap-login $OK_SCENARIOS; do
		for addr in $SRV4 $SRV6; do
			client=$C1_4
			[ "$addr" = "$SRV6" ] && client=$C1_6
			# scenarios over IPv4 only: the machines are the same
			[ "$addr" = "$SRV6" ] && [ "${sc#*-}" != login ] && continue
			[ "$FULL" = 1 ] || { [ "${sc%%-*}" = pop3 ] && [ "$addr" = "$SRV4" ]; } || continue
			revoke_all
			if [ "${sc#*-}" = login ]; then
				login c1 "$sc" "$addr" demo demopass
			else
				WORLD_TIMEOUT=8 world_scenario c1 "$sc" "$addr" demo demopass >"$WORLD/last-login" 2>&1
			fi
			if [ $? -ne 0 ]; then
				local g=no
				eventually 1 granted "$client" && g=yes
				echo "skip - $s tap: $sc over $addr: the server does not take this dialogue (granted: $g)"
				grep -E '^(S|RESULT):' "$WORLD/last-login" | tail -3 | sed 's/^/#   /'
				continue
			fi
			if wait_granted "$client" 2; then
				ok "$s tap: $sc over $addr seen on the wire, grants $client"
			else
				echo "skip - $s tap: $sc over $addr accepted by $s but not granted by the tap (TODO: dialogue below)"
				sed 's/^/#   /' "$WORLD/last-login"
				cp "$WORLD/last-login" "$WORLD/wire-$s-$sc.txt"
			fi
		done
	done
	# LITERAL+ as a client uses it: after CAPABILITY announced it (the
	# tap only takes "{n+}" from a server that advertised it).
	revoke_all
	if [ "$FULL" = 0 ]; then
		:
	elif world_client c1 raw "$SRV4" 143 read 'send:a0 CAPABILITY\r\n' 'until:^a0 ' \
		'send:a1 LOGIN {4+}\r\ndemo {8+}\r\ndemopass\r\n' 'expect:^a1 OK' \
		'send:a2 LOGOUT\r\n' 'until:^a2 ' >"$WORLD/last-login" 2>&1; then
		check "$s tap: LITERAL+ LOGIN after CAPABILITY grants $C1_4" wait_granted "$C1_4" 2
	else
		echo "skip - $s tap: no LITERAL+ LOGIN after CAPABILITY: $(grep '^S: a1' "$WORLD/last-login")"
	fi
	dracd_stop
}

for s in $SERVERS; do
	if ! overlay_fetch "$s" 2>"$WORLD/fetch.err"; then
		echo "skip - $s: $(head -1 "$WORLD/fetch.err")"
		continue
	fi
	hook_start || { nok "$s: dracd with the log hook starts"; continue; }
	if ! server_start "$s"; then
		nok "$s starts in the overlay"
		hook_stop
		continue
	fi
	ok "$s runs from its Debian packages in a private overlay"
	log_phase "$s"
	hook_stop
	if [ -n "$CAPTURE" ]; then
		mkdir -p "$CAPTURE" && cp "$WORLD/lines.txt" "$CAPTURE/$s.txt" && rm -f "$WORLD/lines.txt"
		cp "$WORLD/$s.log" "$CAPTURE/$s.out" 2>/dev/null
	else
		tap_phase "$s"
	fi
	overlay_stop "$s"
done
t_done
