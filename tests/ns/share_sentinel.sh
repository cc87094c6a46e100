#!/bin/bash
# Fleet sharing behind Redis Sentinel (issue 14, DRAC_SHARE_SENTINELS):
# real redis-servers and Sentinels, each in its own network namespace on
# one bridge, and two dracd hosts (DRAC_TAP=no) that find the master
# through the Sentinels.
#
#   br   the bridge br0
#   m    192.0.2.30  redis-server, the first master
#   r    192.0.2.31  redis-server --replicaof 192.0.2.30 6379
#   s1-3 192.0.2.32-34  redis-server sentinel.conf --sentinel (quorum 2,
#        down-after 1000 ms, failover-timeout 5000 ms)
#   dead 192.0.2.37  a namespace that drops every packet it is sent
#   h1   192.0.2.35  dracd, Sentinels "dead s1 s2 s3": the first never answers
#   h2   192.0.2.36  dracd, Sentinels "s1:26380 s2 s3": the first refuses
#
#   a  both hosts connect to the master through the Sentinels (also past a
#      first Sentinel that hangs or refuses); drac add on h1 reaches h2
#   b  the master is killed (SIGKILL): the Sentinels promote the replica,
#      both dracd reconnect to it; a drac del on h2 while it is cut off
#      reaches h1 afterwards; a new drac add on h1 reaches h2
#   c  the old master comes back as a replica, the new one is frozen
#      (SIGSTOP: no RST, dracd notices only by its PING timeout): the
#      Sentinels fail back, both dracd follow; a drac del on h2 sent
#      into the frozen connection is not lost
#   d  a planned failover (SENTINEL FAILOVER) with the old master left
#      running as a replica: both dracd leave it and follow
# Bounds are loose (the machine is shared); measured times are printed.
. "$(dirname "$0")/../lib/t.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	skip_all "redis-server and redis-cli not installed (apt-get install redis-server)"
[ -x "$BIN/dracd" ] && [ -x "$BIN/drac" ] || skip_all "build first (make all)"

LAB=$(mktemp -d /tmp/sentinel.XXXXXX)
chmod 755 "$LAB"
NSP=snt$$-
NETNS=() RPIDS=() DPIDS=() STOPPED=()
declare -A PID=()
FAILOVER_S=20	# seconds for the Sentinels to promote and dracd to follow
PROP=3		# seconds for a grant or revocation to reach the other host

down() {
	local p n
	for p in "${STOPPED[@]}"; do kill -CONT "$p" 2>/dev/null; done
	# dracd by TERM; Redis without persistence by KILL (TERM would wait
	# up to 10 s for its replicas)
	for p in "${DPIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${RPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	for _ in $(seq 50); do
		n=0
		for p in "${DPIDS[@]}"; do running "$p" && n=1; done
		[ $n = 0 ] && break
		sleep 0.1
	done
	for p in "${DPIDS[@]}"; do
		running "$p" && { echo "# dracd $p ignored SIGTERM for 5 s"; kill -KILL "$p"; }
	done
	wait 2>/dev/null
	for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
	if [ "$T_FAILED" -gt 0 ] || [ -n "${SHOW_LOGS:-}" ]; then
		for n in h1 h2; do
			echo "# --- dracd $n log (last 25 lines):"
			tail -25 "$LAB/$n.log" 2>/dev/null | sed 's/^/#   /'
		done
		for n in s1 m r; do
			echo "# --- $n log (last 15 lines):"
			tail -15 "$LAB/$n/log" 2>/dev/null | sed 's/^/#   /'
		done
	fi
	rm -rf "$LAB"
}
trap down EXIT

running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
in_ns() { local n=$1; shift; ip netns exec "$NSP$n" "$@"; }

declare -A IP=([m]=192.0.2.30 [r]=192.0.2.31 [s1]=192.0.2.32 [s2]=192.0.2.33
	[s3]=192.0.2.34 [h1]=192.0.2.35 [h2]=192.0.2.36 [dead]=192.0.2.37)

