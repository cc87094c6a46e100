#!/usr/bin/python3
# tests/lib/rpcattack.py - hostile DRAC RPC callers for tests/ns/rpc_attack.sh
#
#   rpcattack.py group DST PORT ADDR [SRC]   one DRACPROC_ADD datagram out
#       of eth0 to a broadcast or multicast DST (ff02::1%eth0); prints
#       "answers N" (how many replies came back within a second)
#   rpcattack.py churn HOST PORT SRCFMT N SECONDS   N TCP connections,
#       connection i bound to SRCFMT % i, each kept busy with NULL calls,
#       and one more connection a round (closing its own oldest), for
#       SECONDS; prints "rounds R"
import socket, struct, sys, time, select, ipaddress

def call(xid, addr, proc=1):
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        hdr = struct.pack('>IIIIII', xid, 0, 2, 900101, 1, proc) + b'\0' * 16
        return hdr + (a.packed if proc else b'')
    hdr = struct.pack('>IIIIII', xid, 0, 2, 900101, 2, proc) + b'\0' * 16
    return hdr + (b''.join(struct.pack('>i', b if b < 128 else b - 256)
                           for b in a.packed) if proc else b'')

def group(dst, port, addr, src=None):
    ai = socket.getaddrinfo(dst, port, 0, socket.SOCK_DGRAM)[0]
    s = socket.socket(ai[0], socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth0')
    if src:
        s.bind((src, 0))
    s.sendto(call(0x4711, addr), ai[4])
    n, end = 0, time.time() + 1
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0, end - time.time()))
        if not r:
            break
        s.recvfrom(200)
        n += 1
    print('answers', n)

def churn(host, port, srcfmt, n, seconds):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    conns, k = [], 0

    def connect():
        nonlocal k
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((srcfmt % (k % n), 0))
        k += 1
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError:
            s.close()
            return
        s.setblocking(False)
        conns.append(s)

    for _ in range(n):
        connect()
    m = call(1, '0.0.0.0', 0)
    rec = struct.pack('>I', 0x80000000 | len(m)) + m
    end, rounds = time.time() + seconds, 0
    while time.time() < end:
        for s in list(conns):	# every connection busy, so none is idle
            try:
                s.send(rec)
                s.recv(4096)
            except BlockingIOError:
                pass
            except OSError:
                conns.remove(s)
                s.close()
        if len(conns) >= n:
            conns.pop(0).close()
        connect()		# the table is full: someone is evicted
        rounds += 1
        time.sleep(0.01)
    print('rounds', rounds)

cmd = sys.argv[1]
if cmd == 'group':
    group(sys.argv[2], int(sys.argv[3]), sys.argv[4], *sys.argv[5:6])
elif cmd == 'churn':
    churn(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
