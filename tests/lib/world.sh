# tests/lib/world.sh - a test world: three network namespaces, a private
# Dovecot and a private Postfix in the server one, real clients in the others.
#
# Sourced by tests/ns/*.sh (after tests/lib/t.sh), the benchmarks and
# tests/demo; tests/ns/world_selftest.sh shows every function in use.
# Needs root and the Debian packages iproute2, python3, dovecot-core,
# dovecot-pop3d, dovecot-imapd, postfix, openssl (TLS), util-linux (flock),
# curl and nftables for the selftest.  Nothing here touches the host's own
# network namespace, ruleset, /etc/postfix or /etc/dovecot: all state lives
# in $WORLD (/tmp/dw.XXXXXX) and in the namespaces, and the EXIT/INT/TERM
# trap (set by world_up) removes both, also when the test fails.  A test
# that wants its own clean-up uses world_on_cleanup, not trap; an EXIT trap
# set before world_up still runs after the world's.
#
#   world_up                       namespaces, addresses, the trap
#   world_down                     what the trap runs; safe to call twice
#   srv|c1|c2 CMD...               run CMD inside that namespace
#   world_spawn NAME NS CMD...     CMD in the background inside NS, output
#                                  to $WORLD/NAME.log, its pid in WORLD_PID;
#                                  stopped (TERM, then KILL) at clean-up
#   world_stop PID                 TERM, wait up to 5 s, then KILL
#   world_on_cleanup CMD           eval CMD first thing at clean-up
#   world_wait_log FILE ERE [SECS] wait (5 s) until a line of FILE matches
#
#   world_dovecot_start [CONF]     POP3 110, IMAP 143, and unless WORLD_TLS=0
#                                  POP3S 995, IMAPS 993, STLS, STARTTLS with
#                                  a fresh self-signed certificate; user
#                                  $DEMO_USER/$DEMO_PASS; CONF (lines) is
#                                  appended to the generated dovecot.conf.
#                                  Log: $WORLD_DOVECOT_LOG ($WORLD/dovecot.log)
#                                  "... pop3-login: Info: Login: user=<demo>,
#                                  method=PLAIN, rip=192.0.2.2, lip=192.0.2.1,
#                                  mpid=N[, TLS], session=<...>"
#   world_dovecot_add_user USER PASS   any bytes but ':' and newline
#   world_dovecot_stop             graceful, about 1 s
#   world_postfix_start MAP [MAIN.CF LINE...]
#                                  smtpd on 25 and 587 (IPv4 and IPv6) with
#                                  smtpd_relay_restrictions = permit_mynetworks,
#                                  check_client_access btree:MAP,
#                                  reject_unauth_destination; MAP.db is created
#                                  empty when missing (it must exist before
#                                  Postfix starts); WORLD_POSTFIX_LEGACY=1
#                                  puts the Turbolinux-era line in
#                                  smtpd_recipient_restrictions instead (with
#                                  smtpd_relay_restrictions empty).  Sets
#                                  WORLD_MAP, WORLD_POSTFIX_DIR (config dir),
#                                  WORLD_POSTFIX_LOG ($WORLD/postfix.log).
#                                  More instances: WORLD_POSTFIX_NS=NS (default
#                                  srv) and WORLD_POSTFIX_NAME=N (state in
#                                  $WORLD/N, log $WORLD/N.log; default pf and
#                                  postfix.log); the caller keeps each
#                                  WORLD_POSTFIX_PID and clears it before the
#                                  next start (tests/lib/fleet.sh)
#   world_postfix_reload, world_postfix_stop
#   world_map_write MAP            replace MAP(.db) with "key value" lines
#                                  from stdin (new file + rename)
#   world_map_add MAP KEY [VALUE]  add or replace one key (value: now+1800)
#   world_map_del MAP KEY
#   world_map_get MAP KEY          print the value; status 1 when absent
#   world_map_dump MAP             print every "key<TAB>value"
#
#   world_pop3_login NS ADDR [USER PASS] [--tls|--stls] [--port N]
#   world_imap_login NS ADDR [USER PASS] [--tls|--starttls] [--port N]
#   world_pop3_auth_plain NS ADDR [USER PASS] [--ir] [--tls|--stls]
#   world_imap_authenticate_plain NS ADDR [USER PASS] [--ir] [--tls|--starttls]
#                                  status 0 logged in, 1 refused by the
#                                  server, 2 no dialogue (reason on stderr)
#   world_smtp_rcpt NS ADDR PORT [--rcpt A] [--from A] [--data]
#                                  prints the RCPT reply code (250, 554 ...),
#                                  or refused / timeout / closed
#   world_port_open NS ADDR PORT   status 0 when a connection is accepted
#   world_scenario NS NAME ADDR [USER PASS] [--port N]
#                                  a named adversarial dialogue (list:
#                                  mailclient.py list); status 0 when the
#                                  server answered as the scenario intends
#   world_client NS ARGS...        tests/lib/mailclient.py ARGS... inside NS
#
# NS is srv, c1, c2 or a namespace name.  WORLD_TIMEOUT (seconds, default 3)
# bounds every client connection.  Names: WORLD_NAME (prefix drac$$),
# NS_SRV, NS_C1, NS_C2; addresses SRV4 SRV6 C1_4 C1_6 C2_4 C2_6.
#
# Addresses: server 192.0.2.1 / 2001:db8::1 on a bridge br0 in the server
# namespace; client 1 192.0.2.2 / 2001:db8::2 and client 2 192.0.2.3 /
# 2001:db8::3, each on eth0 of a veth pair whose other end is a port of br0
# (so the clients also reach each other).  IPv6 addresses are nodad.  The
# server's default routes point at one permanent neighbour address on
# sink0, a veth whose peer sink1 is also in the server namespace and drops
# what arrives: replies to spoofed flood sources (hping3 --rand-source)
# need one neighbour entry in all and vanish there, and rp_filter is off in
# the server namespace so those spoofed packets still reach it.
WORLD_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORLD_MAILCLIENT=$WORLD_LIB/mailclient.py
WORLD_PY=${WORLD_PY:-/usr/bin/python3}
WORLD=${WORLD:-}
DEMO_USER=demo
DEMO_PASS=demopass
SRV4=192.0.2.1 SRV6=2001:db8::1
C1_4=192.0.2.2 C1_6=2001:db8::2
C2_4=192.0.2.3 C2_6=2001:db8::3