# --- the network ------------------------------------------------------------
net_up() {
	local n i=0
	ip netns add "${NSP}br" || return 1
	NETNS+=("${NSP}br")
	in_ns br ip link add br0 type bridge && in_ns br ip link set br0 up || return 1
	for n in m r s1 s2 s3 h1 h2 dead; do
		i=$((i + 1))
		ip netns add "$NSP$n" || return 1
		NETNS+=("$NSP$n")
		ip -n "$NSP$n" link set lo up &&
		ip -n "${NSP}br" link add "p$i" type veth peer name eth0 netns "$NSP$n" &&
		ip -n "${NSP}br" link set "p$i" master br0 up &&
		ip -n "$NSP$n" addr add "${IP[$n]}/24" dev eth0 &&
		ip -n "$NSP$n" link set eth0 up || return 1
	done
	# ARP is answered, every IP packet is dropped: a Sentinel that hangs
	in_ns dead nft -f - <<'EON' || return 1
table inet blackhole {
	chain in { type filter hook input priority 0; policy drop; }
}
EON
}

# --- Redis and the Sentinels --------------------------------------------------
# redis NAME [ARGS...]: redis-server on NAME's address, port 6379
redis() {
	local n=$1; shift
	mkdir -p "$LAB/$n"
	# ip netns exec execs the program: $! is its pid (a function run
	# with & would be a subshell)
	ip netns exec "$NSP$n" redis-server --bind "${IP[$n]}" --port 6379 --protected-mode no \
		--save '' --appendonly no --dir "$LAB/$n" --logfile "$LAB/$n/log" \
		--daemonize no --repl-diskless-sync-delay 0 "$@" >/dev/null 2>&1 &
	PID[$n]=$!
	RPIDS+=("$!")
	eventually 10 rcli "$n" PING >/dev/null 2>&1
}
rcli() { local n=$1; shift; in_ns "$n" redis-cli -h "${IP[$n]}" -p 6379 "$@" 2>/dev/null; }
scli() { local n=$1; shift; in_ns "$n" redis-cli -h "${IP[$n]}" -p 26379 "$@" 2>/dev/null; }
role_of() { rcli "$1" ROLE | head -1; }
is_master() { [ "$(role_of "$1")" = master ]; }
replicated() { [ -n "$(rcli "$1" GET "drac:g:$2")" ]; }

sentinel() {
	local n=$1
	mkdir -p "$LAB/$n"
	cat >"$LAB/$n/sentinel.conf" <<EOC
bind ${IP[$n]}
port 26379
protected-mode no
daemonize no
dir $LAB/$n
logfile $LAB/$n/log
sentinel resolve-hostnames no
sentinel monitor drac ${IP[m]} 6379 2
sentinel down-after-milliseconds drac 1000
sentinel failover-timeout drac 5000
sentinel parallel-syncs drac 1
EOC
	ip netns exec "$NSP$n" redis-server "$LAB/$n/sentinel.conf" --sentinel >/dev/null 2>&1 &
	PID[$n]=$!
	RPIDS+=("$!")
	eventually 10 scli "$n" PING >/dev/null 2>&1
}
# master_at N: what Sentinel N says the master's address is
master_at() { scli "$1" SENTINEL get-master-addr-by-name drac | head -1; }
# sentinel_ready N: it knows the replica and the two other Sentinels
sentinel_ready() {
	local out
	out=$(scli "$1" SENTINEL master drac | paste - - | tr '\t' ' ')
	grep -qx "num-slaves 1" <<<"$out" && grep -qx "num-other-sentinels 2" <<<"$out" &&
		scli "$1" SENTINEL replicas drac | grep -qx "${IP[r]}"
}
all_sentinels_ready() { sentinel_ready s1 && sentinel_ready s2 && sentinel_ready s3; }
replica_synced() { rcli "$1" INFO replication | tr -d '\r' | grep -qx "master_link_status:up"; }
all_say_master() { local s; for s in s1 s2 s3; do [ "$(master_at $s)" = "$1" ] || return 1; done; }

