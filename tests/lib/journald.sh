# tests/lib/journald.sh - a real systemd-journald, without systemd as PID 1,
# in a private mount namespace of the test world's server namespace, and a
# real Dovecot (log_path = syslog) and dracd in the same namespace.
#
# Sourced after tests/lib/world.sh by tests/ns/journal.sh and
# tests/ns/loghook_attack.sh.  The host's journal is never touched or read:
# tmpfs on /run and on the journal's directory, cgroup2 on /sys/fs/cgroup,
# a private /dev whose log is journald's dev-log.  Background jobs run
# nsenter directly, not inns: $! must be the program's pid (nsenter execs
# it; a shell function would fork a subshell).
#
#   journald_need              skip_all unless dracd is built and
#                              systemd-journald, dovecot, logger, nsenter
#                              and /usr/lib/dovecot/log are there
#   holder_start NAME DIR MODE a new mount namespace, tmpfs with MODE on DIR
#                              (/var/log/journal: persistent journal;
#                              /var/log: volatile, no /var/log/journal),
#                              kept by a holder process (world_spawn NAME):
#                              its pid in HOLD
#   inns CMD...                CMD in HOLD's mount and network namespace
#   journald_start             journald there (pid in JPID), true once it
#                              has its dev-log and a system.journal
#   journald_dovecot_start     Dovecot from the world's config with
#                              log_path = syslog there; true when it listens
#   journald_settings TRUST [LINE...]   $WORLD/dracd.settings: no tap,
#                              DRAC_LOGHOOK_JOURNAL=TRUST, map, pid file and
#                              control socket in $WORLD, then the LINEs
#   journald_dracd SETTINGS LOG [ARG...]   dracd -f -d -c SETTINGS there,
#                              output appended to LOG, pid in DPID
#   journal_has ERE            a journal entry's MESSAGE (any writer)
#                              matches ERE
JOURNALD=/lib/systemd/systemd-journald
journald_need() {
	[ -x "$BIN/dracd" ] || skip_all "build first (make)"
	[ -x $JOURNALD ] || skip_all "needs systemd-journald (package systemd)"
	command -v dovecot >/dev/null && command -v logger >/dev/null && command -v nsenter >/dev/null ||
		skip_all "needs dovecot, logger and nsenter"
	[ -x /usr/lib/dovecot/log ] || skip_all "needs /usr/lib/dovecot/log"
}

HOLD=
holder_start() {
	world_spawn $1 srv unshare -m --propagation private bash -c '
		W=$1
		mount -t cgroup2 none /sys/fs/cgroup &&
		mount -t tmpfs -o mode=755 tmpfs /run &&
		mount -t tmpfs -o mode=$3 tmpfs "$2" &&
		mkdir -p /run/systemd/journal "$W/olddev" &&
		mount --bind /dev "$W/olddev" &&
		mount -t tmpfs -o mode=755 tmpfs /dev || exit 1
		for n in null zero random urandom; do
			touch "/dev/$n" && mount --bind "$W/olddev/$n" "/dev/$n" || exit 1
		done
		ln -s /run/systemd/journal/dev-log /dev/log
		echo mounted
		exec sleep infinity' _ "$WORLD" "$2" "$3"
	HOLD=$WORLD_PID
	world_wait_log "$WORLD/$1.log" mounted 5
}
# -r -w: keep the holder's root and directory; entering a mount
# namespace otherwise resets the root to the namespace's own, which
# escapes a chroot (as in a fresh-machine test made with mmdebstrap).
inns() { nsenter -t "$HOLD" -m -n -r -w "$@"; }

JPID=
journald_start() {
	nsenter -t "$HOLD" -m -n -r -w $JOURNALD </dev/null >>"$WORLD/journald.out" 2>&1 &
	JPID=$!
	WORLD_PIDS+=("$JPID")
	world__until 5 inns test -S /run/systemd/journal/dev-log &&
		world__until 5 inns sh -c 'ls /run/log/journal/*/system.journal /var/log/journal/*/system.journal 2>/dev/null | grep -q .'
}

journald_dovecot_start() {
	sed -e "s|^instance_name = .*|instance_name = dovecot|; s|^log_path = .*|log_path = syslog|" \
		"$WORLD_DOVECOT_CONF" > "$WORLD/dc/dovecot-journal.conf"
	nsenter -t "$HOLD" -m -n -r -w dovecot -F -c "$WORLD/dc/dovecot-journal.conf" </dev/null >>"$WORLD/dovecot.out" 2>&1 &
	WORLD_DOVECOT_PID=$!
	world__until 10 world__listening "$NS_SRV" 995 993
}

journald_settings() {
	local trust=$1; shift
	{
		echo 'DRAC_TAP="no"'
		echo "DRAC_LOGHOOK_JOURNAL=\"$trust\""
		echo "DRAC_MAP=\"$WORLD/dracd.db\""
		echo "DRAC_PIDFILE=\"$WORLD/dracd.pid\""
		echo "DRAC_CONTROL=\"$WORLD/dracd.sock\""
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} > "$WORLD/dracd.settings"
}

DPID=
journald_dracd() {
	local settings=$1 log=$2; shift 2
	nsenter -t "$HOLD" -m -n -r -w "$BIN/dracd" -f -d -c "$settings" "$@" </dev/null >>"$log" 2>&1 &
	DPID=$!
	WORLD_PIDS+=("$DPID")
}

journal_has() { inns journalctl -q --no-pager -o cat 2>/dev/null | grep -qE -- "$1"; }
