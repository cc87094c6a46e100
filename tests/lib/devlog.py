#!/usr/bin/python3
"""devlog.py SOCKET FILE - a syslog socket that writes each datagram it
receives as one line of FILE (trailing newlines and NULs cut), flushed at
once.  For capturing a real server's log lines (tests/ns/realservers.sh
with CAPTURE=DIR); the tests themselves let dracd read the socket."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        d = s.recv(65536).rstrip(b"\n\0")
        f.write(d + b"\n")