srv() { ip netns exec "$NS_SRV" "$@"; }
c1() { ip netns exec "$NS_C1" "$@"; }
c2() { ip netns exec "$NS_C2" "$@"; }

world__die() { echo "world: $*" >&2; return 1; }

# world__ns NS: sets WORLD__NS to the namespace name for srv/c1/c2/NAME.
world__ns() {
	case $1 in
	srv) WORLD__NS=$NS_SRV ;;
	c1) WORLD__NS=$NS_C1 ;;
	c2) WORLD__NS=$NS_C2 ;;
	*) WORLD__NS=$1 ;;
	esac
}

world__alive() {
	local st
	[ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ] && [ -n "$st" ]
}

# world__until SECS CMD...: retry CMD every 20 ms until it succeeds.
world__until() {
	local end=$(( $(date +%s%N) + ${1%.*} * 1000000000 )); shift
	while ! "$@"; do
		[ "$(date +%s%N)" -ge "$end" ] && return 1
		sleep 0.02
	done
}

world_stop() {
	local - pid=$1 i
	set +e
	world__alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 250; i++)); do
		world__alive "$pid" || break
		sleep 0.02
	done
	if world__alive "$pid"; then
		echo "world: pid $pid ignored SIGTERM, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

world_on_cleanup() { WORLD_CLEANUP_CMDS+=("$1"); }

