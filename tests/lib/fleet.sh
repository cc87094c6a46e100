# tests/lib/fleet.sh - a fleet of three dracd hosts sharing grants through
# a real Redis (issue 14), for tests/ns/share.sh.  Sourced after
# tests/lib/t.sh, tests/lib/world.sh and tests/lib/redis.sh.
#
# One bridge br0 (in world.sh's server namespace), 192.0.2.0/24 and
# 2001:db8::/64, IPv6 addresses nodad:
#   A   world.sh's srv namespace, 192.0.2.1  2001:db8::1   real Dovecot
#       (POP3 110, IMAP 143) and dracd with the tap
#   B   $NS_B,                    192.0.2.11 2001:db8::11  real Postfix
#       (check_client_access btree:$WORLD/hostB/dracd) and dracd, DRAC_TAP=no
#   C   $NS_C,                    192.0.2.12 2001:db8::12  the same as B
#   rd  $NS_RD,                   192.0.2.20 2001:db8::20  redis-server
#   c1  192.0.2.2 2001:db8::2, c2 192.0.2.3 2001:db8::3    clients (world.sh)
#
#   fleet_up                 world_up and the namespaces B, C, rd
#   fleet_ns X               print the namespace of host X (A B C rd c1 c2)
#   inA|inB|inC|inrd CMD...  CMD inside that namespace
#   fleet_settings X [LINE...]
#                            write $WORLD/hostX/dracd.settings: map, pid
#                            file, control socket under $WORLD/hostX/,
#                            DRAC_TAP=no on B and C, the lines of the array
#                            FLEET_COMMON (set by the test: EXPIRE_TIME,
#                            DRAC_SHARE ...), then each LINE (later lines
#                            win in dracd's settings files)
#   fleet_dracd_start X [ARGS...]
#                            dracd -f -c that file ARGS in X's namespace,
#                            log $WORLD/dracdX.log, ready when it says
#                            "ready (pid N)"; FLEET_PID[X]
#   fleet_dracd_stop X       TERM by pid and wait
#   fleet_alive X            dracd of X still runs
#   fleet_postfix_start X    a private Postfix in X's namespace on X's map
#                            (the map must exist: start dracd first);
#                            log $WORLD/pfX.log
#   fdrac X ARGS...          the drac command for host X
#   fstatus X KEY            value of share.KEY in `drac status` of X
#   fgranted X ADDR          ADDR is in X's set authed/authed6 now
#   fin_map X ADDR           postmap -q finds ADDR in X's map
#   fexpires_ms X ADDR       milliseconds left on ADDR's element in X's set
#   ftimeout_ms X ADDR       the element's timeout, in milliseconds
#   frelay CLIENT X [FAM]    RCPT reply code from X's Postfix (port 25) for
#                            a relay attempt from CLIENT (c1, c2) over IPv4
#                            (FAM 4, default) or IPv6 (FAM 6)
HA4=192.0.2.1 HA6=2001:db8::1
HB4=192.0.2.11 HB6=2001:db8::11
HC4=192.0.2.12 HC6=2001:db8::12
RD4=192.0.2.20 RD6=2001:db8::20
declare -A FLEET_PID=() FLEET_PF_PID=()
FLEET_COMMON=()

fleet_ns() {
	case $1 in
	A) echo "$NS_SRV" ;;
	B) echo "$NS_B" ;;
	C) echo "$NS_C" ;;
	rd) echo "$NS_RD" ;;
	c1) echo "$NS_C1" ;;
	c2) echo "$NS_C2" ;;
	*) echo "$1" ;;
	esac
}
inA() { ip netns exec "$NS_SRV" "$@"; }
inB() { ip netns exec "$NS_B" "$@"; }
inC() { ip netns exec "$NS_C" "$@"; }
inrd() { ip netns exec "$NS_RD" "$@"; }

fleet_up() {
	world_up || return 1
	NS_B=$WORLD_NAME-b NS_C=$WORLD_NAME-c NS_RD=$WORLD_NAME-rd
	local ns i=0 a4 a6 port
	for ns in "$NS_B" "$NS_C" "$NS_RD"; do
		i=$((i + 1))
		case $ns in
		"$NS_B") a4=$HB4 a6=$HB6 port=pb ;;
		"$NS_C") a4=$HC4 a6=$HC6 port=pc ;;
		*) a4=$RD4 a6=$RD6 port=pr ;;
		esac
		ip netns add "$ns" || return 1
		WORLD_NETNS+=("$ns")
		ip -n "$ns" link set lo up || return 1
		ip -n "$NS_SRV" link add $port type veth peer name eth0 netns "$ns" || return 1
		ip -n "$NS_SRV" link set $port master br0 up || return 1
		ip -n "$ns" addr add "$a4/24" dev eth0 || return 1
		ip -n "$ns" addr add "$a6/64" dev eth0 nodad || return 1
		ip -n "$ns" link set eth0 up || return 1
		srv bash -c "echo 1 > /proc/sys/net/ipv6/conf/$port/disable_ipv6" || return 1
	done
	mkdir -p "$WORLD/hostA" "$WORLD/hostB" "$WORLD/hostC" &&
	chmod 755 "$WORLD/hostA" "$WORLD/hostB" "$WORLD/hostC"
}

