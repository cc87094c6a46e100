#!/usr/bin/python3
"""mailclient.py - real and adversarial mail clients for the drac tests.

Run inside a client network namespace (tests/lib/world.sh does that):

  mailclient.py pop3-login ADDR [USER PASS] [--port N] [--tls|--stls]
  mailclient.py imap-login ADDR [USER PASS] [--port N] [--tls|--starttls]
  mailclient.py pop3-auth-plain ADDR [USER PASS] [--ir] [--tls|--stls]
  mailclient.py imap-auth-plain ADDR [USER PASS] [--ir] [--tls|--starttls]
        exit 0: logged in; 1: the server refused; 2: transport problem
        (the reason - refused, timeout, closed, tls-error - on stderr).
  mailclient.py smtp-rcpt ADDR PORT [--rcpt A] [--from A] [--data]
        prints the reply code to RCPT TO (250, 554, ...), or the code of an
        earlier step that failed, or refused / timeout / closed.
  mailclient.py port-open ADDR PORT
        exit 0 when a TCP connection is accepted; prints refused / timeout.
  mailclient.py raw ADDR PORT STEP...
        one dialogue over one TCP connection; steps:
          send:TEXT   one send(); TEXT takes \\r \\n \\t \\xNN \\\\ escapes
          split:TEXT  one byte per send() and per TCP segment (TCP_NODELAY
                      and --split-delay seconds between bytes)
          read        read one line and print it
          expect:RE   read one line; fail unless re.search(RE, line)
          until:RE    read lines until one matches RE
          drain[:S]   print whatever arrives until S seconds (0.3) of quiet
          eof         fail unless the server closes the connection
          sleep:S     pause S seconds
          starttls    wrap the connection in TLS (certificate not checked)
          shut        shutdown(SHUT_WR)
        exit 0 when every step succeeded.
  mailclient.py scenario NAME ADDR [USER PASS] [--port N]
        a named adversarial dialogue (mailclient.py list shows them).  Prints
        the dialogue and a last line "RESULT: login=yes|no ok|unexpected";
        exit 0 when the server answered as the scenario intends.

Options before the command: --timeout S (default 3, or MAILCLIENT_TIMEOUT),
-v (login and smtp-rcpt commands: show the dialogue / reply text on stderr).
raw and scenario also take --source ADDR and --split-delay S (0.003).
Lines printed: "C: ..." what the client sent, "S: ..." what the server said.
IPv6 literals work anywhere an address is taken.
"""

import os
import socket
import struct
import sys
import time

# poplib, imaplib, smtplib, ssl and base64 are imported where they are
# used: together they double the start-up time of every client run.

TIMEOUT = float(os.environ.get("MAILCLIENT_TIMEOUT", "3"))
DEMO_USER, DEMO_PASS = "demo", "demopass"


class Failed(Exception):
    """The dialogue did not go as the step demanded."""


