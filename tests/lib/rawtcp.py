#!/usr/bin/python3
"""rawtcp.py - a raw-packet TCP client that plays insertion and evasion
attacks (issue 10) against a real POP3/IMAP server.

It does its own handshake and sends every frame through an AF_PACKET
socket, so each byte, flag, option, checksum and fragment on the wire is
the one the scenario chose.  Run it inside a client namespace whose kernel
RSTs for the source addresses used here are dropped by an nft rule in that
namespace (tests/ns/desync.sh sets it up): the kernel knows nothing of
these connections.

  rawtcp.py plan FAMILY
        print every scenario name for IPv4 (4) or IPv6 (6), one a line
  rawtcp.py run IFACE DSTMAC SRV4 SRV6 < LINES
        LINES: "NAME SRC" per scenario; each runs from its own source
        address, and prints one line
          RESULT NAME SRC expect=grant|nogrant ran=yes|no server=WHAT
        ran=yes when the server answered as the scenario needs (so the
        dracd verdict means something); server= says what it read.
  rawtcp.py inject IFACE DSTMAC SRC SPORT DST DPORT KIND [COUNT [DONEFILE]]
        blind spoofed packets (random sequence numbers) on a 4-tuple a
        real client owns: KIND rst, fin, syn, data or urg (one urgent
        byte, no timestamp).  SPORT @FILE: wait
        (up to 5 s) until FILE names the port; DONEFILE is written after.

Scenario names are CLASS:PROTO:ARGS:
  CTRL:pop3|imap:plain|pad   honest login in ordinary segments (grant)
  A:PROTO:DECOY:HIDDEN:fwd|rev  decoy and hidden segment, same sequence
        range and length; fwd sends the decoy first, rev the hidden one
        first and the decoy as a "retransmission".  The decoy carries the
        login (wrong password), the hidden one harmless commands that the
        server answers positively.  (nogrant)
        DECOY: md5 ao badsum noack paws old; HIDDEN: frag4 (IPv4, a
        segment over 4096 bytes in fragments), ext10 (IPv6, ten
        destination-options headers), frag6 (IPv6 fragments), frag6big
        (IPv6 fragments of a segment over 4096 bytes)
  B:PROTO:KIND   one spoofed packet on the 4-tuple of a real login in
        progress, one that Linux ignores; the login must still grant.
  C:PROTO:KIND   further variants: overlaps with different bytes (the
        server keeps the first copy, in order or out of order), a
        differing retransmission far back before a real login, an urgent
        byte that Linux takes out of the stream (nogrant); a real login
        with data just outside / inside the window edge, a zero-length
        keepalive, an ACK of unsent data injected, the answer held back
        0.6 s by the client's zero window (grant).
"""

import os
import random
import re
import socket
import struct
import sys
import time

from scapy.all import IP, IPv6, TCP, Raw, IPv6ExtHdrDestOpt, \
    IPv6ExtHdrFragment, fragment

USER, PASS = "demo", "demopass"
ETH_P_ALL = 3
PACKET_OUTGOING = 4
SYN, FIN, RST, PSH, ACK, URG = 0x02, 0x01, 0x04, 0x08, 0x10, 0x20
MSS = 1400          # payload per ordinary segment
TIMEOUT = 1.5       # seconds to wait for one server answer


