#!/bin/bash
# TLS logins reach the set only through the log hook: a real Dovecot
# writes its log file, dracd follows it (no packet tap), real curl
# clients log in over POP3S, IMAPS, STLS and STARTTLS from the client
# namespaces.  Failed logins and user names carrying another address
# grant nothing but the real client; a rotated log file keeps working.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
[ -x "$BIN/dracd" ] || skip_all "build first (make)"
command -v dovecot >/dev/null && command -v curl >/dev/null || skip_all "needs dovecot and curl"

world_up || skip_all "cannot build the test world"
# Names with '>', ',', '=' and blanks must reach the log: Dovecot's
# default auth_username_chars would refuse them before logging, and its
# default auth_username_format (%Lu) would not find them in passwd-file.
world_dovecot_start "auth_username_chars =
auth_username_format = %u" || { nok "dovecot starts"; t_done; exit 1; }
EVIL='x>, method=PLAIN, rip=192.0.2.66, lip=192.0.2.1'
world_dovecot_add_user "$EVIL" evilpass
world_dovecot_add_user "u, ip=[192.0.2.67] host=[192.0.2.67]" evilpass

LOG=$WORLD_DOVECOT_LOG
world_spawn dracd srv "$BIN/dracd" -f -d -c /dev/null -e 5m \
	-o DRAC_MAP="$WORLD/dracd.db" -o DRAC_TAP=no -o DRAC_LOGHOOK_FILE="$LOG" \
	-o DRAC_LOGHOOK_SOCKET="$WORLD/log.sock" \
	-o DRAC_PIDFILE="$WORLD/dracd.pid" -o DRAC_CONTROL="$WORLD/dracd.sock"
DPID=$WORLD_PID
check "dracd follows the Dovecot log" world_wait_log "$WORLD/dracd.log" "following $LOG" 5
check "dracd reads datagrams on its socket" world_wait_log "$WORLD/dracd.log" "reading log messages on $WORLD/log.sock" 5

in_set() {	# ADDR: in authed or authed6 of the server namespace
	local set=authed
	case $1 in *:*) set=authed6 ;; esac
	srv nft list set inet drac $set 2>/dev/null | grep -qw -- "$1"
}
not_in_set() { ! in_set "$1"; }
logins() { grep -c "$1" "$LOG"; }
# curl NS URL USER:PASS [curl options]
mcurl() {
	local ns=$1 url=$2 up=$3; shift 3
	$ns curl -sk --max-time 5 "$@" -u "$up" "$url" >/dev/null 2>&1
}
# after a failure, give dracd time to read the line it would act on
settle() { world_wait_log "$LOG" "$1" 5 && sleep 0.5; }

# --- failures first: nothing may be granted yet ------------------------
mcurl c1 "pop3s://$SRV4/" "$DEMO_USER:wrong"
settle "auth failed.*rip=$C1_4"
check_not "failed POP3S login from $C1_4 grants nothing" in_set "$C1_4"
mcurl c1 "imaps://[$SRV6]/" "$EVIL:wrong"
settle "auth failed.*rip=$C1_6"
check_not "failed IMAPS login with an address-carrying name grants nothing ($C1_6)" in_set "$C1_6"
check_not "  nor the address in the name" in_set 192.0.2.66
check "dracd is still running" world__alive "$DPID"

# --- successes -----------------------------------------------------------
check "POP3S login from $C1_4 (curl)" mcurl c1 "pop3s://$SRV4/" "$DEMO_USER:$DEMO_PASS"
check "  grants $C1_4" eventually 3 in_set "$C1_4"
check "IMAPS login over IPv6 from $C2_6 (curl)" mcurl c2 "imaps://[$SRV6]/" "$DEMO_USER:$DEMO_PASS"
check "  grants $C2_6 in authed6" eventually 3 in_set "$C2_6"
check_not "  and not $C2_4" in_set "$C2_4"
check "IMAPS login from $C2_4 as '$EVIL'" mcurl c2 "imaps://$SRV4/" "$EVIL:evilpass"
check "  Dovecot logged the name unescaped" grep -qF "user=<$EVIL>, method=PLAIN, rip=$C2_4" "$LOG"
check "  grants the real client $C2_4" eventually 3 in_set "$C2_4"
check "POP3S login as 'u, ip=[192.0.2.67] host=[192.0.2.67]' from $C1_6" \
	mcurl c1 "pop3s://[$SRV6]/" "u, ip=[192.0.2.67] host=[192.0.2.67]:evilpass"
check "  grants the real client $C1_6" eventually 3 in_set "$C1_6"
sleep 0.3
check_not "no address from a user name was granted (192.0.2.66)" in_set 192.0.2.66
check_not "no address from a user name was granted (192.0.2.67)" in_set 192.0.2.67

