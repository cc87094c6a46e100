#!/bin/bash
# tests/ns/world_selftest.sh - the test world works on its own, without
# dracd: real Dovecot and Postfix in namespaces, the relay gate driven by a
# map this test writes, every client helper and adversarial dialogue against
# real Dovecot, and nothing left behind (also after a failure or a signal).
source "$(dirname "$0")/../lib/t.sh"
source "$(dirname "$0")/../lib/world.sh"

for c in ip postfix postmap dovecot openssl curl flock "$WORLD_PY"; do
	command -v "$c" >/dev/null || skip_all "$c is not installed"
done
for f in /usr/lib/dovecot/pop3-login /usr/lib/dovecot/imap-login; do
	[ -x "$f" ] || skip_all "$f is missing (dovecot-pop3d, dovecot-imapd)"
done

T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
STATE=$(mktemp /tmp/world_selftest.XXXXXX)
trap 'rm -f "$STATE"' EXIT

# leftovers NAME DIR: true when nothing of that world remains.
leftovers() {
	local name=$1 dir=$2 p
	ip netns list | grep -q "^$name-" && { echo "# namespaces of $name remain"; return 0; }
	[ -e "$dir" ] && { echo "# $dir remains"; return 0; }
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qF "$dir/"; then
			echo "# process ${p#/proc/} of $dir remains"; return 0
		fi
	done
	return 1
}

SECTION_T=$T0
# A world that dies (exit 1, a failure under set -e, SIGTERM, SIGINT) with
# both servers and a spawned process running: no namespace, file or
# process of it may remain.
declare -A want_rc=([exit]=1 [errexit]=1 [TERM]=143 [INT]=130)
for how in exit errexit TERM INT; do
	out=$(bash -c '
		source "$1/tests/lib/world.sh"
		world_up >&2 || exit 9
		echo "$WORLD_NAME $WORLD"
		world_spawn sleeper srv sleep 60
		world_dovecot_start >&2 && world_postfix_start "$WORLD/map" >&2 || exit 9
		echo $(ip netns pids "$NS_SRV")
		case $2 in
		exit) exit 1 ;;
		errexit) set -e; world_pop3_login c1 "$SRV4" demo wrong 2>/dev/null; exit 8 ;;
		*) kill -"$2" $$; sleep 10; exit 8 ;;
		esac' _ "$TOP" "$how")
	rc=$?
	{ read -r name dir; read -r pids; } <<<"$out"
	alive=
	for p in $pids; do world__alive "$p" && alive+=" $p"; done
	[ -n "$alive" ] && echo "# still running:$alive"
	if [ -n "$name" ] && [ -n "$pids" ] && [ -z "$alive" ] && [ "$rc" = "${want_rc[$how]}" ] &&
	   ! leftovers "$name" "$dir"; then
		ok "world cleaned up after $how (status $rc, $(wc -w <<<"$pids") processes)"
	else
		nok "world cleaned up after $how (status $rc, want ${want_rc[$how]})"
	fi
done

# smtp NS ADDR PORT EXPECTED: the RCPT answer is EXPECTED.
smtp() {
	local got
	got=$(world_smtp_rcpt "$1" "$2" "$3")
	[ "$got" = "$4" ] || { echo "# RCPT from $1 to $2 port $3: $got, want $4"; return 1; }
}

# quiet CMD...: output only when CMD fails.
quiet() {
	local out rc
	out=$("$@" 2>&1); rc=$?
	[ $rc -eq 0 ] || sed 's/^/# /' <<<"$out"
	return $rc
}

# scenario NS NAME ADDR: runs as intended; dialogue shown only on failure.
scenario() {
	local out rc
	out=$(world_scenario "$@" 2>&1); rc=$?
	[ $rc -eq 0 ] || sed 's/^/# /' <<<"$out"
	SCENARIO_OUT=$out
	return $rc
}

# section: print how long the part before took.
section() {
	[ -n "${SECTION_T:-}" ] && echo "# ... $(ms "$SECTION_T") ms"
	SECTION_T=$(date +%s%N)
}

