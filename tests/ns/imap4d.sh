#!/bin/bash
# The IMAP machine against a second real server, GNU Mailutils imap4d
# (Debian 12: 3.15), whose literal handling differs from Dovecot's:
# LITERAL+ is advertised only in CAPABILITY, not in the greeting.  A
# client that asked CAPABILITY may send {n+} and is granted; one that did
# not gives the tap no proof that the server read {n+} as a literal
# (this version sends no "+" for it), so it is not granted; synchronizing
# literals (the server's "+") and plain LOGIN grant.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"
command -v imap4d >/dev/null || skip_all "mailutils-imap4d not installed"

world_up || { nok "world_up"; exit 1; }
# A virtual-domain user: demo@example.test / demopass, mail in $WORLD.
mkdir -p "$WORLD/mu/pw" "$WORLD/mu/home" && chown nobody "$WORLD/mu/home"
hash=$(/usr/bin/python3 -c 'import crypt; print(crypt.crypt("demopass", crypt.mksalt(crypt.METHOD_SHA512)))' 2>/dev/null)
echo "demo:$hash:$(id -u nobody):$(id -g nobody)::$WORLD/mu/home:/bin/false" > "$WORLD/mu/pw/example.test"
cat > "$WORLD/mu/imap4d.conf" <<EOF
mode daemon;
foreground yes;
server $SRV4:143 { };
auth {
  authentication generic;
  authorization virtdomain;
};
virtdomain {
  passwd-dir $WORLD/mu/pw;
};
logging { syslog no; };
EOF
world_spawn imap4d srv imap4d --no-site-config --config-file="$WORLD/mu/imap4d.conf"
eventually 3 world_port_open c1 "$SRV4" 143 || { nok "imap4d listens"; sed 's/^/# /' "$WORLD/imap4d.log"; exit 1; }
dracd_start -e 10m || { nok "dracd starts"; exit 1; }
ok "imap4d and dracd running"

# dialogue NAME WANT BYTES...: send each chunk, read to the tagged
# answer of a1; WANT is grant or nogrant.
dialogue() {
	local name=$1 want=$2 out rc; shift 2
	revoke_all
	out=$(c1 /usr/bin/python3 - "$SRV4" "$@" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 143), timeout=3)
f = s.makefile("rb")
seen = [f.readline()]
for chunk in sys.argv[2:]:
    if chunk.startswith("wait:"):
        while True:
            l = f.readline(); seen.append(l)
            if l.startswith(chunk[5:].encode()):
                break
        continue
    s.sendall(chunk.encode().decode("unicode_escape").encode("latin-1"))
    time.sleep(0.05)
while True:
    l = f.readline(); seen.append(l)
    if not l or l.startswith(b"a1 "):
        break
s.sendall(b"z LOGOUT\r\n")
print(b"|".join(x.rstrip() for x in seen).decode("latin-1"))
sys.exit(0 if seen[-1].startswith(b"a1 OK") else 1)
PY
)
	rc=$?
	echo "# $name: $out" | cut -c1-200
	check "$name: imap4d accepts the login" test $rc -eq 0
	if [ "$want" = grant ]; then
		check "$name: grants $C1_4" wait_granted "$C1_4" 1
	else
		check "$name: grants nothing (no proof how the server read it)" not_granted "$C1_4" 0.4
	fi
}

dialogue "plain LOGIN" grant 'a1 LOGIN demo@example.test demopass\r\n'
dialogue "synchronizing literals" grant 'a1 LOGIN {17}\r\n' 'wait:+' 'demo@example.test {8}\r\n' 'wait:+' 'demopass\r\n'
dialogue "CAPABILITY, then {n+} literals" grant 'a0 CAPABILITY\r\n' 'wait:a0 OK' \
	'a1 LOGIN {17+}\r\ndemo@example.test {8+}\r\ndemopass\r\n'
dialogue "{n+} literals without CAPABILITY" nogrant 'a1 LOGIN {17+}\r\ndemo@example.test {8+}\r\ndemopass\r\n'
t_done
