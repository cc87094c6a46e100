# tests/lib/rpcbind.sh - namespaces for the legacy DRAC RPC tests
# (tests/ns/rpc*.sh, after tests/lib/t.sh): a server namespace S
# (192.0.2.1, 2001:db8::1 on bridge br0), an allowed client A (.2, ::2)
# and a refused one R (.3, ::3), and rpcbind in a private mount namespace
# of S with its own /run, so the host's rpcbind is never touched.
#
#   rpc_need MSG FILE...    skip_all unless rpcbind is installed, and
#                           with MSG unless each $BIN/FILE is built
#   PY, RAW                 python3, tests/lib/rpcraw.py
#   rpc_world PREFIX TAG    namespaces PREFIX{s,a,r}$$ in S A R, scratch
#                           dir W=/tmp/drac-TAG.XXXXXX, the EXIT trap
#                           (stops SRVPID, DPID and rpcbind; KEEP=1 keeps W)
#   inA|inR|inS CMD...      run CMD inside that namespace
#   in_set SET ADDR         ADDR is in nft set inet drac SET of S
#   RPCBIND_RUN             words that run a CMD after them in a fresh
#                           private mount namespace where rpcbind listens on
#                           /run/rpcbind.sock (pid in $W/rpcbind.pid):
#                           ip netns exec $S "${RPCBIND_RUN[@]}" CMD... &
#                           ($! is CMD's pid; not inS, a function forks)
#   start_dracd NAME [-o KEY=VALUE]...   dracd with RPC and rpcbind in S,
#                           allow file $W/allow; sets SRVPID and PORT
#   stop_dracd              stops dracd and its rpcbind
#   status NAME PYEXPR      PYEXPR on d = dracd NAME's status --json daemon
#   start_forwarder         the POP host's dracd in A (status name a):
#                           forwards logins appended to $W/mail.log (made
#                           empty) to the servers in $W/fwd.conf; sets DPID
PY=/usr/bin/python3
RAW=$TOP/tests/lib/rpcraw.py
rpc_need() {
	local msg=$1 f; shift
	command -v rpcbind >/dev/null || skip_all "rpcbind not installed"
	for f; do [ -x "$BIN/$f" ] || skip_all "$msg"; done
}
rpc_world() {
	S=${1}s$$ A=${1}a$$ R=${1}r$$
	W=$(mktemp -d "/tmp/drac-$2.XXXXXX")
	SRVPID= DPID=
	trap rpc__cleanup EXIT
	ip netns add $S && ip netns add $A && ip netns add $R || skip_all "cannot create namespaces"
	ip -n $S link add br0 type bridge
	ip -n $S link set lo up
	ip -n $S link set br0 up
	ip -n $S addr add 192.0.2.1/24 brd 192.0.2.255 dev br0
	ip -n $S addr add 2001:db8::1/64 dev br0 nodad
	local i=2 n
	for n in $A $R; do
		ip -n $S link add v$i type veth peer name eth0 netns $n
		ip -n $S link set v$i master br0 up
		ip -n $n link set lo up
		ip -n $n link set eth0 up
		ip -n $n addr add 192.0.2.$i/24 brd 192.0.2.255 dev eth0
		ip -n $n addr add 2001:db8::$i/64 dev eth0 nodad
		i=$((i + 1))
	done
	RPCBIND_RUN=(unshare -m --propagation private bash -c '
		mount -t tmpfs tmpfs /run || exit 1
		rpcbind -f -w & echo $! > "$1/rpcbind.pid"
		for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.05; done
		shift; exec "$@"' _ "$W")
}
rpc__cleanup() {
	# CONT first: a test may leave its server stopped (SIGSTOP).
	for p in $SRVPID $DPID; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	[ -s "$W/rpcbind.pid" ] && kill "$(cat "$W/rpcbind.pid")" 2>/dev/null
	sleep 0.2
	for n in $S $A $R; do ip netns del "$n" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
inA() { ip netns exec $A "$@"; }
inR() { ip netns exec $R "$@"; }
inS() { ip netns exec $S "$@"; }
in_set() { inS nft list set inet drac "$1" 2>/dev/null | grep -qw -- "$2"; }

start_dracd() {
	local name=$1; shift
	: > "$W/$name.err"
	# not inS: $! must be dracd's pid, a function would fork a subshell
	ip netns exec $S "${RPCBIND_RUN[@]}" "$BIN/dracd" -f -c /dev/null -o DRAC_TAP=no \
		-o DRAC_MAP="$W/$name.db" -o DRAC_PIDFILE="$W/$name.pid" -o DRAC_CONTROL="$W/$name.ctl" \
		-o DRAC_RPC=yes -o DRAC_ALLOW="$W/allow" "$@" > "$W/$name.out" 2> "$W/$name.err" &
	SRVPID=$!
	eventually 5 grep -q 'ready' "$W/$name.err" || { sed 's/^/# /' "$W/$name.err"; return 1; }
	PORT=$(sed -n 's/.*DRAC program 900101 versions 1 and 2 on port \([0-9]*\).*/\1/p' "$W/$name.err" | tail -1)
	[ -n "$PORT" ]
}
stop_dracd() {
	kill $SRVPID 2>/dev/null; eventually 3 bash -c "! kill -0 $SRVPID 2>/dev/null"; SRVPID=
	[ -s "$W/rpcbind.pid" ] && kill "$(cat "$W/rpcbind.pid")" 2>/dev/null; : > "$W/rpcbind.pid"
	sleep 0.2
}
status() { # status NAME PYTHON-EXPR on the daemon's JSON
	printf 'DRAC_CONTROL="%s"\n' "$W/$1.ctl" > "$W/$1.settings"
	inS "$BIN/drac" -c "$W/$1.settings" status --json |
		$PY -c "import json,sys; d=json.load(sys.stdin)['daemon']; print($2)"
}
start_forwarder() {
	: > "$W/mail.log"
	# not inA: $! must be dracd's pid, a function would fork a subshell
	ip netns exec $A "$BIN/dracd" -f -c /dev/null -o DRAC_TAP=no -o DRAC_MAP="$W/a.db" \
		-o DRAC_PIDFILE="$W/a.pid" -o DRAC_CONTROL="$W/a.ctl" -o DRAC_FORWARD=yes \
		-o DRAC_SERVERS="$W/fwd.conf" -o DRAC_LOGHOOK_FILE="$W/mail.log" \
		> /dev/null 2> "$W/a.err" &
	DPID=$!
	eventually 5 grep -q ready "$W/a.err"
	sleep 0.3
}
