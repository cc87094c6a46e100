#!/bin/bash
# Issue 10: wire detection that cannot be desynchronised.  A raw-packet
# client (tests/lib/rawtcp.py) plays insertion and evasion attacks
# against real Dovecot with dracd's tap running, over IPv4 and IPv6,
# once without and once with a stateful "ct state invalid drop" chain in
# the server namespace in front of the tap:
#   A  decoy + hidden segment over the same sequence range (the decoy a
#      login with a wrong password that the server's TCP drops, the
#      hidden one harmless commands the server takes and the tap cannot
#      see or wrongly judges dropped: IPv4/IPv6 fragments, ten IPv6
#      extension headers, PAWS with ts_recent 0 or moved by a pure ACK,
#      a checksum the stack trusts): no grant
#   B  one spoofed packet Linux ignores during a real login: still a grant
#   C  overlaps, far retransmissions, urgent data (no grant); window
#      edges, keepalives, odd ACKs during a real login (grant)
#   CTRL the same dialogues with honest bytes: a grant (so A and C
#      cannot pass vacuously)
# Each scenario runs from its own source address, so one dump of the set
# at the end answers for all of them; each also checks what the server
# really answered and what Dovecot logged.  Then real clients (curl,
# poplib, imaplib, Thunderbird-style dialogues) must still grant, also
# while a blind attacker sprays spoofed packets at their 4-tuple.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"
RAWTCP=$TOP/tests/lib/rawtcp.py
SRV_MAC=02:00:c0:00:02:01	# br0, fixed by world.sh

/usr/bin/python3 -c 'import scapy' 2>/dev/null || skip_all "needs python3-scapy"
WORLD_TLS=0
world_up || { nok "world_up"; exit 1; }
world_dovecot_start || { nok "dovecot starts"; exit 1; }
dracd_start -e 10m -d || { nok "dracd starts"; exit 1; }
ok "dovecot and dracd running"

# Source addresses of the raw client: the client kernel knows nothing of
# its connections, so its RSTs from these addresses are dropped, in the
# client namespace only.  The IPv6 ones are deprecated (preferred_lft 0)
# so that real clients keep 2001:db8::2 as their source.
RAW4=() RAW6=()
for i in $(seq 100 254); do RAW4+=("192.0.2.$i"); done
for i in $(seq 1 400); do RAW6+=("2001:db8::f:$(printf %x "$i")"); done
{
	for a in "${RAW4[@]}"; do echo "addr add $a/24 dev eth0"; done
	for a in "${RAW6[@]}"; do echo "addr add $a/64 dev eth0 nodad preferred_lft 0"; done
} | ip -n "$NS_C1" -b - || { nok "client addresses"; exit 1; }
c1 nft -f - <<'EOF' || { nok "client RST filter"; exit 1; }
table inet rawtcp {
	chain out {
		type filter hook output priority 0; policy accept;
		ip saddr 192.0.2.100-192.0.2.254 tcp flags rst drop
		ip6 saddr 2001:db8::f:0/112 tcp flags rst drop
	}
}
EOF