main_world() {
	local t map name n rc out

	t=$(date +%s%N)
	world_up || { nok "world_up"; return; }
	echo "$WORLD_NAME $WORLD" > "$STATE"
	world_on_cleanup 'echo "$T_N $T_FAILED" > "$STATE.n"'
	ok "world_up ($(ms "$t") ms)"
	map=$WORLD/dracd
	check "three namespaces" test "$(ip netns list | grep -c "^$WORLD_NAME-")" = 3
	check "server addresses" bash -c "ip -n $NS_SRV -br addr show br0 | grep -q '$SRV4/24.*$SRV6/64'"
	check "client 2 addresses" bash -c "ip -n $NS_C2 -br addr show eth0 | grep -q '$C2_4/24.*$C2_6/64'"
	check "server default routes via one neighbour" bash -c \
		"ip -n $NS_SRV route show default | grep -q 'via 198.51.100.254' &&
		 ip -n $NS_SRV -6 route show default | grep -q 'via 2001:db8:ffff::fe'"

	t=$(date +%s%N)
	check "dovecot starts" world_dovecot_start
	echo "# dovecot up in $(ms "$t") ms"
	world_postmap_ok() { postmap -c "$WORLD/pmconf" -q 192.0.2.99 "btree:$map" >/dev/null; }
	printf '192.0.2.99 %s\n' "$(( $(date +%s) + 1800 ))" | world_map_write "$map"
	check "map written with postmap" world_postmap_ok
	t=$(date +%s%N)
	check "postfix starts" world_postfix_start "$map"
	echo "# postfix up in $(ms "$t") ms"

	section
	# Logins, both families, both protocols.
	for a in "$SRV4" "$SRV6"; do
		t=$(date +%s%N)
		check "POP3 login from c1 to $a" world_pop3_login c1 "$a"
		echo "# POP3 login $(ms "$t") ms"
		check "IMAP login from c1 to $a" world_imap_login c1 "$a"
		world_pop3_login c1 "$a" demo wrong 2>/dev/null; rc=$?
		check "POP3 wrong password from c1 to $a is refused (1)" test $rc = 1
		world_imap_login c1 "$a" demo wrong 2>/dev/null; rc=$?
		check "IMAP wrong password from c1 to $a is refused (1)" test $rc = 1
		check "POP3 AUTH PLAIN to $a" world_pop3_auth_plain c1 "$a"
		check "POP3 AUTH PLAIN with initial response to $a" world_pop3_auth_plain c1 "$a" --ir
		check "IMAP AUTHENTICATE PLAIN to $a" world_imap_authenticate_plain c1 "$a"
		check "IMAP AUTHENTICATE PLAIN with SASL-IR to $a" world_imap_authenticate_plain c1 "$a" --ir
	done
	check "POP3 login from c2" world_pop3_login c2 "$SRV4"
	check_not "AUTH PLAIN wrong password refused" world_pop3_auth_plain c2 "$SRV6" demo wrong --ir 2>/dev/null
	check "Dovecot logs the IPv4 login" grep -qE \
		'pop3-login: Info: Login: user=<demo>, method=PLAIN, rip=192\.0\.2\.2, lip=192\.0\.2\.1, ' "$WORLD_DOVECOT_LOG"
	check "Dovecot logs the IPv6 login" grep -qE \
		'imap-login: Info: Login: user=<demo>, method=PLAIN, rip=2001:db8::2, lip=2001:db8::1, ' "$WORLD_DOVECOT_LOG"

	section
	# A user name that looks like log fields, for the log hook's tests.
	world_dovecot_add_user 'x, rip=192.0.2.3' pw2
	check "login as user 'x, rip=192.0.2.3'" world_pop3_login c1 "$SRV4" 'x, rip=192.0.2.3' pw2
	check "... logged with the real rip" grep -qF \
		'Login: user=<x, rip=192.0.2.3>, method=PLAIN, rip=192.0.2.2, lip=192.0.2.1, ' "$WORLD_DOVECOT_LOG"

	section
	# TLS: implicit, STLS, STARTTLS; curl and the Python clients.
	for a in "$SRV4" "[$SRV6]"; do
		check "curl pop3s://$a" c1 curl -sSk --max-time 3 -u demo:demopass -o /dev/null "pop3s://$a/"
		check "curl imaps://$a" c1 curl -sSk --max-time 3 -u demo:demopass -o /dev/null "imaps://$a/"
		check "curl pop3://$a with STLS" c1 curl -sSk --ssl-reqd --max-time 3 -u demo:demopass -o /dev/null "pop3://$a/"
		check "curl imap://$a with STARTTLS" c1 curl -sSk --ssl-reqd --max-time 3 -u demo:demopass -o /dev/null "imap://$a/"
	done
	check_not "curl pop3s wrong password" c1 curl -sSk --max-time 3 -u demo:wrong -o /dev/null "pop3s://$SRV4/" 2>/dev/null
	check "POP3 login over TLS (995)" world_pop3_login c1 "$SRV4" --tls
	check "POP3 login after STLS" world_pop3_login c1 "$SRV6" --stls
	check "IMAP login over TLS (993)" world_imap_login c1 "$SRV6" --tls
	check "IMAP login after STARTTLS" world_imap_login c1 "$SRV4" --starttls
	check "Dovecot logs TLS logins" grep -qE \
		'Login: user=<demo>, method=PLAIN, rip=192\.0\.2\.2, lip=192\.0\.2\.1, mpid=[0-9]+, TLS, ' "$WORLD_DOVECOT_LOG"

	section
	# The relay gate: only the map decides.
	check "c1 not in the map: 554 on 25" smtp c1 "$SRV4" 25 554
	check "c1 not in the map: 554 on 587" smtp c1 "$SRV4" 587 554
	t=$(date +%s%N)
	world_map_add "$map" "$C1_4"
	check "c1 in the map: 250 on 25 at once" smtp c1 "$SRV4" 25 250
	echo "# map change to RCPT 250: $(ms "$t") ms"
	check "c1 in the map: 250 on 587" smtp c1 "$SRV4" 587 250
	check "c2 still 554" smtp c2 "$SRV4" 25 554
	check "c1 over IPv6 not in the map: 554" smtp c1 "$SRV6" 25 554
	world_map_add "$map" "$C1_6"
	check "key 2001:db8::2: 250 over IPv6 on 25" smtp c1 "$SRV6" 25 250
	check "key 2001:db8::2: 250 over IPv6 on 587" smtp c1 "$SRV6" 587 250
	check "c2 over IPv6 still 554" smtp c2 "$SRV6" 587 554
	out=$(world_map_get "$map" "$C1_6")
	check "world_map_get reads the value ($out)" test "$out" -gt "$(date +%s)"
	check_not "world_map_get: absent key" world_map_get "$map" "$C2_6"
	check "world_map_dump lists both keys" test "$(world_map_dump "$map" | grep -cE '^(192\.0\.2\.2|2001:db8::2)\s[0-9]+$')" = 2
	out=$(world_smtp_rcpt c1 "$SRV4" 25 --data)
	check "mail from c1 accepted" test "$out" = 250
	check "... and discarded by Postfix" world_wait_log "$WORLD_POSTFIX_LOG" 'status=sent \(test\)' 5
	world_map_del "$map" "$C1_4"
	check "c1 removed from the map: 554 again" smtp c1 "$SRV4" 25 554
	check "c1 over IPv6 still 250" smtp c1 "$SRV6" 587 250
	check "Postfix logs the rejection" grep -qF \
		'NOQUEUE: reject: RCPT from unknown[192.0.2.3]: 554 5.7.1 <x@example.net>: Relay access denied' "$WORLD_POSTFIX_LOG"

	section
	# Transport outcomes the firewall tests rely on.
	srv nft -f - <<-'EOF'
	table inet worldtest {
		chain input {
			type filter hook input priority 0;
			tcp dport 2501 drop
			tcp dport 2502 reject with tcp reset
		}
	}
	EOF
	check "port 25 open" world_port_open c1 "$SRV4" 25
	check_not "port 26 closed" world_port_open c2 "$SRV6" 26
	check "closed port: refused" test "$(world_smtp_rcpt c1 "$SRV4" 26)" = refused
	check "reset by nft: refused" test "$(world_smtp_rcpt c1 "$SRV6" 2502)" = refused
	check "dropped by nft: timeout" test "$(WORLD_TIMEOUT=0.5 world_smtp_rcpt c1 "$SRV4" 2501)" = timeout
	srv nft delete table inet worldtest

	# Spoofed flood (hping3 is not among tests/deps: optional here).
	if command -v hping3 >/dev/null; then
		world_spawn flood c2 timeout 5 hping3 -q -S -p 143 --flood --rand-source "$SRV4"
		sleep 0.5
		check "IMAP login from c1 during a spoofed SYN flood" world_imap_login c1 "$SRV4"
		n=$(srv ip -4 neigh show | wc -l)
		check "flood replies need no neighbour entries ($n entries)" test "$n" -le 3
		world_stop "$WORLD_PID"
	else
		echo "# hping3 is not installed: no flood check"
	fi

	section
	# Adversarial dialogues against real Dovecot.
	for n in $("$WORLD_PY" "$WORLD_MAILCLIENT" list | awk '{ print $1 }'); do
		t=$(date +%s%N)
		check "scenario $n" scenario c1 "$n" "$SRV4"
		echo "# scenario $n $(ms "$t") ms"
	done
	scenario c1 pop3-pipelined-fail-noop "$SRV4" >/dev/null
	check "Dovecot answers a NOOP pipelined after a failed PASS with -ERR Unknown command." \
		grep -qx 'S: -ERR Unknown command.' <<<"$SCENARIO_OUT"
	scenario c2 pop3-split-bytes "$SRV6" >/dev/null
	check "split-bytes POP3 login over IPv6 from c2" grep -q 'RESULT: login=yes ok' <<<"$SCENARIO_OUT"
	check "split-bytes IMAP login over IPv6" scenario c2 imap-split-bytes "$SRV6"
	check "imap-tag-reuse over IPv6" scenario c2 imap-tag-reuse "$SRV6"
	check "raw steps" quiet world_client c1 raw "$SRV4" 110 'expect:^\+OK' 'send:CAPA\r\n' \
		'until:^\.$' 'send:QUIT\r\n' 'expect:^\+OK' eof
	world_client c1 raw "$SRV4" 143 'expect:^\+OK' >/dev/null; rc=$?
	check "raw expect fails on a mismatch (1)" test $rc = 1

	section
	# The Turbolinux-era restriction line.
	world_postfix_stop
	check_not "postfix stopped: 25 closed" world_port_open c1 "$SRV4" 25
	world_map_add "$map" "$C1_4"
	WORLD_POSTFIX_LEGACY=1
	check "postfix starts with the legacy line" world_postfix_start "$map"
	WORLD_POSTFIX_LEGACY=0
	check "... which is in main.cf" grep -q '^smtpd_recipient_restrictions = permit_mynetworks, check_client_access btree:.*, check_relay_domains$' \
		"$WORLD_POSTFIX_DIR/main.cf"
	check "legacy line: c1 in the map 250" smtp c1 "$SRV4" 25 250
	check "legacy line: c2 554" smtp c2 "$SRV4" 587 554
	check "legacy line: IPv6 c1 250" smtp c1 "$SRV6" 587 250
	check "legacy reject text" world_wait_log "$WORLD_POSTFIX_LOG" \
		'554 5\.7\.1 <x@example\.net>: Recipient address rejected: Relay access denied' 3

	section
	world_dovecot_stop
	check_not "dovecot stopped: 110 closed" world_port_open c1 "$SRV4" 110
}

section
( main_world )
read -r name dir < "$STATE" 2>/dev/null
read -r T_N T_FAILED < "$STATE.n" 2>/dev/null || { T_N=${T_N:-0}; T_FAILED=$((T_FAILED + 1)); }
rm -f "$STATE.n"
if [ -n "$name" ] && ! leftovers "$name" "$dir"; then
	ok "nothing left of the world ($name)"
else
	nok "nothing left of the world (${name:-never came up})"
fi
secs=$(( $(ms "$T0") / 1000 ))
echo "# world selftest took $(ms "$T0") ms"
check "selftest under a minute" test "$secs" -lt 60
t_done
