#!/usr/bin/python3
# tests/lib/rpcraw.py - raw DRAC RPC calls for the hardening tests.
#
#   rpcraw.py spoof6 SRC DST PORT ADDR...   one DRACPROC_ADD datagram per
#       ADDR with the forged IPv6 source SRC (raw socket, header written
#       here), v1 for IPv4 ADDRs and v2 for IPv6 ones
#   rpcraw.py udp HOST PORT ADDR            one UDP call; prints the
#       addstat or "noanswer"
#   rpcraw.py keep HOST PORT N ADDR_PREFIX SECONDS   one TCP connection
#       kept open: N calls spread over SECONDS (ADDR_PREFIX + i); prints
#       "answered K of N" (calls that got ADD_SUCCESS on that one connection)
#   rpcraw.py flood HOST PORT SECONDS       connect and hold (and churn)
#       as many TCP connections as it can; prints "connects N"
import socket, struct, sys, time, ipaddress, os, random

def call(xid, addr):
    a = ipaddress.ip_address(addr)
    if a.version == 4:
        hdr = struct.pack('>IIIIII', xid, 0, 2, 900101, 1, 1) + b'\0' * 16
        return hdr + a.packed
    hdr = struct.pack('>IIIIII', xid, 0, 2, 900101, 2, 1) + b'\0' * 16
    return hdr + b''.join(struct.pack('>i', b if b < 128 else b - 256) for b in a.packed)

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('>%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

def spoof6(src, dst, port, addrs):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sa, da = ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed
    for i, addr in enumerate(addrs):
        payload = call(0x5000 + i, addr)
        ulen = 8 + len(payload)
        udp = struct.pack('>HHHH', 4242, port, ulen, 0) + payload
        pseudo = sa + da + struct.pack('>I', ulen) + b'\0\0\0\x11'
        c = csum(pseudo + udp) or 0xffff
        udp = udp[:6] + struct.pack('>H', c) + udp[8:]
        ip6 = struct.pack('>IHBB', 6 << 28, ulen, 17, 64) + sa + da
        s.sendto(ip6 + udp, (dst, 0))
    print('sent', len(addrs))

def udp(host, port, addr):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.connect((host, port))
    try:
        s.send(call(0x77, addr))
        r = s.recv(100)
        print(struct.unpack('>I', r[24:28])[0])
    except (socket.timeout, ConnectionRefusedError):
        print('noanswer')

def recv_record(s):
    data = b''
    while len(data) < 4:
        d = s.recv(4 - len(data))
        if not d:
            return None
        data += d
    n = struct.unpack('>I', data)[0] & 0x7fffffff
    body = b''
    while len(body) < n:
        d = s.recv(n - len(body))
        if not d:
            return None
        body += d
    return body

def keep(host, port, n, prefix, seconds):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((host, port))
    good = 0
    for i in range(n):
        try:
            m = call(0x9000 + i, prefix + str(i + 1))
            s.sendall(struct.pack('>I', 0x80000000 | len(m)) + m)
            r = recv_record(s)
            if r is not None and struct.unpack('>I', r[0:4])[0] == 0x9000 + i and \
               struct.unpack('>I', r[24:28])[0] == 0:
                good += 1
            else:
                print('# call', i, 'failed:', 'closed' if r is None else r.hex(), flush=True)
        except OSError as e:
            print('# call', i, 'failed:', e, flush=True)
        time.sleep(seconds / n)
    print('answered %d of %d' % (good, n))
    sys.exit(0 if good == n else 1)

def flood(host, port, seconds):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    end = time.time() + seconds
    held, n = [], 0
    while time.time() < end:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        n += 1
        held.append(s)
        if len(held) > 400:	# churn: keep a few hundred open
            held.pop(0).close()
    print('connects', n)

cmd = sys.argv[1]
if cmd == 'spoof6':
    spoof6(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
elif cmd == 'udp':
    udp(sys.argv[2], int(sys.argv[3]), sys.argv[4])
elif cmd == 'keep':
    keep(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
elif cmd == 'flood':
    flood(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
