#!/bin/bash
# Second hostile review of the fleet (DRAC_SHARE, issue 14) after the
# rewrite (rconn.c, batched EVAL, regrant, revq): a broken or malicious
# Redis (a fake RESP server), nft operations on one host, a Redis that
# refuses writes for a while.  Every check asserts the secure outcome; the
# set-up is tests/ns/share_attack.sh's (namespaces, DRAC_TAP=no, Redis on a
# unix socket).
. "$(dirname "$0")/../lib/t.sh"
SHARELAB_TAG=sh2
. "$(dirname "$0")/../lib/sharelab.sh"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

cat >"$LAB/fake2.py" <<'PY'
# A Redis that completes the set-up like an empty master, then misbehaves
# as MODE says.
import os, socket, sys, threading, time
path, mode = sys.argv[1], sys.argv[2]
arg = int(sys.argv[3]) if len(sys.argv) > 3 else 0
def bulk(b): return b"$%d\r\n%s\r\n" % (len(b), b)
def cmd(f):
    l = f.readline()
    if not l: return None
    if not l.startswith(b"*"): return l.split()
    out = []
    for _ in range(int(l[1:])):
        n = int(f.readline()[1:]); out.append(f.read(n + 2)[:-2])
    return out
def send(c, data):
    if mode == "split":
        for i in range(len(data)): c.send(data[i:i+1])
    else: c.sendall(data)