def tls_context():
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def transport_reason(e):
    """One word for why a connection failed, as the shell helpers print it."""
    if isinstance(e, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(e, (ConnectionRefusedError, ConnectionResetError,
                      BrokenPipeError)):
        return "refused"
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(e, ssl.SSLError):
        return "tls-error"
    smtplib = sys.modules.get("smtplib")
    if isinstance(e, EOFError) or (smtplib is not None and isinstance(
            e, smtplib.SMTPServerDisconnected)):
        return "closed"
    if isinstance(e, OSError) and e.errno is not None:
        return "error:" + os.strerror(e.errno)
    return "error:" + type(e).__name__


def show(prefix, data):
    """Print one protocol line readably; control bytes as escapes."""
    if isinstance(data, bytes):
        data = data.decode("latin-1")
    out = data.encode("unicode_escape").decode("ascii")
    print(f"{prefix}: {out}", flush=True)


def unescape(text):
    return text.encode("latin-1", "backslashreplace").decode(
        "unicode_escape").encode("latin-1")


def tcp_data_segs_out(sock):
    """tcpi_data_segs_out from TCP_INFO (offset 156, Linux >= 4.6)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except OSError:
        return None
    if len(info) < 160:
        return None
    return struct.unpack_from("I", info, 156)[0]


class Conn:
    """A line-oriented TCP (optionally TLS) connection that logs both ways."""

    def __init__(self, addr, port, timeout=TIMEOUT, tls=False, source=None,
                 quiet=False, split_delay=0.003):
        src = (source, 0) if source else None
        self.sock = socket.create_connection((addr, port), timeout=timeout,
                                             source_address=src)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.quiet = quiet
        self.split_delay = split_delay
        self.buf = b""
        if tls:
            self.starttls()

    def starttls(self):
        if self.buf:
            raise Failed("server sent data before the TLS handshake")
        self.sock = tls_context().wrap_socket(self.sock)
        if not self.quiet:
            print(f"-- TLS {self.sock.version()}", flush=True)

    def send(self, data):
        if not self.quiet:
            show("C", data)
        self.sock.sendall(data)

    def send_split(self, data):
        """Each byte in its own TCP segment; checked with TCP_INFO."""
        if type(self.sock).__name__ == "SSLSocket":
            raise Failed("split sends make no sense inside TLS")
        if not self.quiet:
            show("C", data)
            print(f"-- split into {len(data)} segments", flush=True)
        before = tcp_data_segs_out(self.sock)
        for i in range(len(data)):
            self.sock.send(data[i:i + 1])
            time.sleep(self.split_delay)
        after = tcp_data_segs_out(self.sock)
        if before is not None and after is not None \
                and after - before < len(data):
            raise Failed(f"only {after - before} data segments for "
                         f"{len(data)} bytes")

    def readline(self, timeout=None):
        """One line without its CRLF, as bytes; Failed on EOF or timeout."""
        self.sock.settimeout(timeout or self.timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                raise Failed("timeout waiting for a line"
                             + (f" (partial: {self.buf!r})" if self.buf
                                else ""))
            if not chunk:
                raise Failed("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        if line.endswith(b"\r"):
            line = line[:-1]
        if not self.quiet:
            show("S", line)
        return line

    def drain(self, quiet_time=0.3):
        lines = []
        try:
            while True:
                lines.append(self.readline(quiet_time))
        except Failed:
            pass
        return lines

    def expect_eof(self):
        self.sock.settimeout(self.timeout)
        data = self.buf
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, TimeoutError):
            raise Failed("the server did not close the connection")
        except ConnectionResetError:
            pass
        for line in data.splitlines():
            if not self.quiet:
                show("S", line)
        self.buf = b""
        if not self.quiet:
            print("-- closed by the server", flush=True)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run_steps(conn, steps):
    """steps: list of (op, arg) tuples; raises Failed on the first miss."""
    import re
    for op, arg in steps:
        if op == "send":
            conn.send(arg)
        elif op == "split":
            conn.send_split(arg)
        elif op == "read":
            conn.readline()
        elif op == "expect":
            line = conn.readline().decode("latin-1")
            if not re.search(arg, line):
                raise Failed(f"expected /{arg}/, got {line!r}")
        elif op == "until":
            while not re.search(arg, conn.readline().decode("latin-1")):
                pass
        elif op == "drain":
            conn.drain(float(arg) if arg else 0.3)
        elif op == "eof":
            conn.expect_eof()
        elif op == "sleep":
            time.sleep(float(arg))
        elif op == "starttls":
            conn.starttls()
        elif op == "shut":
            conn.sock.shutdown(socket.SHUT_WR)
        else:
            raise Failed(f"unknown step {op}")


def parse_step(word):
    op, _, arg = word.partition(":")
    if op in ("send", "split"):
        return (op, unescape(arg))
    if op in ("read", "eof", "starttls", "shut"):
        return (op, None)
    if op in ("expect", "until", "drain", "sleep"):
        return (op, arg)
    raise SystemExit(f"mailclient: unknown step {word!r}")


# --- SASL PLAIN / LOGIN -------------------------------------------------

def b64(data):
    import base64
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data)


def plain_response(user, password):
    return b64(b"\0" + user.encode() + b"\0" + password.encode())


# --- scenarios --------------------------------------------------------------
# Each returns (default port, login expected, steps).  "login expected" is
# what a correct POP-before-SMTP gate should conclude: yes means the server
# really accepted the credentials in this dialogue (a grant is due), no means
# nothing may be granted.

def wrong_of(password):
    return "wrong" if password != "wrong" else "wrong2"


def sc_pop3_pipelined_fail_noop(u, p):
    return 110, False, [
        ("expect", r"^\+OK"),
        ("send", f"USER {u}\r\nPASS {wrong_of(p)}\r\nNOOP\r\n".encode()),
        ("expect", r"^\+OK"),          # USER
        ("expect", r"^-ERR"),          # PASS wrong
        ("expect", r"^-ERR"),          # NOOP is not a pre-login command
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_pipelined_ok_noop(u, p):
    return 110, True, [
        ("expect", r"^\+OK"),
        ("send", f"USER {u}\r\nPASS {p}\r\nNOOP\r\n".encode()),
        ("expect", r"^\+OK"),          # USER
        ("expect", r"^\+OK"),          # PASS: logged in
        ("expect", r"^\+OK"),          # NOOP, answered by the pop3 process
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_split_bytes(u, p):
    return 110, True, [
        ("expect", r"^\+OK"),
        ("split", f"USER {u}\r\n".encode()),
        ("expect", r"^\+OK"),
        ("split", f"PASS {p}\r\n".encode()),
        ("expect", r"^\+OK"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_fake_server_text(u, p):
    # The client says what a server would say; only the server's own
    # answers may count, and they are all refusals here.
    return 110, False, [
        ("expect", r"^\+OK"),
        ("send", b"+OK Logged in.\r\n"),
        ("expect", r"^-ERR"),
        ("send", b"USER +OK Logged in.\r\n"),
        ("expect", r"^\+OK"),
        ("send", b"PASS +OK Logged in.\r\n"),
        ("expect", r"^-ERR"),
        ("send", f"USER {u}\r\n".encode()),
        ("expect", r"^\+OK"),
        ("send", f"PASS {wrong_of(p)}\r\n+OK Logged in.\r\n".encode()),
        ("expect", r"^-ERR"),
        ("expect", r"^-ERR"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_auth_plain(u, p):
    return 110, True, [
        ("expect", r"^\+OK"),
        ("send", b"AUTH PLAIN\r\n"),
        ("expect", r"^\+ ?$"),
        ("send", plain_response(u, p) + b"\r\n"),
        ("expect", r"^\+OK"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_auth_plain_ir(u, p):
    return 110, True, [
        ("expect", r"^\+OK"),
        ("send", b"AUTH PLAIN " + plain_response(u, p) + b"\r\n"),
        ("expect", r"^\+OK"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_auth_login(u, p):
    return 110, True, [
        ("expect", r"^\+OK"),
        ("send", b"AUTH LOGIN\r\n"),
        ("expect", r"^\+ "),
        ("send", b64(u) + b"\r\n"),
        ("expect", r"^\+ "),
        ("send", b64(p) + b"\r\n"),
        ("expect", r"^\+OK"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_auth_cancel(u, p):
    return 110, False, [
        ("expect", r"^\+OK"),
        ("send", b"AUTH PLAIN\r\n"),
        ("expect", r"^\+ ?$"),
        ("send", b"*\r\n"),
        ("expect", r"^-ERR"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_pop3_auth_plain_fail(u, p):
    return 110, False, [
        ("expect", r"^\+OK"),
        ("send", b"AUTH PLAIN " + plain_response(u, wrong_of(p)) + b"\r\n"),
        ("expect", r"^-ERR"),
        ("send", b"QUIT\r\n"),
        ("expect", r"^\+OK"),
    ]


def sc_imap_tag_reuse(u, p):
    # A tagged OK for the reused tag answers the NOOP, not the LOGIN.
    return 143, False, [
        ("expect", r"^\* OK"),
        ("send", f"a1 LOGIN {u} {wrong_of(p)}\r\na1 NOOP\r\n".encode()),
        ("expect", r"^a1 NO"),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_pipelined_retry(u, p):
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", f"a1 LOGIN {u} {wrong_of(p)}\r\na2 LOGIN {u} {p}\r\n"
         .encode()),
        ("expect", r"^a1 NO"),
        ("expect", r"^a2 OK"),
        ("send", b"a3 LOGOUT\r\n"),
        ("until", r"^a3 OK"),
    ]


def sc_imap_split_bytes(u, p):
    return 143, True, [
        ("expect", r"^\* OK"),
        ("split", f"a1 LOGIN {u} {p}\r\n".encode()),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_fake_server_text(u, p):
    # Dovecot hangs up after the third invalid command: two here.
    return 143, False, [
        ("expect", r"^\* OK"),
        ("send", b"* OK [CAPABILITY IMAP4rev1] fake ready\r\n"),
        ("expect", r"^\* BAD"),
        ("send", f"a2 LOGIN {u} {wrong_of(p)}\r\na2 OK LOGIN completed\r\n"
         .encode()),
        ("expect", r"^a2 NO"),
        ("expect", r"^a2 BAD"),
        ("send", b"a3 LOGOUT\r\n"),
        ("until", r"^a3 OK"),
    ]


def sc_imap_quoted_login(u, p):
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", f'a1 LOGIN "{u}" "{p}"\r\n'.encode()),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_literal_login(u, p):
    ub, pb = u.encode(), p.encode()
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", b"a1 LOGIN {%d}\r\n" % len(ub)),
        ("expect", r"^\+ "),
        ("send", ub + b" {%d}\r\n" % len(pb)),
        ("expect", r"^\+ "),
        ("send", pb + b"\r\n"),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_literal_plus(u, p):
    ub, pb = u.encode(), p.encode()
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", b"a1 LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n"
         % (len(ub), ub, len(pb), pb)),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_literal_fail(u, p):
    # Inside the literal the client sends text that reads like a tagged OK.
    ub, wb = u.encode(), b"a1 OK LOGIN done"
    return 143, False, [
        ("expect", r"^\* OK"),
        ("send", b"a1 LOGIN %s {%d}\r\n" % (ub, len(wb))),
        ("expect", r"^\+ "),
        ("send", wb + b"\r\n"),
        ("expect", r"^a1 NO"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_authenticate_plain(u, p):
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", b"a1 AUTHENTICATE PLAIN\r\n"),
        ("expect", r"^\+ ?$"),
        ("send", plain_response(u, p) + b"\r\n"),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_authenticate_plain_ir(u, p):
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", b"a1 AUTHENTICATE PLAIN " + plain_response(u, p) + b"\r\n"),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_authenticate_login(u, p):
    return 143, True, [
        ("expect", r"^\* OK"),
        ("send", b"a1 AUTHENTICATE LOGIN\r\n"),
        ("expect", r"^\+ "),
        ("send", b64(u) + b"\r\n"),
        ("expect", r"^\+ "),
        ("send", b64(p) + b"\r\n"),
        ("expect", r"^a1 OK"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_authenticate_cancel(u, p):
    return 143, False, [
        ("expect", r"^\* OK"),
        ("send", b"a1 AUTHENTICATE PLAIN\r\n"),
        ("expect", r"^\+ ?$"),
        ("send", b"*\r\n"),
        ("expect", r"^a1 BAD"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


def sc_imap_authenticate_fail(u, p):
    return 143, False, [
        ("expect", r"^\* OK"),
        ("send", b"a1 AUTHENTICATE PLAIN "
         + plain_response(u, wrong_of(p)) + b"\r\n"),
        ("expect", r"^a1 NO"),
        ("send", b"a2 LOGOUT\r\n"),
        ("until", r"^a2 OK"),
    ]


SCENARIOS = {
    "pop3-pipelined-fail-noop": sc_pop3_pipelined_fail_noop,
    "pop3-pipelined-ok-noop": sc_pop3_pipelined_ok_noop,
    "pop3-split-bytes": sc_pop3_split_bytes,
    "pop3-fake-server-text": sc_pop3_fake_server_text,
    "pop3-auth-plain": sc_pop3_auth_plain,
    "pop3-auth-plain-ir": sc_pop3_auth_plain_ir,
    "pop3-auth-login": sc_pop3_auth_login,
    "pop3-auth-cancel": sc_pop3_auth_cancel,
    "pop3-auth-plain-fail": sc_pop3_auth_plain_fail,
    "imap-tag-reuse": sc_imap_tag_reuse,
    "imap-pipelined-retry": sc_imap_pipelined_retry,
    "imap-split-bytes": sc_imap_split_bytes,
    "imap-fake-server-text": sc_imap_fake_server_text,
    "imap-quoted-login": sc_imap_quoted_login,
    "imap-literal-login": sc_imap_literal_login,
    "imap-literal-plus": sc_imap_literal_plus,
    "imap-literal-fail": sc_imap_literal_fail,
    "imap-authenticate-plain": sc_imap_authenticate_plain,
    "imap-authenticate-plain-ir": sc_imap_authenticate_plain_ir,
    "imap-authenticate-login": sc_imap_authenticate_login,
    "imap-authenticate-cancel": sc_imap_authenticate_cancel,
    "imap-authenticate-fail": sc_imap_authenticate_fail,
}


# --- subcommands -------------------------------------------------------------

def transport_fail(e):
    print(transport_reason(e), file=sys.stderr)
    return 2


def cmd_pop3_login(a):
    import poplib
    port = a.port or (995 if a.tls else 110)
    try:
        if a.tls:
            c = poplib.POP3_SSL(a.addr, port, timeout=a.timeout,
                                context=tls_context())
        else:
            c = poplib.POP3(a.addr, port, timeout=a.timeout)
        if a.stls:
            c.stls(tls_context())
        c.user(a.user)
        c.pass_(a.password)
    except poplib.error_proto as e:
        print(f"pop3 refused: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        return transport_fail(e)
    try:
        c.quit()
    except Exception:
        pass
    return 0


def cmd_imap_login(a):
    import imaplib
    port = a.port or (993 if a.tls else 143)
    try:
        if a.tls:
            c = imaplib.IMAP4_SSL(a.addr, port, timeout=a.timeout,
                                  ssl_context=tls_context())
        else:
            c = imaplib.IMAP4(a.addr, port, timeout=a.timeout)
        if a.starttls:
            c.starttls(tls_context())
        c.login(a.user, a.password)
    except imaplib.IMAP4.error as e:
        print(f"imap refused: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        return transport_fail(e)
    try:
        c.logout()
    except Exception:
        pass
    return 0


def auth_dialogue(a, imap):
    """AUTH PLAIN / AUTHENTICATE PLAIN, with or without initial response."""
    port = a.port or ((993 if a.tls else 143) if imap
                      else (995 if a.tls else 110))
    starttls = a.starttls if imap else a.stls
    resp = plain_response(a.user, a.password)
    try:
        c = Conn(a.addr, port, a.timeout, tls=a.tls, quiet=not a.verbose)
        if imap:
            c.readline()
            if starttls:
                run_steps(c, [("send", b"s1 STARTTLS\r\n"),
                              ("until", r"^s1 OK"), ("starttls", None)])
            if a.ir:
                c.send(b"a1 AUTHENTICATE PLAIN " + resp + b"\r\n")
            else:
                run_steps(c, [("send", b"a1 AUTHENTICATE PLAIN\r\n"),
                              ("expect", r"^\+"), ("send", resp + b"\r\n")])
            while True:
                line = c.readline()
                if not line.startswith(b"* "):
                    break
            ok = line.startswith(b"a1 OK")
            c.send(b"a2 LOGOUT\r\n")
        else:
            c.readline()
            if starttls:
                run_steps(c, [("send", b"STLS\r\n"), ("expect", r"^\+OK"),
                              ("starttls", None)])
            if a.ir:
                c.send(b"AUTH PLAIN " + resp + b"\r\n")
            else:
                run_steps(c, [("send", b"AUTH PLAIN\r\n"),
                              ("expect", r"^\+"), ("send", resp + b"\r\n")])
            line = c.readline()
            ok = line.startswith(b"+OK")
            c.send(b"QUIT\r\n")
        c.close()
    except Failed as e:
        print(f"failed: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        return transport_fail(e)
    if not ok:
        print(f"refused: {line.decode('latin-1')}", file=sys.stderr)
        return 1
    return 0


def cmd_smtp_rcpt(a):
    import smtplib
    s = smtplib.SMTP(timeout=a.timeout, local_hostname="client.example.net")
    try:
        code, msg = s.connect(a.addr, a.port)
        if code != 220:
            print(code)
            return 0
        code, msg = s.ehlo()
        if code != 250:
            print(code)
            return 0
        code, msg = s.mail(a.sender)
        if code != 250:
            print(code)
            return 0
        code, msg = s.rcpt(a.rcpt)
        if a.data and code == 250:
            dcode, dmsg = s.data(b"Subject: drac test\r\n\r\ntest\r\n")
            if dcode != 250:
                print(f"data: {dcode} {dmsg.decode('latin-1')}",
                      file=sys.stderr)
        if a.verbose:
            print(f"{code} {msg.decode('latin-1')}", file=sys.stderr)
        print(code)
    except Exception as e:
        print(transport_reason(e))
        return 1
    try:
        s.quit()
    except Exception:
        pass
    return 0


def cmd_port_open(a):
    try:
        socket.create_connection((a.addr, a.port), timeout=a.timeout).close()
    except Exception as e:
        print(transport_reason(e))
        return 1
    return 0


def dialogue(a, steps, port):
    try:
        c = Conn(a.addr, port, a.timeout, tls=getattr(a, "tls", False),
                 source=a.source, split_delay=a.split_delay)
    except Exception as e:
        print(f"RESULT: {transport_reason(e)}", flush=True)
        return None
    try:
        run_steps(c, steps)
        return True
    except Failed as e:
        print(f"-- {e}", flush=True)
        return False
    except Exception as e:
        print(f"-- {transport_reason(e)}", flush=True)
        return False
    finally:
        c.close()


def cmd_raw(a):
    ok = dialogue(a, [parse_step(w) for w in a.steps], a.port)
    if ok is None:
        return 2
    return 0 if ok else 1


def cmd_scenario(a):
    if a.name not in SCENARIOS:
        print(f"unknown scenario {a.name}; try: mailclient.py list",
              file=sys.stderr)
        return 2
    port, login, steps = SCENARIOS[a.name](a.user, a.password)
    ok = dialogue(a, steps, a.port or port)
    if ok is None:
        return 2
    print(f"RESULT: login={'yes' if login else 'no'} "
          f"{'ok' if ok else 'unexpected'}", flush=True)
    return 0 if ok else 1


def cmd_list(a):
    for name, fn in SCENARIOS.items():
        port, login, _ = fn(DEMO_USER, DEMO_PASS)
        print(f"{name} port={port} login={'yes' if login else 'no'}")
    return 0


class Args:
    """What the command line said; attributes as the subcommands use them."""


# name -> (function, positionals, optional positionals with defaults,
#          value options with converters, flag options).  argparse costs
# 40 ms of start-up per run, which adds up over a test suite.
LOGIN_OPTS = {"port": int}
COMMANDS = {
    "pop3-login": (lambda a: cmd_pop3_login(a), ["addr"],
                   [("user", DEMO_USER), ("password", DEMO_PASS)],
                   LOGIN_OPTS, ["tls", "stls"]),
    "imap-login": (lambda a: cmd_imap_login(a), ["addr"],
                   [("user", DEMO_USER), ("password", DEMO_PASS)],
                   LOGIN_OPTS, ["tls", "starttls"]),
    "pop3-auth-plain": (lambda a: auth_dialogue(a, False), ["addr"],
                        [("user", DEMO_USER), ("password", DEMO_PASS)],
                        LOGIN_OPTS, ["tls", "stls", "ir"]),
    "imap-auth-plain": (lambda a: auth_dialogue(a, True), ["addr"],
                        [("user", DEMO_USER), ("password", DEMO_PASS)],
                        LOGIN_OPTS, ["tls", "starttls", "ir"]),
    "smtp-rcpt": (lambda a: cmd_smtp_rcpt(a), ["addr", "port"], [],
                  {"rcpt": str, "from": str}, ["data"]),
    "port-open": (lambda a: cmd_port_open(a), ["addr", "port"], [], {}, []),
    "raw": (lambda a: cmd_raw(a), ["addr", "port"], [],
            {"source": str, "split-delay": float}, ["tls"]),
    "scenario": (lambda a: cmd_scenario(a), ["name", "addr"],
                 [("user", DEMO_USER), ("password", DEMO_PASS)],
                 {"port": int, "source": str, "split-delay": float}, []),
    "list": (lambda a: cmd_list(a), [], [], {}, []),
}
DEFAULTS = {"rcpt": "x@example.net", "from": "sender@example.org",
            "split-delay": 0.003, "port": None, "source": None}


def usage(msg):
    print(f"mailclient: {msg}\n{__doc__}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv):
    a = Args()
    a.timeout, a.verbose = TIMEOUT, False
    while argv and argv[0].startswith("-"):
        opt = argv.pop(0)
        if opt in ("-v", "--verbose"):
            a.verbose = True
        elif opt == "--timeout" and argv:
            a.timeout = float(argv.pop(0))
        elif opt in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        else:
            usage(f"unknown option {opt}")
    if not argv or argv[0] not in COMMANDS:
        usage("which command?")
    a.cmd = argv.pop(0)
    fn, need, optional, valopts, flags = COMMANDS[a.cmd]
    for name in flags:
        setattr(a, name, False)
    for name in valopts:
        setattr(a, name.replace("-", "_"), DEFAULTS.get(name))
    words = []
    while argv:
        w = argv.pop(0)
        if w.startswith("--") and w[2:] in valopts and argv:
            setattr(a, w[2:].replace("-", "_"), valopts[w[2:]](argv.pop(0)))
        elif w.startswith("--") and w[2:] in flags:
            setattr(a, w[2:], True)
        elif w.startswith("--"):
            usage(f"{a.cmd}: unknown option {w}")
        else:
            words.append(w)
    if len(words) < len(need):
        usage(f"{a.cmd} needs {' '.join(need).upper()}")
    for name in need:
        setattr(a, name, words.pop(0))
    if hasattr(a, "port") and isinstance(a.port, str):
        a.port = int(a.port)
    if a.cmd == "raw":
        if not words:
            usage("raw needs steps")
        a.steps, words = words, []
    for name, default in optional:
        setattr(a, name, words.pop(0) if words else default)
    if words:
        usage(f"{a.cmd}: too many arguments: {' '.join(words)}")
    a.sender = getattr(a, "from", None)
    a.fn = fn
    return a


def main():
    a = parse_args(sys.argv[1:])
    sys.exit(a.fn(a))


if __name__ == "__main__":
    main()