fleet_settings() {
	local x=$1 d=$WORLD/host$1 line; shift
	{
		echo "# written by tests/lib/fleet.sh for host $x"
		echo "DRAC_MAP=\"$d/dracd.db\""
		echo "DRAC_PIDFILE=\"$d/dracd.pid\""
		echo "DRAC_CONTROL=\"$d/dracd.sock\""
		[ "$x" = A ] || echo 'DRAC_TAP="no"'
		for line in "${FLEET_COMMON[@]}" "$@"; do echo "$line"; done
	} > "$d/dracd.settings"
}

fleet_dracd_start() {
	local x=$1 pid; shift
	[ -e "$WORLD/host$x/dracd.settings" ] || fleet_settings "$x"
	world_spawn "dracd$x" "$(fleet_ns "$x")" "$BIN/dracd" -f -c "$WORLD/host$x/dracd.settings" "$@"
	pid=$WORLD_PID
	FLEET_PID[$x]=$pid
	world_wait_log "$WORLD/dracd$x.log" "ready \\(pid $pid\\)" 10 || {
		echo "# dracd $x did not start:"; tail -20 "$WORLD/dracd$x.log" | sed 's/^/#   /'; return 1; }
}

fleet_dracd_stop() {
	[ -n "${FLEET_PID[$1]:-}" ] && world_stop "${FLEET_PID[$1]}"
	FLEET_PID[$1]=
}

fleet_alive() { [ -n "${FLEET_PID[$1]:-}" ] && world__alive "${FLEET_PID[$1]}"; }

fleet_postfix_start() {
	local x=$1
	WORLD_POSTFIX_PID=
	WORLD_POSTFIX_NS=$(fleet_ns "$x") WORLD_POSTFIX_NAME=pf$x \
		world_postfix_start "$WORLD/host$x/dracd" || return 1
	FLEET_PF_PID[$x]=$WORLD_POSTFIX_PID
	WORLD_PIDS+=("$WORLD_POSTFIX_PID")
	WORLD_POSTFIX_PID=
}

fdrac() {
	local x=$1; shift
	ip netns exec "$(fleet_ns "$x")" "$BIN/drac" -c "$WORLD/host$x/dracd.settings" "$@"
}

# fstatus X KEY: the value of share.KEY in drac status ("  share.KEY   VALUE",
# or "share.KEY: VALUE"; quotes around strings removed).
fstatus() {
	fdrac "$1" status 2>/dev/null |
		sed -En "s/^[[:space:]]*share\.$2(:[[:space:]]*|[[:space:]]+|:?\$)//p" |
		head -1 | sed 's/^"\(.*\)"$/\1/'
}
# fstatus_is X KEY VALUE
fstatus_is() { [ "$(fstatus "$1" "$2")" = "$3" ]; }
# fstatus_ge X KEY N
fstatus_ge() { local v; v=$(fstatus "$1" "$2"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge "$3" ]; }

fset_of() { case $1 in *:*) echo authed6 ;; *) echo authed ;; esac; }

# The element line of ADDR in X's set: "ADDR timeout 10m expires 9m58s12ms".
felement() {
	ip netns exec "$(fleet_ns "$1")" nft list set inet drac "$(fset_of "$2")" 2>/dev/null |
		tr -d '\n' | tr ',{}' '\n\n\n' | sed 's/^[[:space:]]*//' |
		awk -v a="$2" '$1 == a { print; exit }'
}
fgranted() { [ -n "$(felement "$1" "$2")" ]; }
fnot_granted() { ! fgranted "$1" "$2"; }
fin_map() {
	ip netns exec "$(fleet_ns "$1")" postmap -c "$WORLD/pmconf" -q "$2" \
		"btree:$WORLD/host$1/dracd" >/dev/null 2>&1
}
fnot_in_map() { ! fin_map "$1" "$2"; }

# nft durations (1d2h3m4s5ms) in milliseconds
fdur_ms() {
	local s=$1 t=0 n u
	while [[ $s =~ ^([0-9]+)(ms|d|h|m|s)(.*)$ ]]; do
		n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
		case $u in
		d) t=$((t + n * 86400000)) ;;
		h) t=$((t + n * 3600000)) ;;
		m) t=$((t + n * 60000)) ;;
		s) t=$((t + n * 1000)) ;;
		ms) t=$((t + n)) ;;
		esac
	done
	[ -z "$s" ] || return 1
	echo "$t"
}
fexpires_ms() {
	local e
	e=$(felement "$1" "$2" | sed -n 's/.* expires \([0-9dhms]*\).*/\1/p')
	[ -n "$e" ] && fdur_ms "$e"
}
ftimeout_ms() {
	local e
	e=$(felement "$1" "$2" | sed -n 's/.* timeout \([0-9dhms]*\).*/\1/p')
	[ -n "$e" ] && fdur_ms "$e"
}

frelay() {
	local cl=$1 x=$2 fam=${3:-4} a
	case $x$fam in
	A4) a=$HA4 ;; A6) a=$HA6 ;;
	B4) a=$HB4 ;; B6) a=$HB6 ;;
	C4) a=$HC4 ;; C6) a=$HC6 ;;
	esac
	world_smtp_rcpt "$cl" "$a" 25
}