world_spawn() {
	local name=$1 ns
	world__ns "$2"; ns=$WORLD__NS; shift 2
	ip netns exec "$ns" "$@" </dev/null >>"$WORLD/$name.log" 2>&1 &
	WORLD_PID=$!
	WORLD_PIDS+=("$WORLD_PID")
}

world_up() {
	[ -z "$WORLD" ] || { world__die "world_up: already up in $WORLD"; return 1; }
	[ "$(id -u)" -eq 0 ] || { world__die "world_up needs root"; return 1; }
	local w=drac$$ i ns a4 a6
	while ip netns list | grep -q "^$w-"; do w=drac$$x$RANDOM; done
	WORLD_NAME=$w
	NS_SRV=$w-srv NS_C1=$w-c1 NS_C2=$w-c2
	WORLD_PIDS=() WORLD_CLEANUP_CMDS=() WORLD_NETNS=()
	WORLD_DOVECOT_PID= WORLD_POSTFIX_PID= WORLD_POSTFIX_DIR=
	WORLD=$(mktemp -d /tmp/dw.XXXXXX) || return 1
	chmod 755 "$WORLD"	# Dovecot's and Postfix's own users must get in
	# An EXIT trap the caller set before is chained; in a subshell, trap -p
	# shows the parent's traps, which do not run here.
	WORLD__PREV_EXIT=
	[ "$BASHPID" = "$$" ] && WORLD__PREV_EXIT=$(trap -p EXIT)
	trap world__on_exit EXIT
	trap 'world__on_signal INT 130' INT
	trap 'world__on_signal TERM 143' TERM

	for ns in "$NS_SRV" "$NS_C1" "$NS_C2"; do
		ip netns add "$ns" || return 1
		WORLD_NETNS+=("$ns")
		ip -n "$ns" link set lo up || return 1
	done
	ip -n "$NS_SRV" link add br0 address 02:00:c0:00:02:01 type bridge || return 1
	for i in 1 2; do
		ns=$NS_C1 a4=$C1_4 a6=$C1_6
		[ $i = 2 ] && ns=$NS_C2 a4=$C2_4 a6=$C2_6
		ip -n "$NS_SRV" link add p$i type veth peer name eth0 netns "$ns" || return 1
		ip -n "$NS_SRV" link set p$i master br0 up || return 1
		ip -n "$ns" addr add "$a4/24" dev eth0 || return 1
		ip -n "$ns" addr add "$a6/64" dev eth0 nodad || return 1
		ip -n "$ns" link set eth0 up || return 1
	done
	ip -n "$NS_SRV" addr add "$SRV4/24" dev br0 || return 1
	ip -n "$NS_SRV" addr add "$SRV6/64" dev br0 nodad || return 1
	ip -n "$NS_SRV" link set br0 up || return 1
	# Replies to spoofed sources: one permanent neighbour behind a veth
	# pair that ends in this namespace and delivers nothing (the frames
	# carry a foreign MAC and are dropped on arrival).  No dummy device:
	# the test kernels may lack the module.
	ip -n "$NS_SRV" link add sink0 type veth peer name sink1 || return 1
	ip -n "$NS_SRV" addr add 198.51.100.1/24 dev sink0 || return 1
	ip -n "$NS_SRV" addr add 2001:db8:ffff::1/64 dev sink0 nodad || return 1
	ip -n "$NS_SRV" link set sink1 up || return 1
	ip -n "$NS_SRV" link set sink0 up || return 1
	ip -n "$NS_SRV" neigh replace 198.51.100.254 lladdr 02:00:00:00:00:fe nud permanent dev sink0 || return 1
	ip -n "$NS_SRV" neigh replace 2001:db8:ffff::fe lladdr 02:00:00:00:00:fe nud permanent dev sink0 || return 1
	ip -n "$NS_SRV" route add default via 198.51.100.254 dev sink0 || return 1
	ip -n "$NS_SRV" -6 route add default via 2001:db8:ffff::fe dev sink0 || return 1
	# Spoofed sources must reach the server whatever the host's default;
	# bridge ports and the sink's far end need no IPv6 chatter.
	# (/proc/sys/net belongs to the writer's namespace; no procps needed.)
	srv bash -c 'cd /proc/sys/net &&
		for c in all default br0; do echo 0 > ipv4/conf/$c/rp_filter; done &&
		for c in p1 p2 sink1; do echo 1 > ipv6/conf/$c/disable_ipv6; done' || return 1
	# Postfix's postmap must not see the server's main.cf (inet_interfaces
	# check): it gets a config directory of its own.
	mkdir -p "$WORLD/pmconf" &&
	echo "compatibility_level = 3.6" > "$WORLD/pmconf/main.cf" &&
	world__age "$WORLD/pmconf/main.cf"
}

