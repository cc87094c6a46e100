#!/bin/bash
# Hostile review of the fleet sharing (DRAC_SHARE, issue 14): what reaches
# dracd from Redis (a broken or malicious server, odd messages) and timing
# (partitions, bursts, a revocation right behind a grant).  Every check
# asserts the secure outcome.  Hosts are network namespaces with their own
# dracd (DRAC_TAP=no); Redis listens on a unix socket, which crosses
# namespaces; a small proxy in front of one host's socket partitions it.
. "$(dirname "$0")/../lib/t.sh"
SHARELAB_TAG=shr
. "$(dirname "$0")/../lib/sharelab.sh"

cat >"$LAB/proxy.py" <<'PY'
import asyncio, os, sys
listen, target = sys.argv[1], sys.argv[2]
async def pipe(r, w):
    try:
        while d := await r.read(65536):
            w.write(d); await w.drain()
    except Exception: pass
    finally: w.close()
async def handle(cr, cw):
    try: sr, sw = await asyncio.open_unix_connection(target)
    except Exception: cw.close(); return
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
async def main():
    if os.path.exists(listen): os.unlink(listen)
    srv = await asyncio.start_unix_server(handle, listen)
    os.chmod(listen, 0o777)
    await srv.serve_forever()
asyncio.run(main())
PY
cat >"$LAB/fake.py" <<'PY'
# A Redis that answers the set-up like an empty Redis, then misbehaves on
# the subscribed connection (MODE) -- what a broken server, a MITM on plain
# TCP or a "master" a Sentinel names can send.
import os, socket, sys, threading, time
path, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0
def cmd(f):
    l = f.readline()
    if not l: return None
    if not l.startswith(b"*"): return l.split()
    out = []
    for _ in range(int(l[1:])):
        n = int(f.readline()[1:]); out.append(f.read(n + 2)[:-2])
    return out
def serve(c):
    f = c.makefile("rb")
    try:
        while (a := cmd(f)) is not None:
            w = a[0].upper()
            if w == b"PING": c.sendall(b"+PONG\r\n")
            elif w == b"SCAN": c.sendall(b"*2\r\n$1\r\n0\r\n*0\r\n")
            elif w == b"EVAL": c.sendall(b":1\r\n")
            elif w == b"SUBSCRIBE":
                ch = a[1]
                c.sendall(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(ch), ch))
                time.sleep(0.5)
                if mode == "short": c.sendall(b"*1\r\n$7\r\nmessage\r\n")
                elif mode == "intkind": c.sendall(b"*3\r\n:7\r\n$11\r\ndrac:events\r\n$1\r\nx\r\n")
                elif mode == "unsub2":
                    c.sendall(b"*2\r\n$11\r\nunsubscribe\r\n$%d\r\n%s\r\n" % (len(ch), ch))
                elif mode == "huge":
                    c.sendall(b"*1000000000\r\n")
                    for _ in range(count // 100000): c.sendall(b":1\r\n" * 100000)
                    time.sleep(3600)
            else: c.sendall(b"+OK\r\n")
    except Exception: pass
    c.close()
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); os.chmod(path, 0o777); s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

redis_up || { nok "redis-server starts"; exit 1; }
host A "unix:$LAB/redis.sock" || { nok "dracd A starts"; exit 1; }
host B "unix:$LAB/redis.sock" || { nok "dracd B starts"; exit 1; }
check "A connected" eventually 5 is A connected 1
check "B connected" eventually 5 is B connected 1

# --- 1. A grant and its revocation back to back on the channel ------------
# A host (here: a foreign one) grants and revokes right after; both
# messages reach B in one read.  B queues the grant (committed after the
# read) and looks for it in its mirror to revoke it: not there yet, so the
# revocation is ignored and the grant is committed for its whole window.
t=$(now_ms)
publish "G 192.0.2.20 $((t + 300000)) $t $OTHER" "R 192.0.2.20 $((t + 1)) $((t + 1)) $OTHER"
sleep 0.5
check "grant then revocation in one read: B does not keep 192.0.2.20" lacks B 192.0.2.20
check "nor A" lacks A 192.0.2.20