# play FW: every scenario of both families; one check that it ran as
# intended, one on the verdict.  Each round starts with no grants and
# reads only the Dovecot log lines written meanwhile, so the next round
# may use the same source addresses.
play() {
	local fw=$1 fam name a line res set4 set6 expect ran what login g
	local plan=$WORLD/plan.$fw out=$WORLD/results.$fw log0 n4=0 n6=0
	: > "$plan"
	revoke_all
	log0=$(wc -l < "$WORLD_DOVECOT_LOG")
	for fam in 4 6; do
		while read -r name; do
			if [ $fam = 4 ]; then a=${RAW4[$n4]}; n4=$((n4 + 1))
			else a=${RAW6[$n6]}; n6=$((n6 + 1)); fi
			[ -n "$a" ] || { nok "out of raw client addresses"; return 1; }
			echo "$name $a" >> "$plan"
		done < <(c1 /usr/bin/python3 "$RAWTCP" plan $fam | grep -E -- "${DESYNC_ONLY:-.}")
	done
	# IPv6 fragments taint their 4-tuple for a minute, and the taint
	# slots are shared (a full slot refuses all hashed there): scenarios
	# that send them go last, so they cannot refuse a grant the others
	# expect.
	{ grep -v ':frag6' "$plan"; grep ':frag6' "$plan"; } > "$plan.sorted"
	c1 /usr/bin/python3 "$RAWTCP" run eth0 "$SRV_MAC" "$SRV4" "$SRV6" \
		< "$plan.sorted" > "$out" 2> "$WORLD/rawtcp.$fw.err"
	[ -s "$WORLD/rawtcp.$fw.err" ] && sed 's/^/# rawtcp: /' "$WORLD/rawtcp.$fw.err" | tail -5
	sleep 0.5
	set4=$(srv nft list set inet drac authed)
	set6=$(srv nft list set inet drac authed6)
	while read -r res name a expect ran what; do
		[ "$res" = RESULT ] || continue
		expect=${expect#expect=} ran=${ran#ran=} what=${what#server=}
		login=no
		tail -n +"$((log0 + 1))" "$WORLD_DOVECOT_LOG" |
			grep -qF "Login: user=<$DEMO_USER>, method=PLAIN, rip=$a," && login=yes
		# Dovecot logged a login exactly when the raw client saw one.
		if [ "$ran" = yes ] && { [ "$what" = login ] && [ $login = yes ] ||
			{ [ "$what" != login ] && [ $login = no ]; }; }; then
			ok "$fw $name ran as intended ($a; server read: $what, dovecot login: $login)"
		else
			nok "$fw $name ran as intended ($a; server read: $what, dovecot login: $login)"
		fi
		g=no
		grep -qw -- "$a" <<<"$set4$set6" && g=yes
		echo "$fw $name $expect $g" >> "$WORLD/summary"
		if { [ "$expect" = grant ] && [ $g = yes ]; } || { [ "$expect" = nogrant ] && [ $g = no ]; }; then
			ok "$fw $name: ${expect/nogrant/no grant} ($a)"
		else
			nok "$fw $name: ${expect/nogrant/no grant} ($a), but granted=$g"
			grep -F "$a:" "$WORLD/dracd.log" | sed 's/^/#   /' | head -3
		fi
	done < "$out"
	[ "$(grep -c '^RESULT' "$out")" = "$(wc -l < "$plan")" ] ||
		nok "$fw: rawtcp ran $(grep -c '^RESULT' "$out") of $(wc -l < "$plan") scenarios"
}

# --- real clients ------------------------------------------------------------
# They must still grant.
client_grants() {	# DESC ADDR(of the client) CMD...
	local d=$1 c=$2; shift 2
	revoke_all
	"$@" > "$WORLD/client.out" 2>&1; local rc=$?
	if [ $rc -eq 0 ] && wait_granted "$c" 2; then
		ok "$d grants $c"
	else
		nok "$d grants $c (exit $rc)"; sed 's/^/#   /' "$WORLD/client.out" | tail -5
		grep -F "$c:" "$WORLD/dracd.log" | tail -2 | sed 's/^/#   /'
	fi
}
plain=$(printf '\0demo\0demopass' | base64)
real_clients() {
for fam in 4 6; do
	s=$SRV4 c=$C1_4 u=$SRV4
	[ $fam = 6 ] && s=$SRV6 c=$C1_6 u="[$SRV6]"
	client_grants "IPv$fam curl pop3://" "$c" c1 curl -sS --max-time 5 -u demo:demopass "pop3://$u/"
	client_grants "IPv$fam curl imap://" "$c" c1 curl -sS --max-time 5 -u demo:demopass "imap://$u/INBOX?ALL"
	client_grants "IPv$fam poplib USER/PASS" "$c" world_pop3_login c1 "$s"
	client_grants "IPv$fam imaplib LOGIN" "$c" world_imap_login c1 "$s"
	client_grants "IPv$fam Thunderbird-style POP3 CAPA + AUTH PLAIN without initial response" "$c" \
		world_client c1 raw "$s" 110 'expect:^\+OK' 'send:CAPA\r\n' 'until:^\.$' \
		'send:AUTH PLAIN\r\n' 'expect:^\+' "send:$plain\\r\\n" 'expect:^\+OK' 'send:QUIT\r\n' 'drain:0.1'
	client_grants "IPv$fam Thunderbird-style IMAP CAPABILITY + AUTHENTICATE PLAIN without initial response" "$c" \
		world_client c1 raw "$s" 143 'expect:^\* OK' 'send:1 capability\r\n' 'until:^1 OK' \
		'send:2 authenticate PLAIN\r\n' 'expect:^\+' "send:$plain\\r\\n" 'until:^2 OK' 'send:3 logout\r\n' 'drain:0.1'
	client_grants "IPv$fam IMAP ID before LOGIN" "$c" \
		world_client c1 raw "$s" 143 'expect:^\* OK' \
		'send:a ID ("name" "Thunderbird" "version" "115.0")\r\n' 'until:^a OK' \
		'send:b LOGIN demo demopass\r\n' 'until:^b OK' 'send:c LOGOUT\r\n' 'drain:0.1'
	client_grants "IPv$fam IMAP pipelined CAPABILITY + LOGIN" "$c" \
		world_client c1 raw "$s" 143 'expect:^\* OK' \
		'send:a CAPABILITY\r\nb LOGIN demo demopass\r\n' 'until:^a OK' 'until:^b OK' \
		'send:c LOGOUT\r\n' 'drain:0.1'
done
}

# --- a real client under a blind spray --------------------------------------
# The attacker knows the 4-tuple but not the sequence numbers: from the
# other client namespace it sends spoofed RSTs, FINs, SYNs and data with
# random sequence numbers while Python's poplib, between USER and PASS,
# waits for it to finish.  The login must still grant.  URG: 5000 one-byte
# urgent segments with random sequence and ACK numbers; Linux drops every
# one that falls outside its real window.
spray_once() {	# FAM KIND N: one login under one spray; 0 when granted
	local fam=$1 kind=$2 n=$3 s c ipid rc
	s=$SRV4 c=$C1_4; [ $fam = 6 ] && s=$SRV6 c=$C1_6
	revoke_all
	rm -f "$WORLD/sport" "$WORLD/sprayed"
	c2 /usr/bin/python3 "$RAWTCP" inject eth0 "$SRV_MAC" "$c" "@$WORLD/sport" \
		"$s" 110 "$kind" $n "$WORLD/sprayed" &
	ipid=$!
	c1 /usr/bin/python3 - "$s" "$WORLD" > "$WORLD/spray.out" 2>&1 <<'PY'
import os, poplib, sys, time
addr, world = sys.argv[1:]
c = poplib.POP3(addr, 110, timeout=5)
print(c.user("demo"))
with open(world + "/sport.new", "w") as f:
    f.write(str(c.sock.getsockname()[1]))
os.rename(world + "/sport.new", world + "/sport")
end = time.monotonic() + 8
while not os.path.exists(world + "/sprayed") and time.monotonic() < end:
    time.sleep(0.01)
print(c.pass_("demopass"))
c.quit()
PY
	rc=$?
	wait $ipid
	[ $rc -eq 0 ] && [ -e "$WORLD/sprayed" ] && wait_granted "$c" 2 && return 0
	echo "#   try failed (exit $rc):"
	tail -3 "$WORLD/spray.out" | sed 's/^/#   /'
	grep -F "$c:" "$WORLD/dracd.log" | tail -2 | sed 's/^/#   /'
	return 1
}

# A blind URG segment that does land in the first 8 KB of the dialogue
# rightly refuses the grant (the server drops the urgent byte from its
# stream): 5000 random sequence numbers do that about once in 100 runs.
# The bug this guards against refused 1 in 512 packets, i.e. every run;
# so URG gets a second, independent spray before it counts as failed
# (both landing by chance: about 1 in 10,000).
spray() {
	local fw=$1 fam kind n tries
	for fam in 4 6; do
		for kind in rst fin syn data urg; do
			n=200 tries=1; [ $kind = urg ] && n=5000 tries=2
			while ! spray_once $fam $kind $n && [ $((tries -= 1)) -gt 0 ]; do :; done
			if [ $tries -gt 0 ]; then
				ok "$fw IPv$fam poplib login under $n blind spoofed ${kind^^} packets grants"
			else
				nok "$fw IPv$fam poplib login under $n blind spoofed ${kind^^} packets grants"
			fi
		done
	done
}

# Real clients first: the IPv6 fragment scenarios taint their 4-tuples,
# and dracd's taint slots are shared (a full slot refuses a grant).
# DESYNC_ONLY=ERE: only the raw scenarios whose names match (debugging).
[ -z "${DESYNC_ONLY:-}" ] && real_clients
[ -z "${DESYNC_ONLY:-}" ] && spray nofw
play nofw
# A stateful firewall in front of the tap (priority 0 < the tap's 100).
srv nft -f - <<'EOF' || nok "server firewall loads"
table inet fwtest {
	chain input {
		type filter hook input priority 0; policy accept;
		ct state invalid counter drop
	}
}
EOF
# A fresh dracd (empty taint table) for the second round.
dracd_stop
dracd_start -e 10m -d || { nok "dracd restarts"; exit 1; }
[ -z "${DESYNC_ONLY:-}" ] && spray ctfw
play ctfw
echo "# ct state invalid drops: $(srv nft list chain inet fwtest input | grep -o 'packets [0-9]*')"

# What granted, per class: the short story for the report.
awk '{ split($2, p, ":"); k = $1 " " p[1] " " p[2] " expect=" $3;
	n[k]++; if ($4 == "yes") g[k]++ }
	END { for (k in n) printf "# %-32s granted %d of %d\n", k, g[k], n[k] }' \
	"$WORLD/summary" | sort

echo "# tap counters: $(drac status --json | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["daemon"]["tap"]
print(" ".join(f"{k}={v}" for k, v in t.items() if not isinstance(v, (dict, list))))' 2>/dev/null)"
t_done
