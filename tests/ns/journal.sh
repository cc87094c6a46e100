#!/bin/bash
# The systemd journal as the log hook's source, with a real
# systemd-journald and a real Dovecot (log_path = syslog) logging to it.
#
# journald runs without systemd as PID 1 in a private mount namespace of
# the server namespace: tmpfs on /run and /var/log/journal (the host's
# journal is never touched or read), cgroup2 on /sys/fs/cgroup, a private
# /dev whose log is journald's dev-log.  Dovecot, dracd, logger and the
# journald restarts all run in that namespace (nsenter).  There is no
# systemd, so no _SYSTEMD_UNIT: dracd trusts "_EXE=/usr/lib/dovecot/log
# _UID=0", the fields journald took from the kernel for Dovecot's log
# process.  Checked: TLS logins over IPv4 and IPv6 grant; a login from
# before dracd started is not replayed; logger -t dovecot forgeries (root,
# nobody, the native protocol with made-up _EXE/_UID fields) grant
# nothing; journal rotation and journald restarts (TERM, and KILL, which
# leaves a dirty file that the new journald rotates away) lose nothing.
# The socket source beside it: a datagram from a uid not in
# DRAC_LOGHOOK_UIDS grants nothing and is counted.  Last, journald started
# only after dracd: its entries are still read.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"
. "$TOP/tests/lib/journald.sh"
journald_need
TRUST=${JOURNAL_TRUST:-_EXE=/usr/lib/dovecot/log _UID=0}

world_up || skip_all "cannot build the test world"
# The world's Dovecot makes the certificate, the users and the config;
# ours runs from the same config with log_path = syslog in the namespace.
world_dovecot_start || { nok "dovecot starts"; t_done; exit 1; }
world_dovecot_stop

# The holder process keeps the mount namespace; everything else enters it.
check "private mount namespace for journald" holder_start jns /var/log/journal 2755 ||
	{ cat "$WORLD/jns.log"; t_done; exit 1; }
check "systemd-journald starts" journald_start

check "Dovecot with log_path = syslog listens" journald_dovecot_start

fields_of() {	# ERE: the trusted fields of the entry whose MESSAGE matches
	inns journalctl -q --no-pager -o verbose 2>/dev/null |
		awk -v re="$1" '/^[^ ]/ { if (hit) print e; e = ""; hit = 0 }
			{ e = e "\n" $0 } $0 ~ "MESSAGE=.*" re { hit = 1 } END { if (hit) print e }' |
		grep -E '^ +_(EXE|UID|COMM)='
}

# --- history: a login from before dracd starts ----------------------------
check "POP3S login from $C2_4 before dracd runs" world_pop3_login c2 "$SRV4" --tls
check "  is in the journal" world__until 5 journal_has "Login: user=<$DEMO_USER>.*rip=$C2_4"
echo "# trusted fields of Dovecot's entry:"; fields_of "rip=$C2_4" | sed 's/^ */#   /'

journald_settings "$TRUST" "DRAC_LOGHOOK_SOCKET=\"$WORLD/log.sock\""
journald_dracd "$WORLD/dracd.settings" "$WORLD/dracd.log" -e 5m
check "dracd follows the journal" world_wait_log "$WORLD/dracd.log" "following the systemd journal" 5
check "dracd is ready" world_wait_log "$WORLD/dracd.log" "ready \\(pid $DPID\\)" 5

# --- forgeries: the same text, written by others -------------------------
forge() {	# ADDR: a Dovecot login line for ADDR
	echo "imap-login: Login: user=<$DEMO_USER>, method=PLAIN, rip=$1, lip=$SRV4, mpid=4242, TLS, session=<Zm9yZ2VkMQ>"
}
check "logger -t dovecot as root (forged 192.0.2.99)" inns logger -t dovecot "$(forge 192.0.2.99)"
check "logger -t dovecot as nobody (forged 192.0.2.98)" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups logger -t dovecot "$(forge 192.0.2.98)"
check "logger -t dovecot as nobody, IPv6 (forged 2001:db8::98)" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups logger -t dovecot "$(forge 2001:db8::98)"
# The native protocol lets a sender name fields: journald drops any that
# start with '_', so these cannot claim Dovecot's executable or uid 0.
check "native journal protocol with made-up _EXE/_UID (forged 192.0.2.97)" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups logger --journald <<EOF
MESSAGE=$(forge 192.0.2.97)
SYSLOG_IDENTIFIER=dovecot
_EXE=/usr/lib/dovecot/log
_UID=0
_COMM=log
EOF
check "  the forgeries are in the journal" world__until 5 journal_has "rip=192.0.2.97"
check "  the forgery by nobody carries _UID=65534" eval 'fields_of "rip=192.0.2.98" | grep -q "_UID=65534"'

# --- real logins ------------------------------------------------------------
check "POP3S login from $C1_4" world_pop3_login c1 "$SRV4" --tls
check "  grants $C1_4" eventually 3 granted "$C1_4"
check "IMAPS login over IPv6 from $C2_6" world_imap_login c2 "$SRV6" --tls
check "  grants $C2_6" eventually 3 granted "$C2_6"
world_imap_login c1 "$SRV6" "$DEMO_USER" wrong --tls 2>/dev/null
check "  failed IMAPS login from $C1_6 is in the journal" \
	world__until 5 journal_has "imap-login: .*(auth failed|Aborted login|Disconnected).*rip=$C1_6"