# The same from a real host: one nft transaction on A adds and deletes an
# element (foreign to dracd, so both are shared).  Redis ends with a
# tombstone and no grant; B keeps the address for 5 minutes.
hnft A -f - <<EON
add element inet drac authed { 192.0.2.22 timeout 5m }
delete element inet drac authed { 192.0.2.22 }
EON
sleep 0.5
check "nft add+delete in one transaction on A: B does not keep 192.0.2.22" lacks B 192.0.2.22

# A refresh right before a revocation: the revocation deletes the element
# at once (nftset_revoke), then the queued refresh is committed: the
# revoked grant is back, for a full window.
hd A add 192.0.2.21 >/dev/null
eventually 2 has B 192.0.2.21
sleep 1.2 # so that a fresh window ends later than the one B holds
t=$(now_ms)
publish "G 192.0.2.21 $((t + 600000)) $t $OTHER" "R 192.0.2.21 $((t + 1)) $((t + 1)) $OTHER"
sleep 0.5
check "refresh then revocation in one read: B does not keep 192.0.2.21" lacks B 192.0.2.21
check "nor A" lacks A 192.0.2.21

# --- 2. regressions that hold: no storm from a flushed ruleset or expiry --
hd A add 192.0.2.11 >/dev/null
eventually 2 has B 192.0.2.11
sent=$(st A revokes_sent)
hnft A flush ruleset
check "A restores its table after nft flush ruleset" eventually 3 has A 192.0.2.11
check "nft flush ruleset on A revokes nothing on B" has B 192.0.2.11
check "and sends no revocation" is A revokes_sent "$sent"
hnft A add element inet drac authed "{ 192.0.2.40 timeout 2s }"
eventually 2 has B 192.0.2.40
sleep 3
check "a grant ending in A's kernel is not shared as a revocation" is A revokes_sent "$sent"