# Postfix programs reread a main.cf whose mtime is not yet in the past
# (every 300 ms, for up to 2.5 s): date fresh configuration files back.
world__age() {
	touch -d @$(( $(date +%s) - 10 )) "$@"
}

world__on_signal() {
	trap - "$1"
	world_down
	exit "$2"
}

world__on_exit() {
	local rc=$?
	world_down
	if [ -n "${WORLD__PREV_EXIT:-}" ]; then
		eval "set -- ${WORLD__PREV_EXIT#trap -- }"
		eval "$1"
	fi
	return $rc
}

# world_down: stop everything, delete the namespaces and $WORLD.  Safe to
# call twice; called by the trap.
world_down() {
	[ -n "${WORLD:-}" ] || return 0
	local - cmd pid ns pids
	set +e		# a caller's set -e must not cut the clean-up short
	for cmd in "${WORLD_CLEANUP_CMDS[@]}"; do
		eval "$cmd" || :
	done
	WORLD_CLEANUP_CMDS=()
	for pid in "${WORLD_PIDS[@]}"; do
		world_stop "$pid" || :
	done
	WORLD_PIDS=()
	# Dovecot's master lingers 1 s after SIGTERM; at teardown its log
	# no longer matters, so it is killed and its children swept below.
	if [ -n "${WORLD_DOVECOT_PID:-}" ]; then
		kill -KILL "$WORLD_DOVECOT_PID" 2>/dev/null
		wait "$WORLD_DOVECOT_PID" 2>/dev/null
		WORLD_DOVECOT_PID=
	fi
	[ -n "${WORLD_POSTFIX_PID:-}" ] && { world_postfix_stop || :; }
	# Anything still running in our namespaces was started by this world.
	for ns in "${WORLD_NETNS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
	done
	for ns in "${WORLD_NETNS[@]}"; do
		world__until 2 world__netns_empty "$ns" || {
			pids=$(ip netns pids "$ns" 2>/dev/null)
			[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		}
		ip netns del "$ns" 2>/dev/null || :
	done
	WORLD_NETNS=()
	case $WORLD in /tmp/dw.*) rm -rf "$WORLD" ;; esac
	WORLD=
	return 0
}

world__netns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }

# world__listening NS PORT...: each PORT has an IPv4 and an IPv6 listener
# (wildcard or the server's address).
world__listening() {
	local out p
	out=$(ip netns exec "$1" ss -Hltn 2>/dev/null | awk '{ print $4 }'); shift
	for p; do
		grep -qxE "(0\.0\.0\.0|192\.0\.2\.1):$p" <<<"$out" || return 1
		grep -qxE "\[(::|2001:db8::1)\]:$p" <<<"$out" || return 1
	done
}

world_wait_log() {
	world__until "${3:-5}" grep -qsE -- "$2" "$1"
}

# --- TLS -------------------------------------------------------------------

world_tls_cert() {
	[ -s "$WORLD/tls/cert.pem" ] && return 0
	mkdir -p "$WORLD/tls" && chmod 700 "$WORLD/tls" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 2 -subj /CN=mx.example.org \
		-addext subjectAltName=DNS:mx.example.org,IP:$SRV4,IP:$SRV6 \
		-keyout "$WORLD/tls/key.pem" -out "$WORLD/tls/cert.pem" \
		>/dev/null 2>&1 || { world__die "openssl could not make a certificate"; return 1; }
}