# STLS / STARTTLS: TLS inside the plain ports
srv nft delete element inet drac authed "{ $C1_4 }" 2>/dev/null
srv nft delete element inet drac authed6 "{ $C2_6 }" 2>/dev/null
check "POP3 STLS login from $C1_4 (curl --ssl-reqd)" mcurl c1 "pop3://$SRV4/" "$DEMO_USER:$DEMO_PASS" --ssl-reqd
check "  grants $C1_4" eventually 3 in_set "$C1_4"
check "IMAP STARTTLS login from $C2_6 (curl --ssl-reqd)" mcurl c2 "imap://[$SRV6]/" "$DEMO_USER:$DEMO_PASS" --ssl-reqd
check "  grants $C2_6" eventually 3 in_set "$C2_6"

map_has() { world_map_get "$WORLD/dracd" "$1" >/dev/null 2>&1; }
check "the Postfix map has $C1_4 too" eventually 3 map_has "$C1_4"
check "the Postfix map has $C2_6 too" eventually 3 map_has "$C2_6"

# --- rotation: rename the log and let Dovecot reopen it -------------------
mv "$LOG" "$LOG.1"
kill -USR1 "$WORLD_DOVECOT_PID"	# Dovecot's master reopens its log files
world__until 5 test -e "$LOG"
srv nft delete element inet drac authed "{ $C1_4 }" 2>/dev/null
check_not "$C1_4 removed by hand" in_set "$C1_4"
check "POP3S login after log rotation" mcurl c1 "pop3s://$SRV4/" "$DEMO_USER:$DEMO_PASS"
check "  lands in the new log file" world_wait_log "$LOG" "Login: user=<$DEMO_USER>.*rip=$C1_4" 5
check "  and grants $C1_4 again" eventually 3 in_set "$C1_4"
check "dracd noticed the rotation" grep -q "was replaced" "$WORLD/dracd.log"
mcurl c2 "pop3s://$SRV4/" "$DEMO_USER:wrong"
srv nft delete element inet drac authed "{ $C2_4 }" 2>/dev/null
settle "auth failed.*rip=$C2_4"
check_not "failed login after rotation grants nothing" in_set "$C2_4"

# --- Dovecot logging through syslog(3) to the hook's socket ---------------
# A second Dovecot (other ports) with log_path = syslog, in a private
# mount namespace whose /dev/log is the socket dracd created: the same
# datagrams a syslog daemon would receive.  Its syslog ident is its
# instance_name, "dovecot" as in a default install.
d2=$WORLD/dc2
mkdir -p "$d2/run" "$d2/state"
sed -e "s|^base_dir = .*|base_dir = $d2/run|; s|^state_dir = .*|state_dir = $d2/state|" \
    -e "s|^instance_name = .*|instance_name = dovecot|; s|^log_path = .*|log_path = syslog|" \
    -e "s|port = 110\$|port = 1110|; s|port = 995\$|port = 1995|" \
    -e "s|port = 143\$|port = 1143|; s|port = 993\$|port = 1993|" \
    "$WORLD_DOVECOT_CONF" > "$d2/dovecot.conf"
world_spawn dovecot-syslog srv unshare -m --propagation private bash -c '
	W=$1
	mkdir -p "$W/olddev" && mount --bind /dev "$W/olddev" &&
	mount -t tmpfs -o mode=755 tmpfs /dev || exit 1
	for n in null zero random urandom; do
		touch "/dev/$n" && mount --bind "$W/olddev/$n" "/dev/$n" || exit 1
	done
	ln -s "$W/log.sock" /dev/log
	exec dovecot -F -c "$W/dc2/dovecot.conf"' _ "$WORLD"
check "Dovecot with log_path = syslog listens" world__until 10 world__listening "$NS_SRV" 1995 1993
srv nft delete element inet drac authed "{ $C1_4 }" 2>/dev/null
srv nft delete element inet drac authed6 "{ $C2_6 }" 2>/dev/null
mcurl c2 "imaps://[$SRV6]:1993/" "$DEMO_USER:wrong"
sleep 1
check_not "syslog path: failed IMAPS login grants nothing" in_set "$C2_6"
check "syslog path: POP3S login from $C1_4" mcurl c1 "pop3s://$SRV4:1995/" "$DEMO_USER:$DEMO_PASS"
check "  grants $C1_4" eventually 3 in_set "$C1_4"
check "syslog path: IMAPS login from $C2_6 as '$EVIL'" mcurl c2 "imaps://[$SRV6]:1993/" "$EVIL:evilpass"
check "  grants $C2_6" eventually 3 in_set "$C2_6"
sleep 0.3
check_not "  and not the address in the name" in_set 192.0.2.66
world_stop "$WORLD_PID"

echo "# dracd log hook messages:"
grep -i loghook "$WORLD/dracd.log" | sed 's/^/#   /' | head -20
t_done