# --- 3. drac flush with more grants than in flight + queue ----------------
# C holds 6000 grants (learned from the channel), DRAC_SHARE_QUEUE=16:
# 4096 revocations go in flight, 16 are queued, the rest are dropped
# (queue_overflow) and those grants stay on every other host.
host C "unix:$LAB/redis.sock" DRAC_SHARE_QUEUE=16 || nok "dracd C starts"
eventually 5 is C connected 1
t=$(now_ms)
python3 - "$t" "$OTHER" >"$LAB/pub.txt" <<'PY'
import sys
t, h = int(sys.argv[1]), sys.argv[2]
for i in range(6000):
    m = "G 198.18.%d.%d %d %d %s" % (i // 250, i % 250 + 1, t + 500000, t, h)
    sys.stdout.write("*3\r\n$7\r\nPUBLISH\r\n$11\r\ndrac:events\r\n$%d\r\n%s\r\n" % (len(m), m))
PY
rc --pipe <"$LAB/pub.txt" >/dev/null
eventually 10 bash -c "[ \$(ip netns exec $NSP""C nft list set inet drac authed | grep -c '198\.18\.') -gt 0 ]"
sleep 2
echo "# before: C holds $(count C), B holds $(count B)"
hd C flush >/dev/null
sleep 3
echo "# after drac flush on C: B holds $(count B), C queue_overflow $(st C queue_overflow)"
check "drac flush on C (6000 grants, queue 16) revokes all of them on B" [ "$(count B)" -eq 0 ]
stop_host C

# --- 4. a revocation made while Redis is unreachable, behind 16 grants ----
python3 "$LAB/proxy.py" "$LAB/proxy.sock" "$LAB/redis.sock" & PROXY=$!
PIDS+=("$PROXY")
eventually 3 test -S "$LAB/proxy.sock"
host D "unix:$LAB/proxy.sock" DRAC_SHARE_QUEUE=16 || nok "dracd D starts"
eventually 5 is D connected 1
hd D add 192.0.2.30 >/dev/null
eventually 2 has B 192.0.2.30
kill "$PROXY"; wait "$PROXY" 2>/dev/null
eventually 3 is D connected 0
# 21 logins on D while it is cut off, then the operator revokes .30 on D
hnft D -f - <<EON
add element inet drac authed { $(for i in $(seq 1 20); do printf '198.51.100.%d timeout 5m, ' "$i"; done) 198.51.100.200 timeout 5m }
EON
sleep 0.3
hd D del 192.0.2.30 >/dev/null
sleep 0.3
echo "# D: queued $(st D queued), overflow $(st D queue_overflow)"
python3 "$LAB/proxy.py" "$LAB/proxy.sock" "$LAB/redis.sock" & PROXY=$!
PIDS+=("$PROXY")
eventually 10 is D reconciles 2
sleep 0.5
check "a revocation made while cut off (queue full of grants) reaches B" lacks B 192.0.2.30
check "and the reconcile does not give it back to D" lacks D 192.0.2.30
stop_host D

# --- 5. a broken or malicious Redis must not stop dracd -------------------
for mode in short intkind unsub2; do
	python3 "$LAB/fake.py" "$LAB/fake-$mode.sock" "$mode" & PIDS+=("$!")
	eventually 3 test -S "$LAB/fake-$mode.sock"
	host "F$mode" "unix:$LAB/fake-$mode.sock" || nok "dracd F$mode starts"
	sleep 1.5
	check "dracd survives a subscribed reply of shape '$mode'" alive "F$mode"
	tail -2 "$LAB/F$mode.log" | sed 's/^/#   /'
	stop_host "F$mode"
done

# An endless array on the subscribed connection: hiredis 0.14 has no
# element limit and nothing times out a subscribed connection.
python3 "$LAB/fake.py" "$LAB/fake-huge.sock" huge 2000000 & PIDS+=("$!")
eventually 3 test -S "$LAB/fake-huge.sock"
host Fhuge "unix:$LAB/fake-huge.sock" || nok "dracd Fhuge starts"
sleep 4
rss=$(awk '/VmRSS/ { print $2 }' "/proc/$(pid_of Fhuge)/status" 2>/dev/null)
echo "# dracd RSS after 2,000,000 array elements (8 MB) on the channel: ${rss:-?} kB"
check "memory stays bounded (< 100 MB) under an endless reply" [ "${rss:-0}" -lt 102400 ]
stop_host Fhuge

# --- 6. the documented ACL line (rules/redis-acl.conf) ----------------------
# The reconcile reads a grant's expiry with PEXPIRETIME: the line must
# allow it, or a host that was away learns nothing.
rc acl setuser drac on '>pw' resetkeys '~drac:*' resetchannels '&drac:*' -@all +eval +get \
	+pexpiretime +set +del +publish +scan +subscribe +ping +select +role >/dev/null
echo "drac pw" >"$LAB/auth"
chmod 600 "$LAB/auth"
hd A add 192.0.2.50 >/dev/null
eventually 2 rc exists drac:g:192.0.2.50 >/dev/null
host E "unix:$LAB/redis.sock" "DRAC_SHARE_AUTH=$LAB/auth" || nok "dracd E starts"
eventually 5 is E reconciles 1
check "with the documented ACL, a new host learns 192.0.2.50 at its reconcile" eventually 2 has E 192.0.2.50
echo "# E: reconciled $(st E reconciled), garbage $(st E garbage)"
stop_host E

# --- 7. DRAC_SHARE naming a replica (or an old master after a failover) ---
# Every write is READONLY: fail() reconnects, maybe_synced() resets the
# backoff to 100 ms and the log-once flag, so dracd reconnects and warns
# ten times a second for as long as it lasts.
host R "redis://127.0.0.1:6380" || nok "dracd R starts"
ip netns exec "${NSP}R" redis-server --port 6379 --bind 127.0.0.1 --save '' --dir "$LAB" >/dev/null 2>&1 & PIDS+=("$!")
ip netns exec "${NSP}R" redis-server --port 6380 --bind 127.0.0.1 --save '' --dir "$LAB" \
	--replicaof 127.0.0.1 6379 >/dev/null 2>&1 & PIDS+=("$!")
hd R add 192.0.2.60 >/dev/null
sleep 5
warns=$(grep -c "READONLY" "$LAB/R.log")
echo "# R in 5 s: $(st R connects) connects, $warns READONLY warnings"
check "a replica is not reconnected to ten times a second (<= 10 connects in 5 s)" [ "$(st R connects)" -le 10 ]
check "READONLY is logged once per streak" [ "$warns" -le 2 ]
stop_host R

for n in A B; do check "dracd $n still running" alive "$n"; done
t_done