class Wire:
    """One AF_PACKET socket on the client's interface: frames out, and
    the server's packets in (parsed, for every connection)."""

    def __init__(self, ifname, dmac):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                               socket.htons(ETH_P_ALL))
        self.s.bind((ifname, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        with open(f"/sys/class/net/{ifname}/address") as f:
            smac = f.read().strip()
        self.eth4 = mac(dmac) + mac(smac) + b"\x08\x00"
        self.eth6 = mac(dmac) + mac(smac) + b"\x86\xdd"
        self.ifname = ifname
        self.vs = None

    def send(self, l3, v6):
        self.s.send((self.eth6 if v6 else self.eth4) + l3)

    def send_vnet(self, l3, v6):
        """Send with a virtio-net header that says "checksum not filled
        in yet" (VIRTIO_NET_HDR_F_NEEDS_CSUM): the skb is CHECKSUM_PARTIAL,
        and over a veth the receiving stack trusts it whatever the field
        holds.  Any local neighbour with CAP_NET_RAW (a container) can."""
        if self.vs is None:
            self.vs = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self.vs.setsockopt(263, 15, 1)      # SOL_PACKET, PACKET_VNET_HDR
            self.vs.bind((self.ifname, 0))
        thoff = 14 + (40 if v6 else 20)
        hdr = struct.pack("<BBHHHH", 1, 0, 0, 0, thoff, 16)
        self.vs.send(hdr + (self.eth6 if v6 else self.eth4) + l3)

    def recv(self, deadline):
        """Next incoming TCP packet as a dict, or None at the deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                frame, addr = self.s.recvfrom(70000)
            except (socket.timeout, TimeoutError):
                return None
            if addr[2] == PACKET_OUTGOING:
                continue
            p = parse(frame)
            if p:
                return p


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def parse(frame):
    """An Ethernet frame carrying TCP over IPv4/IPv6, or None."""
    if len(frame) < 14:
        return None
    et, off = struct.unpack_from("!H", frame, 12)[0], 14
    if et == 0x0800:
        if len(frame) < off + 20 or frame[off + 9] != 6:
            return None
        ihl = (frame[off] & 15) * 4
        end = off + struct.unpack_from("!H", frame, off + 2)[0]
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        t = off + ihl
    elif et == 0x86dd:
        if len(frame) < off + 40 or frame[off + 6] != 6:
            return None
        end = off + 40 + struct.unpack_from("!H", frame, off + 4)[0]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        t = off + 40
    else:
        return None
    if len(frame) < t + 20:
        return None
    sport, dport, seq, ack, doff, flags, win = struct.unpack_from(
        "!HHIIBBH", frame, t)
    doff = (doff >> 4) * 4
    opts = frame[t + 20:t + doff]
    tsval = wscale = None
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        ln = opts[i + 1]
        if k == 8 and ln == 10:
            tsval = struct.unpack_from("!I", opts, i + 2)[0]
        elif k == 3 and ln == 3:
            wscale = opts[i + 2]
        i += ln
    return {"src": src, "dst": dst, "sport": sport, "dport": dport,
            "seq": seq, "ack": ack, "flags": flags, "win": win,
            "tsval": tsval, "wscale": wscale,
            "data": bytes(frame[t + doff:end])}


def seq_lt(a, b):
    return ((a - b) & 0xffffffff) >= 0x80000000


class Conn:
    """One TCP connection driven by hand.  The server's data is taken in
    order and acknowledged at once; everything the client sends is built
    here, segment by segment."""

    def __init__(self, wire, src, dst, dport):
        self.w = wire
        self.v6 = ":" in dst
        self.src, self.dst, self.dport = src, dst, dport
        fam = socket.AF_INET6 if self.v6 else socket.AF_INET
        self.bsrc, self.bdst = socket.inet_pton(fam, src), \
            socket.inet_pton(fam, dst)
        self.sport = random.randint(20000, 60999)
        self.iss = random.getrandbits(32)
        self.snd_nxt = (self.iss + 1) & 0xffffffff
        self.rcv_nxt = None
        self.t0, self.ts0 = time.monotonic(), random.getrandbits(30) + 1000000
        self.ts_recent = 0
        self.tsfixed = None     # every TSval this value (e.g. 0)
        self.swin, self.swscale, self.sack = 0, 0, None
        self.inbuf = b""
        self.closed = False
        self.ipid = random.randint(1, 60000)

    # --- building -------------------------------------------------------

    def tsval(self):
        if self.tsfixed is not None:
            return self.tsfixed
        return (self.ts0 + int((time.monotonic() - self.t0) * 1000)) \
            & 0xffffffff

    def tcp(self, flags=ACK | PSH, data=b"", seq=None, ack=None, opts=(),
            tsval=None, badsum=False, urgptr=0, ts=True, win=8192,
            partial=False, tsecr=None):
        """The TCP segment's bytes, checksum computed over the real
        addresses (then spoiled if badsum)."""
        if seq is None:
            seq = self.snd_nxt
        if ack is None:
            ack = self.rcv_nxt or 0
        o = list(opts)
        if ts:
            o += [("NOP", None), ("NOP", None),
                  ("Timestamp", (self.tsval() if tsval is None else tsval,
                                 self.ts_recent if tsecr is None
                                 else tsecr & 0xffffffff))]
        t = TCP(sport=self.sport, dport=self.dport, seq=seq & 0xffffffff,
                ack=ack & 0xffffffff, flags=flags, window=win,
                urgptr=urgptr, options=o)
        if data:
            t = t / Raw(data)
        ip = IPv6(src=self.src, dst=self.dst) if self.v6 else \
            IP(src=self.src, dst=self.dst)
        b = bytearray(bytes(ip / t)[40 if self.v6 else 20:])
        if badsum:
            b[16] ^= 0x5a
        if partial:
            # What a local sender leaves for the NIC (CHECKSUM_PARTIAL):
            # the pseudo-header sum only.  On the wire it is wrong.
            struct.pack_into("!H", b, 16, self.pseudo_sum(len(b)))
        return bytes(b)

    def pseudo_sum(self, n):
        ph = self.bsrc + self.bdst + (struct.pack("!I", n) + b"\0\0\0\x06"
                                      if self.v6 else b"\0\x06"
                                      + struct.pack("!H", n))
        s = sum(struct.unpack("!%dH" % (len(ph) // 2), ph))
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        return s

    def ip(self, tcpb, nh=6):
        self.ipid += 1
        if self.v6:
            return bytes(IPv6(src=self.src, dst=self.dst, nh=nh) / Raw(tcpb))
        return bytes(IP(src=self.src, dst=self.dst, proto=6, id=self.ipid)
                     / Raw(tcpb))

    def frames(self, tcpb, how="plain"):
        """The L3 packets that carry one TCP segment: whole, in IPv4 or
        IPv6 fragments, or behind ten destination-options headers."""
        if how == "plain":
            return [self.ip(tcpb)]
        if how == "frag4":
            p = IP(src=self.src, dst=self.dst, proto=6, id=self.ipid + 7) \
                / Raw(tcpb)
            return [bytes(f) for f in fragment(p, fragsize=1400)]
        if how in ("frag6", "frag6big"):
            # The first fragment must hold the whole TCP header (RFC
            # 7112; Linux drops it otherwise).
            size = 1232 if how == "frag6big" else 48
            ident = random.getrandbits(32)
            out = []
            for off in range(0, len(tcpb), size):
                piece = tcpb[off:off + size]
                more = 1 if off + size < len(tcpb) else 0
                out.append(bytes(IPv6(src=self.src, dst=self.dst, nh=44)
                                 / IPv6ExtHdrFragment(nh=6, offset=off // 8,
                                                      m=more, id=ident)
                                 / Raw(piece)))
            return out
        if how == "dstdrop":
            # Option type 0x9e: the two high bits 10 mean "discard the
            # packet and send a Parameter Problem".
            opt = bytes([6, 0, 0x9e, 4, 0, 0, 0, 0])
            return [bytes(IPv6(src=self.src, dst=self.dst, nh=60)
                          / Raw(opt + tcpb))]
        if how == "ah":
            # Authentication Header, SPI 0x100: no IPsec state knows it.
            ah = struct.pack("!BBHII", 6, 4, 0, 0x100, 1) + bytes(12)
            return [bytes(IPv6(src=self.src, dst=self.dst, nh=51)
                          / Raw(ah + tcpb))]
        if how == "ext10":
            p = IPv6(src=self.src, dst=self.dst, nh=60)
            for i in range(10):
                p = p / IPv6ExtHdrDestOpt(nh=60 if i < 9 else 6)
            return [bytes(p / Raw(tcpb))]
        raise ValueError(how)

    def send(self, tcpb, how="plain"):
        for f in self.frames(tcpb, how):
            self.w.send(f, self.v6)

    def send_frames(self, frames):
        for f in frames:
            self.w.send(f, self.v6)

    # --- receiving ------------------------------------------------------

    def mine(self, p):
        return p["src"] == self.bdst and p["dst"] == self.bsrc and \
            p["sport"] == self.dport and p["dport"] == self.sport

    def take(self, p):
        """Process one packet of this connection; acknowledge data."""
        f = p["flags"]
        if p["tsval"] is not None:
            self.ts_recent = p["tsval"]
        if f & RST:
            self.closed = True
            return
        if f & SYN:
            if f & ACK and p["ack"] == self.snd_nxt and self.rcv_nxt is None:
                self.rcv_nxt = (p["seq"] + 1) & 0xffffffff
                self.swscale = p["wscale"] or 0
                self.swin = p["win"]
                self.send(self.tcp(ACK))
            elif self.rcv_nxt is not None:
                self.send(self.tcp(ACK))
            return
        if self.rcv_nxt is None:
            return
        if f & ACK:
            self.sack = p["ack"]
            self.swin = p["win"] << self.swscale
        d = p["data"]
        if d or f & FIN:
            if p["seq"] == self.rcv_nxt:
                self.inbuf += d
                self.rcv_nxt = (self.rcv_nxt + len(d)) & 0xffffffff
                if f & FIN:
                    self.rcv_nxt = (self.rcv_nxt + 1) & 0xffffffff
                    self.closed = True
            elif seq_lt(p["seq"], self.rcv_nxt):
                end = (p["seq"] + len(d)) & 0xffffffff
                if seq_lt(self.rcv_nxt, end):   # partly new
                    k = (self.rcv_nxt - p["seq"]) & 0xffffffff
                    self.inbuf += d[k:]
                    self.rcv_nxt = end
            self.send(self.tcp(ACK))

    def pump(self, until):
        """Take packets until the deadline (monotonic)."""
        while True:
            p = self.w.recv(until)
            if p is None:
                return
            if self.mine(p):
                self.take(p)
                return

    def connect(self):
        self.syn_tsval = self.tsval()
        opts = [("MSS", 1460), ("SAckOK", b""),
                ("Timestamp", (self.syn_tsval, 0)), ("NOP", None),
                ("WScale", 7)]
        t = TCP(sport=self.sport, dport=self.dport, seq=self.iss, flags=SYN,
                window=64240, options=opts)
        ip = IPv6(src=self.src, dst=self.dst) if self.v6 else \
            IP(src=self.src, dst=self.dst)
        self.send(bytes(ip / t)[40 if self.v6 else 20:])
        end = time.monotonic() + 2
        while self.rcv_nxt is None and time.monotonic() < end:
            self.pump(end)
        if self.rcv_nxt is None:
            raise Failed("no SYN-ACK")

    def readline(self, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while b"\n" not in self.inbuf:
            if self.closed or time.monotonic() >= end:
                raise Failed("no line" + (" (closed)" if self.closed else "")
                             + (f", partial {self.inbuf[:60]!r}"
                                if self.inbuf else ""))
            self.pump(end)
        line, self.inbuf = self.inbuf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def lines_until(self, pattern, timeout=TIMEOUT):
        """Server lines up to and including one matching pattern."""
        got = []
        while True:
            got.append(self.readline(timeout))
            if re.search(pattern, got[-1]):
                return got

    def settle(self, secs=0.05):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            self.pump(end)

    def data(self, payload, advance=True, **kw):
        """Ordinary segments of at most MSS bytes from snd_nxt."""
        seq = self.snd_nxt
        for i in range(0, len(payload), MSS):
            self.send(self.tcp(data=payload[i:i + MSS], seq=seq + i, **kw))
        if advance:
            self.snd_nxt = (self.snd_nxt + len(payload)) & 0xffffffff

    def reset(self):
        """Tear the connection down at the server (exact sequence)."""
        if self.rcv_nxt is not None:
            self.send(self.tcp(RST | ACK, ts=False))


class Failed(Exception):
    pass


# --- dialogues ---------------------------------------------------------------

def pad(proto):
    """Commands the server answers positively and that bring a segment
    past the tap's 4096-byte snap length."""
    if proto == "pop3":
        return b"".join(b"USER " + b"u" * 240 + b"\r\n" for _ in range(17))
    return b"".join(b'p%d ID ("x" "' % i + b"a" * 880 + b'")\r\n'
                    for i in range(5))


def greet(c, proto):
    c.connect()
    c.lines_until(r"^\+OK" if proto == "pop3" else r"^\* OK")


def answers(lines, proto):
    """What the server read, judged from its answers."""
    if proto == "pop3":
        ok = sum(1 for x in lines if x.startswith("+OK"))
        if any("Logged in" in x for x in lines):
            return "login", ok
        if any(x.startswith("-ERR") for x in lines):
            return "refused", ok
        return "ok", ok
    if any(x.startswith("a1 OK") and "Logged in" in x for x in lines):
        return "login", 0
    if any(x.startswith("a1 NO") for x in lines):
        return "refused", 0
    if any(x.startswith("b2 OK") for x in lines):
        return "ok", 0
    return "other", 0


DECOY = {"pop3": b"USER demo\r\nPASS xx\r\n",
         "imap": b"a1 LOGIN demo xx\r\n"}
HIDDEN = {"pop3": b"USER demo\r\nUSER xx\r\n",
          "imap": b"a1 NOOP\r\nb2 NOOP\r\n"}
HONEST = {"pop3": b"USER demo\r\nPASS demopass\r\n",
          "imap": b"a1 LOGIN demo demopass\r\n"}
assert all(len(DECOY[k]) == len(HIDDEN[k]) for k in DECOY)


def read_answers(c, proto, npad, want_final, need=None):
    """Read until the last answer the dialogue expects, or the server
    refuses, or nothing more comes."""
    lines = []
    try:
        if proto == "pop3":
            need = need or npad + 2
            while sum(1 for x in lines if x[:3] in ("+OK", "-ER")) < need:
                lines.append(c.readline())
                if lines[-1].startswith("-ERR") or "Logged in" in lines[-1]:
                    break
        else:
            lines += c.lines_until(want_final)
    except Failed:
        pass
    return lines


def sc_ctrl(c, proto, variant):
    """Honest login, same layout as the attacks (padding when asked)."""
    greet(c, proto)
    payload = (pad(proto) if variant == "pad" else b"") + HONEST[proto]
    c.data(payload)
    npad = 17 if (variant == "pad" and proto == "pop3") else 0
    lines = read_answers(c, proto, npad, r"^a1 (OK|NO|BAD)")
    what, _ = answers(lines, proto)
    return what == "login", what


def kernel_has_tcp_ao():
    """Without CONFIG_TCP_AO, Linux ignores option 29 like any unknown
    option: the "decoy" is then ordinary data the server reads.  The
    option TCP_AO_ADD_KEY (38) tells: EINVAL for a short argument when
    the kernel has TCP-AO, ENOPROTOOPT when it has not."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.IPPROTO_TCP, 38, b"\0" * 4)
    except OSError as e:
        return e.errno != 92    # ENOPROTOOPT
    finally:
        s.close()
    return True


def decoy_segments(c, payload, decoy, seq, win=8192):
    """The decoy's TCP segments (bytes), each spoiled the decoy's way."""
    out = []
    for i in range(0, len(payload), MSS):
        kw = {"win": win}
        flags = ACK | PSH
        if decoy == "md5":
            kw["opts"] = [(19, os.urandom(16)), ("NOP", None), ("NOP", None)]
        elif decoy == "ao":
            kw["opts"] = [(29, b"\x01\x01" + os.urandom(12))]
        elif decoy == "badsum":
            kw["badsum"] = True
        elif decoy == "noack":
            flags = PSH
        elif decoy == "paws":
            kw["tsval"] = (c.tsval() - 100000) & 0xffffffff
        elif decoy == "partial":
            kw["partial"] = True
        elif decoy == "md5bad":
            # Option 19 of the wrong size: Linux's auth-option parser
            # (tcp_parse_auth_options) rejects the segment.
            kw["opts"] = [(19, b"\0\0"), ("NOP", None), ("NOP", None)]
        elif decoy == "ackold":
            # An ACK older than the largest window the client offered:
            # tcp_ack() drops the segment (RFC 5961 5.2) on the slow
            # path, which another window value forces.
            kw["ack"] = (c.rcv_nxt - 0x40000000) & 0xffffffff
            kw["win"] = 8191 if win else 0
        elif decoy == "tsecr":
            kw["tsecr"] = c.ts_recent + 0x40000000
        out.append(c.tcp(flags=flags, data=payload[i:i + MSS],
                         seq=seq + i, **kw))
    return out


def sc_a(c, proto, decoy, hidden, order):
    """Decoy + hidden segment over the same sequence range."""
    if hidden == "paws0":
        # ts_recent 0 disables PAWS in Linux (tcp_paws_check: "Ignore 0
        # value"): a SYN with TSval 0 and every later TSval 0 keep it
        # there, and then a segment with a TSval far "older" than the
        # SYN's is taken.
        c.tsfixed = 0
    greet(c, proto)
    if hidden == "pawswrap":
        # A pure ACK (which the tap skips) steps Linux's ts_recent
        # forward by 0x7F800000, a legal jump (less than 2^31).  A TSval
        # just above that is more than 2^31 - 2^24 "older" than the SYN's
        # for anyone who compares with the SYN alone; Linux takes it.
        # And a segment still carrying the old clock now fails PAWS.
        c.send(c.tcp(ACK, tsval=(c.syn_tsval + 0x7F800000) & 0xffffffff))
        c.settle(0.02)
    big = hidden in ("frag4", "frag6big")
    pre = pad(proto) if big else b""
    dpay, hpay = pre + DECOY[proto], pre + HIDDEN[proto]
    seq = c.snd_nxt
    # Everything is built before the first frame leaves.  In reverse
    # order the client's window is closed meanwhile: the server cannot
    # answer the hidden bytes (its pure ACKs the tap skips) until the
    # decoy is in, so the tap sees the decoy before any answer.
    win = 0 if order == "rev" else 8192
    dhow = decoy if decoy in ("dstdrop", "ah") else "plain"
    dfr = [f for s in decoy_segments(c, dpay, decoy, seq, win)
           for f in c.frames(s, dhow)]
    vnet = None
    if hidden == "paws0":
        hfr = c.frames(c.tcp(data=hpay, seq=seq, win=win, tsval=0x80000000))
    elif hidden == "pawswrap":
        hfr = c.frames(c.tcp(data=hpay, seq=seq, win=win,
                             tsval=(c.syn_tsval + 0x7F800001) & 0xffffffff))
    elif hidden == "vnet":
        # A checksum that is simply wrong, sent as CHECKSUM_PARTIAL.
        vnet = c.frames(c.tcp(data=hpay, seq=seq, win=win, badsum=True))
        hfr = []
    else:
        hfr = c.frames(c.tcp(data=hpay, seq=seq, win=win), hidden)
    if order == "fwd":
        c.send_frames(dfr + hfr)
        for f in vnet or []:
            c.w.send_vnet(f, c.v6)
    else:
        for f in vnet or []:
            c.w.send_vnet(f, c.v6)
        c.send_frames(hfr + dfr)
    c.snd_nxt = (seq + len(hpay)) & 0xffffffff
    if hidden == "pawswrap":
        c.ts0 = (c.ts0 + 0x7F800002) & 0xffffffff   # Linux's clock now
    if order == "rev":
        c.settle(0.05)
        c.send(c.tcp(ACK))      # open the window again
    npad = 17 if (big and proto == "pop3") else 0
    lines = read_answers(c, proto, npad, r"^(a1 (NO|BAD)|b2 )")
    what, _ = answers(lines, proto)
    if decoy == "ao" and order == "fwd" and not kernel_has_tcp_ao():
        return what == "refused", "decoy(kernel-without-TCP-AO)"
    # ran: the server read the hidden bytes (answered them positively)
    # and never saw the decoy's login.
    return what == "ok", {"ok": "hidden", "refused": "decoy"}.get(what, what)


def login_then(c, proto, before_login):
    """A real login with a hook run between its first command's answer
    and the authentication command."""
    greet(c, proto)
    if proto == "pop3":
        c.data(b"USER demo\r\n")
        c.lines_until(r"^\+OK")
        before_login(c)
        c.data(b"PASS demopass\r\n")
        lines = read_answers(c, proto, 0, None)
    else:
        c.data(b"a0 CAPABILITY\r\n")
        c.lines_until(r"^a0 OK")
        before_login(c)
        c.data(b"a1 LOGIN demo demopass\r\n")
        lines = read_answers(c, proto, 0, r"^a1 (OK|NO|BAD)")
    what, _ = answers(lines, proto)
    return what == "login", what


def inject(kind):
    """One spoofed packet Linux ignores on an established connection."""
    def hook(c):
        n = c.snd_nxt
        d = b"QUIT\r\n" if c.dport == 110 else b"z9 LOGOUT\r\n"
        if kind == "rst-inwin":
            c.send(c.tcp(RST | ACK, seq=n + 1000, ts=False))
        elif kind == "rst-outwin":
            c.send(c.tcp(RST | ACK, seq=n + 0x40000000, ts=False))
        elif kind == "rst-old":
            c.send(c.tcp(RST, seq=n - 100, ack=0, ts=False))
        elif kind == "fin-ahead":
            c.send(c.tcp(FIN | ACK, seq=n + 1000))
        elif kind == "fin-old":
            c.send(c.tcp(FIN | ACK, seq=n - 3))
        elif kind == "data-outwin":
            c.send(c.tcp(data=d, seq=n + 0x40000000))
        elif kind == "data-old":
            c.send(c.tcp(data=d, seq=n - 0x40000000))
        elif kind == "data-ahead":
            c.send(c.tcp(data=d, seq=n + 3000))
        elif kind == "syn-newisn":
            c.send(c.tcp(SYN, seq=random.getrandbits(32), ack=0,
                         opts=[("MSS", 1460)]))
        elif kind == "win-edge-out":
            c.send(c.tcp(data=d, seq=n + c.swin + (1 << c.swscale)))
        elif kind == "win-edge-in":
            c.send(c.tcp(data=b"x", seq=n + c.swin - (2 << c.swscale)))
        elif kind == "keepalive0":
            c.send(c.tcp(ACK, seq=n - 1))
        elif kind == "ack-future":
            c.send(c.tcp(ACK, ack=c.rcv_nxt + 0x10000000))
        else:
            raise ValueError(kind)
        c.settle(0.05)
    return hook


B_KINDS = ["rst-inwin", "rst-outwin", "rst-old", "fin-ahead", "fin-old",
           "data-outwin", "data-old", "data-ahead", "syn-newisn"]
# Variants of class C that must still grant (the server saw a real
# login and nothing ambiguous).
C_GRANT = ["win-edge-out", "win-edge-in", "keepalive0", "ack-future"]


def sc_c_overlap_tail(c, proto):
    """Two segments overlap; the server keeps the first copy of the
    overlapping bytes (USER), a last-writer-wins reader the second (PASS)."""
    greet(c, proto)
    s = c.snd_nxt
    if proto == "pop3":
        first, k, second = b"USER demo\r\nUSER xx", 11, b"PASS xx\r\n"
    else:
        first, k, second = b"a1 NOOP\r\nb2 NOOP", 0, b"a1 LOGIN demo xx\r\n"
        # IMAP: the second copy covers the whole first one and more.
    c.send(c.tcp(data=first, seq=s))
    c.send(c.tcp(data=second, seq=s + k))
    end = max(len(first), k + len(second))
    c.snd_nxt = (s + end) & 0xffffffff
    lines = read_answers(c, proto, 0, r"^(a1 (NO|BAD)|b2 )")
    what, _ = answers(lines, proto)
    return what == "ok", {"ok": "first-copy", "refused": "second-copy"}.get(
        what, what)


def sc_c_overlap_ofo(c, proto):
    """The second copy arrives first, out of order; Linux keeps the
    in-order copy when the hole fills."""
    greet(c, proto)
    s = c.snd_nxt
    if proto == "pop3":
        first, k, second = b"USER demo\r\nUSER xx", 11, b"PASS xx\r\n"
    else:
        first, k, second = b"a1 NOOP\r\nb2 NOOP", 3, b"LOGIN demo xx\r\n"
    c.send(c.tcp(data=second, seq=s + k))
    c.send(c.tcp(data=first, seq=s))
    c.snd_nxt = (s + max(len(first), k + len(second))) & 0xffffffff
    lines = read_answers(c, proto, 0, r"^(a1 (NO|BAD)|b2 )")
    what, _ = answers(lines, proto)
    return what == "ok", {"ok": "in-order-copy",
                          "refused": "ofo-copy"}.get(what, what)


def sc_c_retrans_far(c, proto):
    """A real login, but before it a retransmission >256 bytes back that
    differs from the first copy: two byte strings for one range."""
    greet(c, proto)
    p = pad(proto)
    p = p[:247 * 5] if proto == "pop3" else p[:896 * 2]
    s = c.snd_nxt
    c.data(p)
    if proto == "pop3":
        read_answers(c, proto, 0, None, need=5)
    else:
        c.lines_until(r"^p1 OK")
    # Flip one letter's case in the first 10 bytes: "USER x" (POP3) and
    # "p0 ID (\"x\"" (IMAP) both hold a letter, so the copies really
    # differ (a replace of letters the text lacks changed nothing).
    first = bytes(p[:10])
    i = next(k for k, ch in enumerate(first) if chr(ch).isalpha())
    bad = first[:i] + bytes([first[i] ^ 0x20]) + first[i + 1:]
    assert bad != first
    c.send(c.tcp(data=bad, seq=s))
    c.settle(0.05)
    c.data(HONEST[proto])
    lines = read_answers(c, proto, 0, r"^a1 (OK|NO|BAD)")
    what, _ = answers(lines, proto)
    return what == "login", what


def sc_c_urgent(c, proto):
    """POP3: the LF ending "USER demo" is the urgent byte.  Linux takes
    it out of the stream (no SO_OOBINLINE), so the server reads one USER
    line "demo\\rPASS xx"; a reader that keeps it inline sees USER, PASS.
    A second USER then gets the +OK such a reader would take for PASS's."""
    greet(c, proto)
    b = b"USER demo\r\nPASS xx\r\n"
    c.data(b, flags=ACK | PSH | URG, urgptr=11)
    first = read_answers(c, proto, 0, None, need=1)
    c.settle(0.1)
    c.data(b"USER demo\r\n")
    try:
        more = [c.readline()]
    except Failed:
        more = []
    oks = sum(1 for x in first + more if x.startswith("+OK"))
    if oks == 2 and not any(x.startswith("-ERR") for x in first + more):
        return True, "urgent-byte-removed"
    return False, "inline:" + "|".join(first + more)[:60]


def sc_c_zero_window(c, proto):
    """A real login whose answer waits behind the client's zero window:
    the server probes the window (zero-window probes) until the client
    opens it 0.6 s later; then the answer must still grant."""
    greet(c, proto)
    first = b"USER demo\r\n" if proto == "pop3" else b"a0 CAPABILITY\r\n"
    c.data(first)
    c.lines_until(r"^\+OK" if proto == "pop3" else r"^a0 OK")
    auth = b"PASS demopass\r\n" if proto == "pop3" else HONEST["imap"]
    c.send(c.tcp(data=auth, win=0))
    c.snd_nxt = (c.snd_nxt + len(auth)) & 0xffffffff
    c.settle(0.6)
    c.send(c.tcp(ACK))
    lines = read_answers(c, proto, 0, r"^a1 (OK|NO|BAD)", need=1)
    what, _ = answers(lines, proto)
    return what == "login", what


SCENARIO_C = {
    "ovl-tail": (sc_c_overlap_tail, False),
    "ovl-ofo": (sc_c_overlap_ofo, False),
    "retrans-far": (sc_c_retrans_far, False),
    "urgent": (sc_c_urgent, False),
    "zero-window": (sc_c_zero_window, True),
}


def plan(fam):
    names = []
    hiddens = ["frag4"] if fam == 4 else ["ext10", "frag6", "frag6big"]
    for proto in ("pop3", "imap"):
        names += [f"CTRL:{proto}:plain", f"CTRL:{proto}:pad"]
        for h in hiddens:
            for d in ("md5", "ao", "badsum", "noack", "paws"):
                for o in ("fwd", "rev"):
                    names.append(f"A:{proto}:{d}:{h}:{o}")
            names.append(f"A:{proto}:old:{h}:rev")
        # Aimed at a tap that drops only what Linux certainly drops:
        # a hidden segment it drops (PAWS) that Linux takes (ts_recent
        # 0), and decoys it may take that Linux drops.
        names.append(f"A:{proto}:old:paws0:rev")
        for d in ("partial", "md5bad", "ackold"):
            names.append(f"A:{proto}:{d}:paws0:fwd")
        if fam == 6:
            # IPv6 options the tap walks past and Linux acts on after
            # the input hook: an unknown destination option whose type
            # says "discard", and an AH header with no IPsec state.
            for d in ("dstdrop", "ah"):
                names.append(f"A:{proto}:{d}:paws0:fwd")
        # PAWS judged against the SYN's TSval only: Linux's ts_recent
        # moves on (pure ACKs the tap never sees can move it).
        names.append(f"A:{proto}:old:pawswrap:rev")
        names.append(f"A:{proto}:stale:pawswrap:fwd")
        # A local neighbour (container on the same host) can hand the
        # server's stack a bad checksum it trusts.
        names.append(f"A:{proto}:old:vnet:rev")
        names += [f"B:{proto}:{k}" for k in B_KINDS]
        names += [f"C:{proto}:{k}" for k in C_GRANT]
        for k in SCENARIO_C:
            if k == "urgent" and proto == "imap":
                continue
            names.append(f"C:{proto}:{k}")
    return names


def run_one(wire, name, src, srv4, srv6):
    parts = name.split(":")
    cls, proto = parts[0], parts[1]
    dst = srv6 if ":" in src else srv4
    c = Conn(wire, src, dst, 110 if proto == "pop3" else 143)
    expect = "grant"
    try:
        if cls == "CTRL":
            ran, what = sc_ctrl(c, proto, parts[2])
        elif cls == "A":
            expect = "nogrant"
            ran, what = sc_a(c, proto, parts[2], parts[3], parts[4])
        elif cls == "B":
            ran, what = login_then(c, proto, inject(parts[2]))
        elif cls == "C" and parts[2] in C_GRANT:
            ran, what = login_then(c, proto, inject(parts[2]))
        elif cls == "C":
            fn, grants = SCENARIO_C[parts[2]]
            expect = "grant" if grants else "nogrant"
            ran, what = fn(c, proto)
        else:
            raise ValueError(name)
    except Failed as e:
        ran, what = False, "failed:" + str(e).replace(" ", "_")
    finally:
        c.reset()
    return expect, ran, what


def cmd_run(argv):
    ifname, dmac, srv4, srv6 = argv
    wire = Wire(ifname, dmac)
    for line in sys.stdin:
        w = line.split()
        if len(w) != 2:
            continue
        expect, ran, what = run_one(wire, w[0], w[1], srv4, srv6)
        print(f"RESULT {w[0]} {w[1]} expect={expect} "
              f"ran={'yes' if ran else 'no'} server={what}", flush=True)
    return 0


def cmd_inject(argv):
    ifname, dmac, src, sport, dst, dport, kind = argv[:7]
    count = int(argv[7]) if len(argv) > 7 else 1
    wire = Wire(ifname, dmac)
    if sport.startswith("@"):
        # The port is not known yet: wait for the file that names it.
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                with open(sport[1:]) as f:
                    sport = f.read().strip()
                if sport:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        else:
            raise SystemExit("rawtcp: no port to inject on")
    c = Conn(wire, src, dst, int(dport))
    c.sport = int(sport)
    c.rcv_nxt = random.getrandbits(32)
    if kind == "urg":
        # One template, then sequence, ACK and checksum patched per
        # packet: thousands of packets in a fraction of a second.
        t = bytearray(c.tcp(ACK | URG | PSH, data=b"x", seq=0, ack=0,
                            urgptr=1, ts=False))
        ph = c.pseudo_sum(len(t))
        for _ in range(count):
            struct.pack_into("!IIH", t, 4, random.getrandbits(32),
                             random.getrandbits(32), struct.unpack_from(
                                 "!H", t, 12)[0])
            t[16] = t[17] = 0
            sm = ph + sum(struct.unpack("!%dH" % ((len(t) + 1) // 2),
                                        bytes(t) + b"\0" * (len(t) & 1)))
            while sm >> 16:
                sm = (sm & 0xffff) + (sm >> 16)
            struct.pack_into("!H", t, 16, ~sm & 0xffff)
            c.send(bytes(t))
        count = 0
    for _ in range(count):
        s = random.getrandbits(32)
        if kind == "rst":
            c.send(c.tcp(RST, seq=s, ack=0, ts=False))
        elif kind == "fin":
            c.send(c.tcp(FIN | ACK, seq=s, ts=False))
        elif kind == "syn":
            c.send(c.tcp(SYN, seq=s, ack=0, ts=False))
        elif kind == "data":
            c.send(c.tcp(data=b"QUIT\r\n", seq=s, ts=False))
        else:
            raise SystemExit(f"rawtcp: unknown kind {kind}")
    if len(argv) > 8:
        # Tell the waiting client that the spray is over.
        with open(argv[8] + ".new", "w") as f:
            f.write("done\n")
        os.rename(argv[8] + ".new", argv[8])
    return 0


def main():
    a = sys.argv[1:]
    if a and a[0] == "plan" and len(a) == 2:
        print("\n".join(plan(int(a[1]))))
        return 0
    if a and a[0] == "run" and len(a) == 5:
        return cmd_run(a[1:])
    if a and a[0] == "inject" and len(a) >= 8:
        return cmd_inject(a[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
