#!/bin/bash
# Hostile review of the log hook's sources, with a real systemd-journald
# and a real Dovecot (log_path = syslog) in the same private namespaces
# as tests/ns/journal.sh.  Each check is an attack that once worked or a
# guard against one:
#  * replay: a real login already read (and its grant gone, as after its
#    window) must not be granted again when journald moves its entries
#    about: a flush from /run to /var/log/journal, a rotation, a restart.
#  * missed logins: after journalctl --flush made /var/log/journal (it
#    did not exist when dracd opened the journal), sd-journal watched
#    nothing that journald still wrote: every later login was missed.
#  * trust: a journal match without a uid is refused; a log file anyone
#    may write is not believed (nobody's login line grants nothing).
#  * a remote user's name with a newline, which Dovecot's log process
#    writes as a line of its own in its trusted log_path file.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"
. "$TOP/tests/lib/journald.sh"
journald_need
TRUST="_EXE=/usr/lib/dovecot/log _UID=0"

world_up || skip_all "cannot build the test world"
world_dovecot_start || { nok "dovecot starts"; t_done; exit 1; }
world_dovecot_stop

check "private mount namespace for journald" holder_start jns /var/log 755 ||
	{ cat "$WORLD/jns.log"; t_done; exit 1; }
check "systemd-journald starts (volatile: no /var/log/journal yet)" journald_start

check "Dovecot with log_path = syslog listens" journald_dovecot_start

journald_settings "$TRUST"
journald_dracd "$WORLD/dracd.settings" "$WORLD/dracd.log" -e 5m
check "dracd follows the journal" world_wait_log "$WORLD/dracd.log" "following the systemd journal" 5
check "dracd is ready" world_wait_log "$WORLD/dracd.log" "ready \\(pid $DPID\\)" 5

# --- replay: the journal's entries moved about after they were read --------
# The grant is deleted as its window would end it; nothing that journald
# does with the old entry afterwards may bring it back.
check "POP3S login from $C1_4" world_pop3_login c1 "$SRV4" --tls
check "  grants $C1_4" eventually 3 granted "$C1_4"
check "IMAPS login over IPv6 from $C2_6" world_imap_login c2 "$SRV6" --tls
check "  grants $C2_6" eventually 3 granted "$C2_6"
sleep 0.3
revoke "$C1_4"; revoke "$C2_6"
check_not "  (grants deleted, as by the window)" granted "$C1_4"
replayed() { sleep 1.5; granted "$C1_4" || granted "$C2_6"; }
# and a new login after that is still read: C2 over IPv4, then gone again
fresh() {
	world_pop3_login c2 "$SRV4" --tls && eventually 3 granted "$C2_4"
	local r=$?
	sleep 0.3; revoke "$C2_4"
	return $r
}

check "journald rotates (SIGUSR2)" kill -USR2 "$JPID"
check_not "  the logins are not granted again" replayed
check "  a new login is still granted" fresh
inns mkdir -p /var/log/journal
check "journalctl --flush moves the entries to /var/log/journal" inns journalctl --flush
check "  persistent files exist" inns sh -c 'ls /var/log/journal/*/system.journal >/dev/null 2>&1'
check_not "  the logins are not granted again" replayed
check "  a new login is still granted" fresh
check "journalctl --relinquish-var moves back to /run" inns journalctl --relinquish-var
check_not "  the logins are not granted again" replayed
check "  a new login is still granted" fresh
check "journalctl --flush again" inns journalctl --flush
check_not "  the logins are not granted again" replayed
check "  a new login is still granted" fresh
for sig in TERM KILL; do
	kill -$sig "$JPID"; wait "$JPID" 2>/dev/null
	check "journald stopped with SIG$sig and started again" journald_start
	check_not "  the logins are not granted again" replayed
	check "  a new login is still granted" fresh
done
check "a new login from $C1_4 still grants" eval 'world_pop3_login c1 "$SRV4" --tls && eventually 3 granted "$C1_4"'
check "dracd still runs" world__alive "$DPID"

# --- trust settings a real dracd refuses, and files it will not believe ----
# A unit alone: journald finds it by pid after the message arrived, and
# the unit also runs the mail users' processes.
OUT=$(srv timeout 5 "$BIN/dracd" -f -c /dev/null -o DRAC_TAP=no -o DRAC_LOGHOOK_JOURNAL=dovecot.service \
	-o DRAC_MAP="$WORLD/x.db" -o DRAC_PIDFILE="$WORLD/x.pid" -o DRAC_CONTROL="$WORLD/x.sock" 2>&1)
RC=$?
check "dracd refuses DRAC_LOGHOOK_JOURNAL=dovecot.service (no uid): exits $RC at once" \
	eval '[ $RC -ne 0 ] && [ $RC -ne 124 ]'
