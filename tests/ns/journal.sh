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
[ -x "$BIN/dracd" ] || skip_all "build first (make)"
JOURNALD=/lib/systemd/systemd-journald
[ -x $JOURNALD ] || skip_all "needs systemd-journald (package systemd)"
command -v dovecot >/dev/null && command -v logger >/dev/null && command -v nsenter >/dev/null ||
	skip_all "needs dovecot, logger and nsenter"
[ -x /usr/lib/dovecot/log ] || skip_all "needs /usr/lib/dovecot/log"
TRUST=${JOURNAL_TRUST:-_EXE=/usr/lib/dovecot/log _UID=0}

world_up || skip_all "cannot build the test world"
# The world's Dovecot makes the certificate, the users and the config;
# ours runs from the same config with log_path = syslog in the namespace.
world_dovecot_start || { nok "dovecot starts"; t_done; exit 1; }
world_dovecot_stop

# The holder process keeps the mount namespace; everything else enters it.
# holder_start NAME: sets HOLD
holder_start() {
world_spawn $1 srv unshare -m --propagation private bash -c '
	W=$1
	mount -t cgroup2 none /sys/fs/cgroup &&
	mount -t tmpfs -o mode=755 tmpfs /run &&
	mount -t tmpfs -o mode=2755 tmpfs /var/log/journal &&
	mkdir -p /run/systemd/journal "$W/olddev" &&
	mount --bind /dev "$W/olddev" &&
	mount -t tmpfs -o mode=755 tmpfs /dev || exit 1
	for n in null zero random urandom; do
		touch "/dev/$n" && mount --bind "$W/olddev/$n" "/dev/$n" || exit 1
	done
	ln -s /run/systemd/journal/dev-log /dev/log
	echo mounted
	exec sleep infinity' _ "$WORLD"
HOLD=$WORLD_PID
world_wait_log "$WORLD/$1.log" mounted 5
}
check "private mount namespace for journald" holder_start jns ||
	{ cat "$WORLD/jns.log"; t_done; exit 1; }
inns() { nsenter -t "$HOLD" -m -n "$@"; }
# (background jobs call nsenter directly: $! must be the program's pid,
# nsenter execs it, a shell function would fork a subshell)

JPID=
journald_start() {
	nsenter -t "$HOLD" -m -n $JOURNALD </dev/null >>"$WORLD/journald.out" 2>&1 &
	JPID=$!
	WORLD_PIDS+=("$JPID")
	world__until 5 inns test -S /run/systemd/journal/dev-log &&
		world__until 5 inns sh -c 'ls /run/log/journal/*/system.journal >/dev/null 2>&1'
}
check "systemd-journald starts" journald_start

sed -e "s|^instance_name = .*|instance_name = dovecot|; s|^log_path = .*|log_path = syslog|" \
	"$WORLD_DOVECOT_CONF" > "$WORLD/dc/dovecot-journal.conf"
nsenter -t "$HOLD" -m -n dovecot -F -c "$WORLD/dc/dovecot-journal.conf" </dev/null >>"$WORLD/dovecot.out" 2>&1 &
WORLD_DOVECOT_PID=$!
check "Dovecot with log_path = syslog listens" world__until 10 world__listening "$NS_SRV" 995 993 ||
	{ sed "s/^/#   /" "$WORLD/dovecot.out"; inns journalctl -q --no-pager -o cat 2>&1 | tail -5 | sed "s/^/#   /"; }

# journal entries (MESSAGE lines) matching ERE, from any writer
journal_has() { inns journalctl -q --no-pager -o cat 2>/dev/null | grep -qE -- "$1"; }
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

cat > "$WORLD/dracd.settings" <<EOS
DRAC_TAP="no"
DRAC_LOGHOOK_JOURNAL="$TRUST"
DRAC_LOGHOOK_SOCKET="$WORLD/log.sock"
DRAC_MAP="$WORLD/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
EOS
nsenter -t "$HOLD" -m -n "$BIN/dracd" -f -d -c "$WORLD/dracd.settings" -e 5m </dev/null >>"$WORLD/dracd.log" 2>&1 &
DPID=$!
WORLD_PIDS+=("$DPID")
check "dracd follows the journal" world_wait_log "$WORLD/dracd.log" "following the systemd journal" 5
check "dracd is ready" world_wait_log "$WORLD/dracd.log" "ready \\(pid $DPID\\)" 5

in_set() {
	local set=authed
	case $1 in *:*) set=authed6 ;; esac
	srv nft list set inet drac $set 2>/dev/null | grep -qw -- "$1"
}
del() {
	local set=authed
	case $1 in *:*) set=authed6 ;; esac
	srv nft delete element inet drac $set "{ $1 }" 2>/dev/null
}

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
check "  grants $C1_4" eventually 3 in_set "$C1_4"
check "IMAPS login over IPv6 from $C2_6" world_imap_login c2 "$SRV6" --tls
check "  grants $C2_6" eventually 3 in_set "$C2_6"
world_imap_login c1 "$SRV6" "$DEMO_USER" wrong --tls 2>/dev/null
check "  failed IMAPS login from $C1_6 is in the journal" \
	world__until 5 journal_has "imap-login: .*(auth failed|Aborted login|Disconnected).*rip=$C1_6"
