# tests/lib/sharelab.sh - the lab of the fleet attack tests
# (tests/ns/share_attack*.sh): Redis on a unix socket in $LAB (unix
# sockets cross namespaces), hosts as network namespaces with a dracd
# each (DRAC_TAP=no), and the helpers that act and look.  Set
# SHARELAB_TAG (a few letters) first: it names $LAB and the namespaces.
# After tests/lib/t.sh.
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || skip_all "needs redis-server"
[ -x "$BIN/dracd" ] || skip_all "dracd not built"

LAB=$(mktemp -d "/tmp/sharelab-$SHARELAB_TAG.XXXXXX")
chmod 755 "$LAB"
NSP=$SHARELAB_TAG$$
HOSTS=() PIDS=() REDIS_PID=
down() {
	local n p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for n in "${HOSTS[@]}"; do stop_host "$n"; ip netns del "$NSP$n" 2>/dev/null; done
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$LAB"
}
trap down EXIT

redis_up() {
	redis-server --port 0 --unixsocket "$LAB/redis.sock" --unixsocketperm 777 --save '' \
		--appendonly no --dir "$LAB" >"$LAB/redis.log" 2>&1 &
	REDIS_PID=$!
	eventually 5 rc ping >/dev/null 2>&1
}
rc() { redis-cli -s "$LAB/redis.sock" "$@"; }
# host NAME SHARE [SETTING=VALUE...]: a namespace and a dracd in it
host() {
	local n=$1 share=$2 l
	shift 2
	ip netns add "$NSP$n" && ip -n "$NSP$n" link set lo up || return 1
	cat >"$LAB/$n.settings" <<EOS
DRAC_TAP="no"
DRAC_MAP="$LAB/$n.db"
DRAC_PIDFILE="$LAB/$n.pid"
DRAC_CONTROL="$LAB/$n.sock"
DRAC_SHARE="$share"
EXPIRE_TIME="10m"
EOS
	for l in "$@"; do echo "$l" >>"$LAB/$n.settings"; done
	HOSTS+=("$n")
	ip netns exec "$NSP$n" "$BIN/dracd" -f -c "$LAB/$n.settings" >>"$LAB/$n.log" 2>&1 &
	eval "PID_$n=$!"
	eventually 5 grep -q "ready (pid $!)" "$LAB/$n.log"
}
pid_of() { eval echo "\${PID_$1:-}"; }
stop_host() {
	local p
	p=$(pid_of "$1")
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for _ in $(seq 100); do running "$p" || break; sleep 0.05; done
	if running "$p"; then echo "# dracd $1 ignored SIGTERM for 5 s"; kill -KILL "$p"; fi
	wait "$p" 2>/dev/null
	eval "PID_$1="
}
# alive, not a zombie waiting to be reaped
running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && running "$p"; }
hd() { local n=$1; shift; ip netns exec "$NSP$n" "$BIN/drac" -c "$LAB/$n.settings" "$@"; }
hnft() { local n=$1; shift; ip netns exec "$NSP$n" nft "$@"; }
has() {
	local set=authed
	[[ $2 == *:* ]] && set=authed6
	hnft "$1" list set inet drac $set 2>/dev/null | grep -qw -- "$2"
}
lacks() { ! has "$@"; }
count() { hnft "$1" list set inet drac authed 2>/dev/null | grep -oE '198\.18\.[0-9]+\.[0-9]+' | wc -l; }
st() { hd "$1" status 2>/dev/null | awk -v k="share.$2" '$1 == k { print $2 }'; }
is() { [ "$(st "$1" "$2")" = "$3" ]; }
now_ms() { date +%s%3N; }
# publish MSG...: several channel messages in one script, so that they
# reach every subscriber back to back (as two hosts' messages can).
publish() {
	local script="" i=1 m
	for m in "$@"; do script+="redis.call('PUBLISH','drac:events',ARGV[$i]);"; i=$((i + 1)); done
	rc eval "$script return 1" 0 "$@" >/dev/null
}
OTHER=00000000000000aa # a host id no dracd here has