check "  saying a uid is needed" eval 'grep -q "needs _UID" <<<"$OUT"'
# A log file anyone may write (a careless logrotate "create 0666"): the
# real dracd must not believe nobody's line in it.
mkdir -p "$WORLD/ww" && chmod 755 "$WORLD/ww"
: > "$WORLD/ww/mail.log"; chmod 666 "$WORLD/ww/mail.log"
world_spawn dracd3 srv "$BIN/dracd" -f -d -c /dev/null -o DRAC_TAP=no \
	-o DRAC_MAP="$WORLD/d3.db" -o DRAC_LOGHOOK_FILE="$WORLD/ww/mail.log" \
	-o DRAC_PIDFILE="$WORLD/d3.pid" -o DRAC_CONTROL="$WORLD/d3.sock"
D3=$WORLD_PID
check "a dracd follows a 0666 log file" world_wait_log "$WORLD/dracd3.log" "following $WORLD/ww/mail.log" 5
check "  nobody appends a Dovecot login line for 192.0.2.88" \
	setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \
	"echo 'Dec  1 12:00:00 mx dovecot[1]: imap-login: Login: user=<x>, method=PLAIN, rip=192.0.2.88, lip=$SRV4, mpid=1, TLS, session=<Zm9yZ2Vk>' >> '$WORLD/ww/mail.log'"
sleep 1.2
check_not "  it grants nothing" granted 192.0.2.88
check "  dracd says why" grep -q "may be written by a user not in DRAC_LOGHOOK_UIDS" "$WORLD/dracd3.log"
world_stop "$D3"
# --- Dovecot's log process splits a message at a raw newline ---------------
# Measured with Dovecot 2.3.19 (auth_debug = yes): a user name sent in
# AUTHENTICATE PLAIN (base64, so any byte) that holds a newline comes out
# of the auth process as a line of its own, "TIME auth: Error: <the rest
# of the name> file=...": the attacker writes most of a line of the
# trusted log_path file.  Its fixed "auth: " prefix must keep it from
# ever matching, whatever it holds.
world_stop "$DPID"
world_dovecot_stop
revoke "$C1_4"; revoke "$C2_6"
world_dovecot_start "auth_username_chars =
auth_username_format = %u
auth_verbose = yes
auth_debug = yes" || nok "dovecot (log_path file, auth_debug) starts"
LOG=$WORLD_DOVECOT_LOG
world_spawn dracd4 srv "$BIN/dracd" -f -d -c /dev/null -o DRAC_TAP=no -e 5m \
	-o DRAC_MAP="$WORLD/d4.db" -o DRAC_LOGHOOK_FILE="$LOG" \
	-o DRAC_PIDFILE="$WORLD/d4.pid" -o DRAC_CONTROL="$WORLD/d4.sock"
D4=$WORLD_PID
check "dracd follows Dovecot's own log file" world_wait_log "$WORLD/dracd4.log" "following $LOG" 5
T=$(date '+%b %d %H:%M:%S')
for forged in \
	"$T imap-login: Info: Login: user=<y>, method=PLAIN, rip=192.0.2.66, lip=$SRV4, mpid=1, TLS, session=<abc>" \
	"$T mx dovecot[1]: imap-login: Login: user=<y>, method=PLAIN, rip=192.0.2.65, lip=$SRV4, mpid=1, TLS, session=<abc>" \
	"imap-login: Login: user=<y>, method=PLAIN, rip=192.0.2.64, lip=$SRV4" ; do
	world_imap_authenticate_plain c1 "$SRV4" "x"$'\n'"$forged" pw 2>/dev/null
	world_pop3_auth_plain c2 "$SRV6" "x"$'\n'"$forged" pw 2>/dev/null
done
check "  Dovecot wrote the name's second line as a line of its own" \
	world__until 5 grep -q "auth: Error: $T imap-login: Info: Login: user=<y>, method=PLAIN, rip=192.0.2.66" "$LOG"
echo "# e.g.: $(grep -m1 "auth: Error: $T imap-login" "$LOG")"
sleep 0.5
for a in 192.0.2.66 192.0.2.65 192.0.2.64 "$C1_4" "$C2_6"; do
	check_not "  grants nothing ($a)" granted "$a"
done
check "  a real login after them still grants ($C1_4)" eval \
	'world_pop3_login c1 "$SRV4" --tls && eventually 3 granted "$C1_4"'
check "dracd still runs" world__alive "$D4"
world_stop "$D4"

echo "# dracd log hook messages:"
grep -i "loghook\|journal" "$WORLD/dracd.log" | sed 's/^/#   /' | head -30
t_done