# --- Dovecot ---------------------------------------------------------------

world_dovecot_start() {
	local d=$WORLD/dc tls=${WORLD_TLS:-1} ssl
	[ -z "$WORLD_DOVECOT_PID" ] || { world__die "dovecot already running"; return 1; }
	mkdir -p "$d/run" "$d/state" "$d/home/$DEMO_USER" || return 1
	chown 65534:65534 "$d/home/$DEMO_USER"
	[ -e "$d/users" ] || world_dovecot_add_user "$DEMO_USER" "$DEMO_PASS" || return 1
	WORLD_DOVECOT_LOG=$WORLD/dovecot.log
	WORLD_DOVECOT_CONF=$d/dovecot.conf
	if [ "$tls" = 1 ]; then
		world_tls_cert || return 1
		ssl="ssl = yes
ssl_cert = <$WORLD/tls/cert.pem
ssl_key = <$WORLD/tls/key.pem"
	else
		ssl="ssl = no"
	fi
	cat > "$WORLD_DOVECOT_CONF" <<EOF
# generated by tests/lib/world.sh
base_dir = $d/run
state_dir = $d/state
instance_name = $WORLD_NAME
log_path = $WORLD_DOVECOT_LOG
protocols = pop3 imap
listen = *, ::
$ssl
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
# Any byte in user names: the log hook's tests log in as "x, rip=192.0.2.9".
auth_username_chars =
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/users
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = $([ "$tls" = 1 ] && echo 995 || echo 0)
    ssl = yes
  }
}
# No anvil penalty socket: failed logins from one address are not slowed
# down (2, 4, 8 ... 15 s), which the adversarial tests would trip over.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = $([ "$tls" = 1 ] && echo 993 || echo 0)
    ssl = yes
  }
}
${1:-}
EOF
	local ports="110 143"
	[ "$tls" = 1 ] && ports="110 143 995 993"
	ip netns exec "$NS_SRV" dovecot -F -c "$WORLD_DOVECOT_CONF" \
		</dev/null >>"$WORLD/dovecot.out" 2>&1 &
	WORLD_DOVECOT_PID=$!
	if ! world__until 10 world__listening "$NS_SRV" $ports; then
		world__die "dovecot did not come up:"
		tail -5 "$WORLD/dovecot.out" "$WORLD_DOVECOT_LOG" >&2 2>/dev/null
		return 1
	fi
}

# world_dovecot_add_user USER PASS: Dovecot rereads the file when it
# changes, but stats it at most once a second: with Dovecot running, this
# returns only when the next second has begun (up to 1 s).
world_dovecot_add_user() {
	local d=$WORLD/dc home now
	case $1$2 in *:*|*$'\n'*) world__die "no ':' or newline in users"; return 1 ;; esac
	home=$d/home/${1//\//_}
	mkdir -p "$home" && chown 65534:65534 "$home" || return 1
	now=$(date +%s)
	printf '%s:{PLAIN}%s:65534:65534::%s::\n' "$1" "$2" "$home" >> "$d/users" || return 1
	if [ -n "$WORLD_DOVECOT_PID" ]; then
		while [ "$(date +%s)" = "$now" ]; do sleep 0.05; done
	fi
}

# world_dovecot_stop: SIGTERM to the master, which takes about 1 s to exit.
world_dovecot_stop() {
	[ -n "$WORLD_DOVECOT_PID" ] || return 0
	world_stop "$WORLD_DOVECOT_PID"
	WORLD_DOVECOT_PID=
}

# --- Postfix ---------------------------------------------------------------