scans = [0]
def serve(c):
    f = c.makefile("rb")
    sub = False
    try:
        if mode == "early": c.sendall(b"+OK\r\n*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$1\r\ny\r\n")
        while (a := cmd(f)) is not None:
            w = a[0].upper()
            if w == b"PING":
                send(c, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n" if sub else b"+PONG\r\n")
            elif w == b"ROLE": send(c, b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n")
            elif w == b"SCAN":
                scans[0] += 1
                if mode == "scanloop": send(c, b"*2\r\n$2\r\n17\r\n*0\r\n")
                elif mode == "scannest": send(c, b"*2\r\n$1\r\n0\r\n*3\r\n*1\r\n*1\r\n$3\r\nabc\r\n:5\r\n$-1\r\n")
                else: send(c, b"*2\r\n$1\r\n0\r\n*0\r\n")
            elif w == b"EVAL":
                n = int(a[2]) // 2
                if mode == "evalcount": send(c, b"*%d\r\n" % (n + 3) + b":1\r\n" * (n + 3))
                elif mode == "evalnest": send(c, b"*%d\r\n" % n + b"*2\r\n*1\r\n:1\r\n$-1\r\n" * n)
                elif mode == "evalint": send(c, b":1\r\n")
                else: send(c, b"*%d\r\n" % n + b":1\r\n" * n)
            elif w == b"SUBSCRIBE":
                sub = True
                ch = a[1]
                send(c, b"*3\r\n$9\r\nsubscribe\r\n" + bulk(ch) + b":1\r\n")
                if mode == "bigbulk":
                    time.sleep(0.3)
                    blob = b"$1048576\r\n" + b"x" * 1048576 + b"\r\n"
                    c.sendall(b"*100000\r\n")
                    for _ in range(arg): c.sendall(blob)
                    time.sleep(3600)
            else: send(c, b"+OK\r\n")
    except Exception: pass
    c.close()
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); os.chmod(path, 0o777); s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

# fake MODE [ARG]: a fake Redis on $LAB/fake-MODE.sock
fake() {
	python3 "$LAB/fake2.py" "$LAB/fake-$1.sock" "$@" & PIDS+=("$!")
	eventually 3 test -S "$LAB/fake-$1.sock"
}

# --- 1. a reply of many big parts: memory without bound -----------------------
# rconn bounds the elements of one array (100,000) and the bytes not yet
# parsed (16 MB), not the reply being built: hiredis turns each complete
# bulk string into an object and drops it from its buffer, so an array of
# 100,000 bulk strings of 1 MB each is 100 GB of dracd's memory.  Here
# 300 of them (300 MB) on the subscribed connection.
fake bigbulk 300
host Fbig "unix:$LAB/fake-bigbulk.sock" || nok "dracd Fbig starts"
for _ in $(seq 40); do [ "$(rss_kb "$(pid_of Fbig)")" -gt 204800 ] 2>/dev/null && break; sleep 0.1; done
sleep 1
rss=$(rss_kb "$(pid_of Fbig)")
echo "# dracd RSS after 300 bulk strings of 1 MB in one unfinished array: ${rss:-?} kB"
check "memory stays bounded (< 100 MB) under an array of big bulk strings" [ "${rss:-0}" -lt 102400 ]
check "dracd Fbig alive" alive Fbig
stop_host Fbig

# --- 4. a SCAN cursor that never comes back to 0 ------------------------------
# Each reply asks for the next SCAN at once; only SCAN_LIMIT_MS (60 s)
# ends it, and the backoff never shrinks back, so dracd spins on it for a
# minute, rests up to 5 s, and spins again.
fake scanloop
host Fscan "unix:$LAB/fake-scanloop.sock" || nok "dracd Fscan starts"
sleep 1
c0=$(cpu_ticks "$(pid_of Fscan)"); sleep 2; c1=$(cpu_ticks "$(pid_of Fscan)")
echo "# dracd CPU during 2 s of an endless SCAN: $((c1 - c0)) ticks of $(getconf CLK_TCK)/s"
check "an endless SCAN does not keep dracd busy (< 25% of a CPU)" [ $((c1 - c0)) -lt $(( $(getconf CLK_TCK) / 2 )) ]
check "dracd Fscan alive" alive Fscan
stop_host Fscan

# --- 5. odd reply shapes that must change nothing (regressions) -------------
# split: every reply byte by byte; early: a reply before any command;
# evalcount / evalnest / evalint: EVAL replies with too many elements,
# nested arrays, an integer; scannest: SCAN keys that are arrays and nil.
for mode in split early evalcount evalnest evalint scannest; do
	fake "$mode"
	host "F$mode" "unix:$LAB/fake-$mode.sock" || nok "dracd F$mode starts"
	hd "F$mode" add 192.0.2.90 >/dev/null
	sleep 1
	check "dracd survives a fake Redis in mode '$mode'" alive "F$mode"
	check "and still grants locally" has "F$mode" 192.0.2.90
	echo "# F$mode: connected $(st "F$mode" connected), reconciles $(st "F$mode" reconciles), garbage $(st "F$mode" garbage), push_errors $(st "F$mode" push_errors)"
	stop_host "F$mode"
done

redis_up || { nok "redis-server starts"; exit 1; }
host A "unix:$LAB/redis.sock" || { nok "dracd A starts"; exit 1; }
host B "unix:$LAB/redis.sock" || { nok "dracd B starts"; exit 1; }
check "A connected" eventually 5 is A connected 1
check "B connected" eventually 5 is B connected 1

# --- 2. a revocation and a new grant of the same address in one batch -------
# One nft transaction on A deletes 192.0.2.70 and adds it again (a new
# login right after a revocation), less than a second after the first
# grant.  A's batch says "R .70 T" then "G .70 T+window"; Redis' script
# deletes, then writes the new grant (it began after the revocation).  B
# queues the revocation (revq), then ignores the grant as no later than
# what its mirror holds (have + 1000 >= end) -- without taking the
# revocation back out of revq -- and deletes .70 at the end of the turn.
# A and Redis hold .70, B never will (until its next reconnect).
hnft A add element inet drac authed "{ 192.0.2.70 timeout 10m }"
hnft A -f - <<EON
delete element inet drac authed { 192.0.2.70 }
add element inet drac authed { 192.0.2.70 timeout 11m }
EON
sleep 1.5
echo "# .70: A $(has A 192.0.2.70 && echo has || echo lacks), B $(has B 192.0.2.70 && echo has || echo lacks), Redis $(rc exists drac:g:192.0.2.70)"
check "delete+add in one transaction on A: A keeps 192.0.2.70" has A 192.0.2.70
check "Redis keeps drac:g:192.0.2.70" [ "$(rc exists drac:g:192.0.2.70)" = 1 ]
check "and so does B (hosts agree)" has B 192.0.2.70
# The same with the new element no longer than the window: the add's
# start (now + timeout - window) is not after the delete's moment, so
# Redis refuses the grant as revoked -- and A, whose element it is, keeps
# it: A grants .71 for 10 minutes, the fleet (Redis, B) believes it revoked.
hnft A add element inet drac authed "{ 192.0.2.71 timeout 10m }"
hnft A -f - <<EON
delete element inet drac authed { 192.0.2.71 }
add element inet drac authed { 192.0.2.71 timeout 10m }
EON
sleep 1.5
echo "# .71: A $(has A 192.0.2.71 && echo has || echo lacks), B $(has B 192.0.2.71 && echo has || echo lacks), Redis $(rc exists drac:g:192.0.2.71), A push_refused $(st A push_refused)"
agree71() { if has A 192.0.2.71; then has B 192.0.2.71; else lacks B 192.0.2.71; fi; }
check "A and B agree on 192.0.2.71" agree71

# --- 3. a revocation Redis refuses for a moment is lost ----------------------
# batch_done retries an operation only when there was no reply or the
# reply was READONLY/LOADING; any other error drops the whole batch.  With
# Redis at maxmemory (noeviction), a batch "G .81, R .80" fails at the
# grant's SET ("OOM command not allowed"; a script's first write decides)
# and the revocation behind it in the batch is never sent again: B keeps
# .80 for the rest of its window, though A revoked it and Redis has room
# again half a second later.
hd A add 192.0.2.80 >/dev/null
check "B learns 192.0.2.80" eventually 3 has B 192.0.2.80
rc config set maxmemory 1 >/dev/null
hnft A -f - <<EON
add element inet drac authed { 192.0.2.81 timeout 10m }
delete element inet drac authed { 192.0.2.80 }
EON
sleep 0.5
rc config set maxmemory 0 >/dev/null
echo "# A: push_errors $(st A push_errors), error: $(hd A status 2>/dev/null | awk '$1 == "share.error" { $1 = ""; print }' | cut -c1-100)"
echo "# Redis: drac:r:192.0.2.80 $(rc exists drac:r:192.0.2.80), drac:g:192.0.2.80 $(rc exists drac:g:192.0.2.80)"
check "A revoked 192.0.2.80" lacks A 192.0.2.80
check "B follows once Redis takes writes again" eventually 3 lacks B 192.0.2.80

# --- 4. drac del on a host that lacks the grant ------------------------------
# C never holds 192.0.2.90 or 2001:db8::90 (its trusted networks): the
# kernel has nothing to delete, so no set event says "revoked".  The
# operator's revocation must still reach the hosts that hold them.
host C "unix:$LAB/redis.sock" 'DRAC_TRUSTED="192.0.2.90 2001:db8::90"' || nok "dracd C starts"
eventually 5 is C connected 1 || nok "C connects"
for a in 192.0.2.90 2001:db8::90; do
	hd A add "$a" >/dev/null
	check "B learns $a" eventually 3 has B "$a"
	check "C does not hold $a (trusted there)" lacks C "$a"
	check_not "drac del $a on C says it was not there (exit 1)" hd C del "$a"
	check "and still A drops $a" eventually 3 lacks A "$a"
	check "and B" eventually 3 lacks B "$a"
done

for n in A B C; do check "dracd $n still running" alive "$n"; done
t_done