# --- the dracd hosts ------------------------------------------------------
SENTINELS="${IP[s1]}:26379 ${IP[s2]}:26379 ${IP[s3]}:26379"
host() {
	local n=$1 sentinels=$2
	cat >"$LAB/$n.settings" <<EOS
DRAC_TAP="no"
DRAC_MAP="$LAB/$n.db"
DRAC_PIDFILE="$LAB/$n.pid"
DRAC_CONTROL="$LAB/$n.sock"
DRAC_SHARE="redis://${IP[m]}/0"
DRAC_SHARE_SENTINELS="$sentinels"
EXPIRE_TIME="10m"
EOS
	ip netns exec "$NSP$n" "$BIN/dracd" -f -c "$LAB/$n.settings" >>"$LAB/$n.log" 2>&1 &
	PID[$n]=$!
	DPIDS+=("$!")
	eventually 10 grep -q "ready (pid $!)" "$LAB/$n.log"
}
hd() { local n=$1; shift; in_ns "$n" "$BIN/drac" -c "$LAB/$n.settings" "$@"; }
st() { hd "$1" status 2>/dev/null | awk -v k="share.$2" '$1 == k { $1 = ""; sub(/^ /, ""); gsub(/"/, ""); print }'; }
is() { [ "$(st "$1" "$2")" = "$3" ]; }
ge() { local v; v=$(st "$1" "$2"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge "$3" ]; }
has() { in_ns "$1" nft list set inet drac authed 2>/dev/null | grep -qw -- "$2"; }
lacks() { ! has "$@"; }
# clients_of N: the addresses of Redis N's clients (one per line)
clients_of() { rcli "$1" CLIENT LIST | sed -n 's/.* addr=\([0-9.]*\):[0-9]* .*/\1/p' | sort -u; }
uses() { clients_of "$1" | grep -qxF "${IP[$2]}"; }
both_use() { uses "$1" h1 && uses "$1" h2; }
uses_any() { uses "$1" h1 || uses "$1" h2; }
has_both() { has h1 "$1" && has h2 "$1"; }
# replica_known N ADDR: Sentinel N sees ADDR as a healthy replica (flags
# "slave", not "slave,s_down" as an old master that is still down)
replica_known() {
	[ "$(scli "$1" SENTINEL replicas drac | paste - - |
		awk -F'\t' -v a="$2" '$1 == "ip" { ip = $2 } $1 == "flags" && ip == a { print $2 }')" = slave ]
}
all_know_replica() { local s; for s in s1 s2 s3; do replica_known $s "$1" || return 1; done; }

# ============================================================================
net_up || { nok "network namespaces"; exit 1; }
redis m || { nok "master starts"; exit 1; }
redis r --replicaof "${IP[m]}" 6379 || { nok "replica starts"; exit 1; }
for s in s1 s2 s3; do sentinel $s || { nok "sentinel $s starts"; exit 1; }; done
t0=$(date +%s%N)
check "the replica is in sync" eventually 10 replica_synced r
check "the Sentinels know the replica and each other" eventually 15 all_sentinels_ready
echo "# Sentinels ready in $(ms_since "$t0") ms"

# --- a: connect through the Sentinels -----------------------------------------
t0=$(date +%s%N)
host h1 "${IP[dead]}:26379 $SENTINELS" || nok "dracd h1 starts"
host h2 "${IP[s1]}:26380 $SENTINELS" || nok "dracd h2 starts"
check "h1 connects past a first Sentinel that never answers" eventually 10 is h1 connected 1
echo "# h1 connected $(ms_since "$t0") ms after its start"
check "h2 connects past a first Sentinel that refuses" eventually 10 is h2 connected 1
check "share.endpoint names the Sentinels' master and its address" \
	is h1 endpoint "sentinel master drac at ${IP[m]}:6379"
check "both dracd are clients of the master" eventually 3 both_use m
check_not "and not of the replica" uses_any r
c1=$(st h1 connects) c2=$(st h2 connects)

hd h1 add 198.51.100.1 >/dev/null
check "drac add on h1 reaches h2" eventually $PROP has h2 198.51.100.1
hd h1 add 198.51.100.2 >/dev/null
check "a second one too" eventually $PROP has h2 198.51.100.2
check "the grants are replicated to the replica" eventually 3 replicated r 198.51.100.2

# --- b: the master dies --------------------------------------------------
t0=$(date +%s%N)
kill -KILL "${PID[m]}"
check "h2 notices at once (connection reset)" eventually 3 is h2 connected 0
# A revocation while h2 is cut off: queued, pushed after the reconnect
hd h2 del 198.51.100.1 >/dev/null
echo "# h2 while cut off: queued $(st h2 queued), error: $(st h2 error)"
check "h2 revoked 198.51.100.1 locally at once" lacks h2 198.51.100.1
check "the Sentinels promote the replica within ${FAILOVER_S} s" eventually $FAILOVER_S all_say_master "${IP[r]}"
echo "# failover: all Sentinels name the replica $(ms_since "$t0") ms after the kill"
check "the replica is master now" eventually 5 is_master r
check "h1 reconnects" eventually $FAILOVER_S ge h1 connects $((c1 + 1))
check "h2 reconnects" eventually $FAILOVER_S ge h2 connects $((c2 + 1))
echo "# both dracd connected again $(ms_since "$t0") ms after the kill"
check "h1 connected 1" eventually 3 is h1 connected 1
check "h2 connected 1" eventually 3 is h2 connected 1
check "both dracd are clients of the new master" eventually 3 both_use r
check "and share.endpoint says so" is h2 endpoint "sentinel master drac at ${IP[r]}:6379"
check "the revocation made on h2 while cut off reaches h1" eventually $PROP lacks h1 198.51.100.1
check "and the reconcile does not give it back to h2" lacks h2 198.51.100.1
check "198.51.100.2 is kept on both" has_both 198.51.100.2
hd h1 add 198.51.100.3 >/dev/null
check "a new drac add on h1 reaches h2 through the new master" eventually $PROP has h2 198.51.100.3
hd h2 add 198.51.100.4 >/dev/null
check "and one on h2 reaches h1" eventually $PROP has h1 198.51.100.4