world_postfix_start() {
	local map=${1:-} p=$WORLD/${WORLD_POSTFIX_NAME:-pf} line ns
	[ -n "$map" ] || { world__die "usage: world_postfix_start MAP"; return 1; }
	world__ns "${WORLD_POSTFIX_NS:-srv}"; ns=$WORLD__NS
	[ -z "$WORLD_POSTFIX_PID" ] || { world__die "postfix already running"; return 1; }
	shift
	case $map in /*) ;; *) map=$PWD/$map ;; esac
	case $map in *.db) map=${map%.db} ;; esac
	WORLD_MAP=$map
	[ -e "$map.db" ] || world_map_write "$map" </dev/null || return 1
	mkdir -p "$p/etc" "$p/queue/pid" "$p/data" || return 1
	chown postfix: "$p/data" && chmod 700 "$p/data" || return 1
	# The queue directories as /etc/postfix/postfix-files wants them, and
	# quick-start: postfix-script then skips post-install and the checks,
	# which take 4 s on a fresh queue.
	local q
	for q in active bounce corrupt defer deferred flush hold incoming \
		private saved trace; do
		mkdir -p "$p/queue/$q" && chown postfix: "$p/queue/$q" &&
		chmod 700 "$p/queue/$q" || return 1
	done
	mkdir -p "$p/queue/maildrop" "$p/queue/public" &&
	chown postfix:postdrop "$p/queue/maildrop" "$p/queue/public" &&
	chmod 730 "$p/queue/maildrop" && chmod 710 "$p/queue/public" || return 1
	touch "$p/queue/quick-start"
	WORLD_POSTFIX_DIR=$p/etc
	WORLD_POSTFIX_LOG=$WORLD/postfix.log
	[ -n "${WORLD_POSTFIX_NAME:-}" ] && WORLD_POSTFIX_LOG=$WORLD/$WORLD_POSTFIX_NAME.log
	local relay="smtpd_relay_restrictions = permit_mynetworks, check_client_access btree:$map, reject_unauth_destination
smtpd_recipient_restrictions ="
	if [ "${WORLD_POSTFIX_LEGACY:-0}" = 1 ]; then
		relay="smtpd_relay_restrictions =
smtpd_recipient_restrictions = permit_mynetworks, check_client_access btree:$map, check_relay_domains"
	fi
	cat > "$p/etc/main.cf" <<EOF
# generated by tests/lib/world.sh
compatibility_level = 3.6
queue_directory = $p/queue
data_directory = $p/data
maillog_file = $WORLD_POSTFIX_LOG
maillog_file_prefixes = $WORLD
myhostname = mx.example.org
mydomain = example.org
mydestination =
relay_domains =
inet_interfaces = all
inet_protocols = all
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_host_lookup = native
alias_maps =
alias_database =
local_recipient_maps =
default_transport = discard:test
relay_transport = discard:test
local_transport = discard:test
biff = no
smtpd_log_access_permit_actions = static:all
$relay
EOF
	for line; do echo "$line" >> "$p/etc/main.cf"; done
	world__age "$p/etc/main.cf"
	cat > "$p/etc/master.cf" <<'EOF'
# generated by tests/lib/world.sh: no chroot anywhere
25        inet  n       -       n       -       -       smtpd
587       inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	world__age "$p/etc/master.cf"
	if ! ip netns exec "$ns" postfix -c "$p/etc" start >>"$WORLD/postfix.out" 2>&1; then
		world__die "postfix did not start:"
		tail -5 "$WORLD/postfix.out" "$WORLD_POSTFIX_LOG" >&2 2>/dev/null
		return 1
	fi
	world__until 5 test -s "$p/queue/pid/master.pid" || return 1
	WORLD_POSTFIX_PID=$(awk '{ print $1; exit }' "$p/queue/pid/master.pid")
	if ! world__until 10 world__listening "$ns" 25 587; then
		world__die "postfix does not listen on 25 and 587:"
		tail -5 "$WORLD_POSTFIX_LOG" >&2 2>/dev/null
		return 1
	fi
}

# world_postfix_stop: SIGTERM to the master by its pid; its children exit
# with it.
world_postfix_stop() {
	[ -n "$WORLD_POSTFIX_PID" ] || return 0
	world_stop "$WORLD_POSTFIX_PID"
	WORLD_POSTFIX_PID=
}

world_postfix_reload() {
	[ -n "$WORLD_POSTFIX_PID" ] && kill -HUP "$WORLD_POSTFIX_PID"
}

# --- the btree map -------------------------------------------------------------
# For maps the test owns.  Once dracd writes a map, only read it
# (world_map_get, world_map_dump): these helpers rebuild MAP.db from the
# text file MAP and would drop dracd's entries.

world__mapname() {
	WORLD__MAP=$1
	case $WORLD__MAP in /*) ;; *) WORLD__MAP=$PWD/$WORLD__MAP ;; esac
	case $WORLD__MAP in *.db) WORLD__MAP=${WORLD__MAP%.db} ;; esac
}

# Build a new table beside the old one and rename it into place: Postfix
# sees st_nlink == 0 and restarts smtpd; open sessions keep the old file.
world__map_install() {	# MAP: from MAP.new (text)
	local map=$1 tmp=$1.w$$
	mv -f "$map.new" "$tmp" &&
	postmap -c "$WORLD/pmconf" "btree:$tmp" &&
	mv -f "$tmp.db" "$map.db" &&
	mv -f "$tmp" "$map"
}

world_map_write() {
	world__mapname "$1"
	local map=$WORLD__MAP
	(
		flock 9 || exit 1
		cat > "$map.new" && world__map_install "$map"
	) 9>"$map.db.lock"
}

world_map_add() {
	world__mapname "$1"
	local map=$WORLD__MAP key=${2,,} value=${3:-$(( $(date +%s) + 1800 ))}
	(
		flock 9 || exit 1
		{
			[ -e "$map" ] && awk -v k="$key" '$1 != k' "$map"
			printf '%s %s\n' "$key" "$value"
		} > "$map.new" && world__map_install "$map"
	) 9>"$map.db.lock"
}

world_map_del() {
	world__mapname "$1"
	local map=$WORLD__MAP key=${2,,}
	(
		flock 9 || exit 1
		{ [ -e "$map" ] && awk -v k="$key" '$1 != k' "$map"; } > "$map.new"
		world__map_install "$map"
	) 9>"$map.db.lock"
}

world_map_get() {
	world__mapname "$1"
	postmap -c "$WORLD/pmconf" -q "${2,,}" "btree:$WORLD__MAP"
}

world_map_dump() {
	world__mapname "$1"
	postmap -c "$WORLD/pmconf" -s "btree:$WORLD__MAP"
}

# --- clients -------------------------------------------------------------------

world_client() {
	world__ns "$1"; shift
	ip netns exec "$WORLD__NS" "$WORLD_PY" "$WORLD_MAILCLIENT" \
		--timeout "${WORLD_TIMEOUT:-3}" "$@"
}

# world__login SUBCMD NS ADDR [USER PASS] [OPTIONS]
world__login() {
	local sub=$1 ns=$2 addr=$3 user=$DEMO_USER pass=$DEMO_PASS
	shift 3
	if [ $# -ge 2 ] && [ "${1#-}" = "$1" ]; then
		user=$1 pass=$2; shift 2
	fi
	world_client "$ns" "$sub" "$addr" "$user" "$pass" "$@"
}

world_pop3_login() { world__login pop3-login "$@"; }
world_imap_login() { world__login imap-login "$@"; }
world_pop3_auth_plain() { world__login pop3-auth-plain "$@"; }
world_imap_authenticate_plain() { world__login imap-auth-plain "$@"; }

world_smtp_rcpt() {
	local ns=$1 addr=$2 port=$3; shift 3
	world_client "$ns" smtp-rcpt "$addr" "$port" "$@" || :
}

world_port_open() { world_client "$1" port-open "$2" "$3" >/dev/null; }

world_scenario() {
	local ns=$1 name=$2 addr=$3; shift 3
	world_client "$ns" scenario "$name" "$addr" "$@"
}
