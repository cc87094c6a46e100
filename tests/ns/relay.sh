#!/bin/bash
# End to end: a POP3/IMAP login on the wire opens relaying in Postfix (the
# btree map) and the submission port (the gate), for the window and for
# that client only; an administrator's nft changes open and close both.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

WINDOW=5
world_up || { nok "world_up"; exit 1; }
world_dovecot_start || { nok "dovecot starts"; exit 1; }
# dracd first: it creates the map Postfix must find at its start.
dracd_start -e ${WINDOW}s -o DRAC_GATE_PORTS=587 -o DRAC_MAP_INTERVAL=20 || { nok "dracd starts"; exit 1; }
check "dracd created the map before Postfix starts" test -s "$DRACD_MAP.db"
world_postfix_start "$DRACD_MAP" || { nok "postfix starts"; exit 1; }
ok "dovecot, dracd and postfix running"

relay() { world_smtp_rcpt "$1" "$2" "$3"; }
denied_both() {	# NS CLIENT_ADDR SERVER_ADDR
	local r25 r587
	r25=$(relay "$1" "$3" 25) r587=$(relay "$1" "$3" 587)
	echo "# $2: port 25 RCPT -> $r25, port 587 -> $r587"
	[ "$r25" = 554 ] && [ "$r587" = refused ]
}
allowed_both() {
	local r25 r587
	r25=$(relay "$1" "$3" 25) r587=$(relay "$1" "$3" 587)
	echo "# $2: port 25 RCPT -> $r25, port 587 -> $r587"
	[ "$r25" = 250 ] && [ "$r587" = 250 ]
}

for fam in 4 6; do
	s=$SRV4 a1=$C1_4 a2=$C2_4
	[ $fam = 6 ] && s=$SRV6 a1=$C1_6 a2=$C2_6
	for proto in pop3 imap; do
		what="IPv$fam $proto"
		check "$what: before any login, relay is 554 and 587 refused" denied_both c1 "$a1" "$s"
		t0=$(date +%s%N)
		world_${proto}_login c1 "$s" >/dev/null || nok "$what login"
		check "$what: the login put $a1 in the set" wait_granted "$a1" 1
		check "$what: and in the map" eventually 1 in_map "$a1"
		check "$what: relay 250 and 587 open" allowed_both c1 "$a1" "$s"
		t1=$(date +%s%N)
		echo "# $what: login to relay 250 on both ports in $(( (t1 - t0) / 1000000 )) ms"
		check "$what: within one second of the login" test $(( (t1 - t0) / 1000000 )) -lt 1000
		check "$what: the map value is the expiry time in seconds" bash -c \
			"v=\$(ip netns exec $NS_SRV postmap -c $WORLD/pmconf -q $a1 btree:$DRACD_MAP); n=\$(date +%s); [ \$v -gt \$n ] && [ \$v -le \$((n + $WINDOW + 1)) ]"
		check "$what: a client that did not log in stays denied" denied_both c2 "$a2" "$s"
		sleep $((WINDOW + 1))
		check "$what: after the window the set no longer holds $a1" not_granted "$a1" 0
		check "$what: nor the map" bash -c "! ip netns exec $NS_SRV postmap -c $WORLD/pmconf -q $a1 btree:$DRACD_MAP"
		check "$what: and both deny again" denied_both c1 "$a1" "$s"
		check "$what: the expiry was logged" grep -q "expired $a1\$" "$WORLD/dracd.log"
	done
done

# An administrator's nft changes are mirrored too.
srv nft add element inet drac authed "{ $C2_4 timeout 1m }"
check "nft add element: $C2_4 in the map" eventually 1 in_map "$C2_4"
check "nft add element opens both" allowed_both c2 "$C2_4" "$SRV4"
srv nft delete element inet drac authed "{ $C2_4 }"
check "nft delete element: gone from the map" eventually 1 bash -c "! ip netns exec $NS_SRV postmap -c $WORLD/pmconf -q $C2_4 btree:$DRACD_MAP"
check "nft delete element closes both" denied_both c2 "$C2_4" "$SRV4"
srv nft add element inet drac authed6 "{ $C2_6 timeout 1m }"
check "IPv6 nft add element opens both" eventually 1 allowed_both c2 "$C2_6" "$SRV6"
srv nft flush set inet drac authed6
check "nft flush set closes both" eventually 1 denied_both c2 "$C2_6" "$SRV6"
check "Postfix logged no fatal error" bash -c "test -s $WORLD_POSTFIX_LOG && ! grep -q fatal $WORLD_POSTFIX_LOG"
t_done