sleep 0.5
check_not "  and grants nothing" granted "$C1_6"
for a in 192.0.2.99 192.0.2.98 2001:db8::98 192.0.2.97; do
	check_not "forged login for $a grants nothing" granted "$a"
done
check_not "the login from before dracd started is not replayed ($C2_4)" granted "$C2_4"

# --- rotation: journald starts new journal files --------------------------
revoke "$C1_4"
check "journald rotates its files (SIGUSR2)" kill -USR2 "$JPID"
check "  an archived journal file exists" \
	world__until 5 inns sh -c 'ls /run/log/journal/*/system@*.journal >/dev/null 2>&1'
check "POP3S login from $C1_4 after rotation" world_pop3_login c1 "$SRV4" --tls
check "  grants $C1_4" eventually 3 granted "$C1_4"

# --- journald restarted while dracd runs -----------------------------------
for sig in TERM KILL; do
	revoke "$C1_4"; revoke "$C2_6"
	kill -$sig "$JPID"
	wait "$JPID" 2>/dev/null
	check "journald stopped with SIG$sig" eval '! world__alive "$JPID"'
	check "  and started again" journald_start
	check "  POP3S login from $C1_4" world_pop3_login c1 "$SRV4" --tls
	check "  grants $C1_4" eventually 3 granted "$C1_4"
	check "  IMAPS login over IPv6 from $C2_6" world_imap_login c2 "$SRV6" --tls
	check "  grants $C2_6" eventually 3 granted "$C2_6"
	check "  forgery by nobody after the restart is in the journal" eval '
		inns setpriv --reuid=65534 --regid=65534 --clear-groups \
			logger -t dovecot "$(forge 192.0.2.96)" &&
		world__until 5 journal_has "rip=192.0.2.96"'
	sleep 0.3
	check_not "  and grants nothing" granted 192.0.2.96
done
check_not "no history replayed after the restarts ($C2_4)" granted "$C2_4"
for a in 192.0.2.99 192.0.2.98 2001:db8::98 192.0.2.97; do
	check_not "forged $a still not granted" granted "$a"
done
# --- the datagram socket: the kernel tells the sender's uid ---------------
# Opened to everyone (as a careless setup might): the uid check alone
# must stop nobody's datagram; root (DRAC_LOGHOOK_UIDS default) passes.
chmod 666 "$WORLD/log.sock"
check "socket: nobody sends a login datagram for 192.0.2.95" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups \
	logger -u "$WORLD/log.sock" -t dovecot "$(forge 192.0.2.95)"
check "socket: root sends one for 192.0.2.94" logger -u "$WORLD/log.sock" -t dovecot "$(forge 192.0.2.94)"
check "  root's is granted (uid 0 is allowed)" eventually 3 granted 192.0.2.94
check_not "  nobody's grants nothing" granted 192.0.2.95
check "  and is counted as untrusted" eval \
	'srv "$BIN/drac" -c "$WORLD/dracd.settings" status --json 2>/dev/null | grep -q "\"untrusted\":1[,}]"'
check "dracd still runs" world__alive "$DPID"
check "drac status counts journal entries" eval \
	'srv "$BIN/drac" -c "$WORLD/dracd.settings" status --json 2>/dev/null | grep -q "\"journal_entries\":[1-9]"'

# --- journald started after dracd: no journal directory yet --------------
# sd-journal does not watch for a journal directory that does not exist;
# dracd opens the journal again until files appear, and reads them from
# the time it started.  A second namespace with a fresh /run; dracd
# trusts uid 0 there (the uid comes with each message from the kernel;
# logger exits too soon for journald to always find its _EXE).
world_stop "$DPID"
check "a second private mount namespace" holder_start jns2 /var/log/journal 2755
cat > "$WORLD/dracd2.settings" <<EOS
DRAC_TAP="no"
DRAC_LOGHOOK_JOURNAL="_UID=0"
DRAC_MAP="$WORLD/dracd.db"
DRAC_PIDFILE="$WORLD/dracd2.pid"
DRAC_CONTROL="$WORLD/dracd2.sock"
EOS
journald_dracd "$WORLD/dracd2.settings" "$WORLD/dracd2.log"
check "dracd started with no journal files says so" \
	world_wait_log "$WORLD/dracd2.log" "no journal files readable yet" 5
sleep 0.5
check "journald starts after dracd" journald_start
check "  dracd finds its files" world_wait_log "$WORLD/dracd2.log" "journal files appeared" 5
check "  a line from root (trusted here) is logged" inns logger -t dovecot "$(forge 192.0.2.93)"
check "  and grants 192.0.2.93" eventually 3 granted 192.0.2.93
check "  nobody's logger line is logged" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups logger -t dovecot "$(forge 192.0.2.92)"
sleep 0.5
check_not "  and grants nothing" granted 192.0.2.92

echo "# dracd log hook messages:"
grep -i "loghook\|journal" "$WORLD/dracd.log" | sed 's/^/#   /' | head -20
t_done