# --- c: fail back, the new master frozen ------------------------------------
redis m --replicaof "${IP[r]}" 6379 || nok "the old master restarts as a replica"
check "it syncs from the new master" eventually 10 replica_synced m
check "the Sentinels know it as the replica" eventually 15 all_know_replica "${IP[m]}"
c1=$(st h1 connects) c2=$(st h2 connects)
t0=$(date +%s%N)
kill -STOP "${PID[r]}"
STOPPED+=("${PID[r]}")
# h2 does not know yet: the revocation goes into the frozen connection
hd h2 del 198.51.100.3 >/dev/null
echo "# h2 right after its drac del: connected $(st h2 connected), queued $(st h2 queued)"
check "h2 revoked 198.51.100.3 locally at once" lacks h2 198.51.100.3
check "the Sentinels promote the old master within ${FAILOVER_S} s" eventually $FAILOVER_S all_say_master "${IP[m]}"
echo "# fail back: all Sentinels name ${IP[m]} $(ms_since "$t0") ms after SIGSTOP"
check "h1 follows" eventually $FAILOVER_S ge h1 connects $((c1 + 1))
check "h2 follows" eventually $FAILOVER_S ge h2 connects $((c2 + 1))
echo "# both dracd reconnected $(ms_since "$t0") ms after SIGSTOP"
check "both dracd are clients of ${IP[m]}" eventually 3 both_use m
check "the revocation sent into the frozen connection reaches h1" eventually $PROP lacks h1 198.51.100.3
hd h1 add 198.51.100.5 >/dev/null
check "a new drac add on h1 reaches h2" eventually $PROP has h2 198.51.100.5
check "198.51.100.4 is kept on both" has_both 198.51.100.4


# --- d: a planned failover (SENTINEL FAILOVER), the old master stays up -----
# The demoted master keeps running: a dracd left on it (above all its
# subscribed connection, which writes nothing and would never see
# READONLY) would hear nothing the others publish.
kill -CONT "${PID[r]}"
STOPPED=()
check "the thawed old master becomes a replica" eventually 20 replica_synced r
check "the Sentinels see it as a healthy replica" eventually 15 all_know_replica "${IP[r]}"
c1=$(st h1 connects) c2=$(st h2 connects)
t0=$(date +%s%N)
check "SENTINEL FAILOVER is accepted" [ "$(scli s1 SENTINEL FAILOVER drac)" = OK ]
check "the Sentinels name ${IP[r]}" eventually $FAILOVER_S all_say_master "${IP[r]}"
check "h1 follows the planned failover" eventually $FAILOVER_S ge h1 connects $((c1 + 1))
check "h2 follows the planned failover" eventually $FAILOVER_S ge h2 connects $((c2 + 1))
echo "# planned failover: both dracd reconnected $(ms_since "$t0") ms after SENTINEL FAILOVER"
check "both dracd are clients of ${IP[r]}" eventually 3 both_use r
check_not "neither is left on the demoted ${IP[m]}" uses_any m
hd h2 add 198.51.100.6 >/dev/null
check "a drac add on h2 reaches h1" eventually $PROP has h1 198.51.100.6
hd h1 del 198.51.100.5 >/dev/null
check "a drac del on h1 reaches h2" eventually $PROP lacks h2 198.51.100.5

# one reconnect per failover, no flapping afterwards
sleep 2
check "h1 connected four times in all" is h1 connects 4
check "h2 connected four times in all" is h2 connects 4
for n in h1 h2; do check "dracd $n still running" running "${PID[$n]}"; done
for n in h1 h2; do echo "# $n: connects $(st $n connects) disconnects $(st $n disconnects) reconciles $(st $n reconciles) queued $(st $n queued)"; done
t_done