sleep 0.5
check_not "  and grants nothing" in_set "$C1_6"
for a in 192.0.2.99 192.0.2.98 2001:db8::98 192.0.2.97; do
	check_not "forged login for $a grants nothing" in_set "$a"
done
check_not "the login from before dracd started is not replayed ($C2_4)" in_set "$C2_4"

# --- rotation: journald starts new journal files --------------------------
del "$C1_4"
check "journald rotates its files (SIGUSR2)" kill -USR2 "$JPID"
check "  an archived journal file exists" \
	world__until 5 inns sh -c 'ls /run/log/journal/*/system@*.journal >/dev/null 2>&1'
check "POP3S login from $C1_4 after rotation" world_pop3_login c1 "$SRV4" --tls
check "  grants $C1_4" eventually 3 in_set "$C1_4"

# --- journald restarted while dracd runs -----------------------------------
for sig in TERM KILL; do
	del "$C1_4"; del "$C2_6"
	kill -$sig "$JPID"
	wait "$JPID" 2>/dev/null
	check "journald stopped with SIG$sig" eval '! world__alive "$JPID"'
	check "  and started again" journald_start
	check "  POP3S login from $C1_4" world_pop3_login c1 "$SRV4" --tls
	check "  grants $C1_4" eventually 3 in_set "$C1_4"
	check "  IMAPS login over IPv6 from $C2_6" world_imap_login c2 "$SRV6" --tls
	check "  grants $C2_6" eventually 3 in_set "$C2_6"
	check "  forgery by nobody after the restart is in the journal" eval '
		inns setpriv --reuid=65534 --regid=65534 --clear-groups \
			logger -t dovecot "$(forge 192.0.2.96)" &&
		world__until 5 journal_has "rip=192.0.2.96"'
	sleep 0.3
	check_not "  and grants nothing" in_set 192.0.2.96
done
check_not "no history replayed after the restarts ($C2_4)" in_set "$C2_4"
for a in 192.0.2.99 192.0.2.98 2001:db8::98 192.0.2.97; do
	check_not "forged $a still not granted" in_set "$a"
done
# --- the datagram socket: the kernel tells the sender's uid ---------------
# Opened to everyone (as a careless setup might): the uid check alone
# must stop nobody's datagram; root (DRAC_LOGHOOK_UIDS default) passes.
chmod 666 "$WORLD/log.sock"
check "socket: nobody sends a login datagram for 192.0.2.95" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups \
	logger -u "$WORLD/log.sock" -t dovecot "$(forge 192.0.2.95)"
check "socket: root sends one for 192.0.2.94" logger -u "$WORLD/log.sock" -t dovecot "$(forge 192.0.2.94)"
check "  root's is granted (uid 0 is allowed)" eventually 3 in_set 192.0.2.94
check_not "  nobody's grants nothing" in_set 192.0.2.95
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
check "a second private mount namespace" holder_start jns2
cat > "$WORLD/dracd2.settings" <<EOS
DRAC_TAP="no"
DRAC_LOGHOOK_JOURNAL="_UID=0"
DRAC_MAP="$WORLD/dracd.db"
DRAC_PIDFILE="$WORLD/dracd2.pid"
DRAC_CONTROL="$WORLD/dracd2.sock"
EOS
nsenter -t "$HOLD" -m -n "$BIN/dracd" -f -d -c "$WORLD/dracd2.settings" </dev/null >>"$WORLD/dracd2.log" 2>&1 &
DPID=$!
WORLD_PIDS+=("$DPID")
check "dracd started with no journal files says so" \
	world_wait_log "$WORLD/dracd2.log" "no journal files readable yet" 5
sleep 0.5
check "journald starts after dracd" journald_start
check "  dracd finds its files" world_wait_log "$WORLD/dracd2.log" "journal files appeared" 5
check "  a line from root (trusted here) is logged" inns logger -t dovecot "$(forge 192.0.2.93)"
check "  and grants 192.0.2.93" eventually 3 in_set 192.0.2.93
check "  nobody's logger line is logged" \
	inns setpriv --reuid=65534 --regid=65534 --clear-groups logger -t dovecot "$(forge 192.0.2.92)"
sleep 0.5
check_not "  and grants nothing" in_set 192.0.2.92

echo "# dracd log hook messages:"
grep -i "loghook\|journal" "$WORLD/dracd.log" | sed 's/^/#   /' | head -20
t_done
