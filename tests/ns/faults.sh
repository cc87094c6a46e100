#!/bin/bash
# Faults dracd must survive without losing or extending a grant: firewall
# reloads, table deletion, kill -9 and restart, a lost or corrupt map, a
# second instance, bad reloads; and it runs with only CAP_NET_ADMIN.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

world_up || { nok "world_up"; exit 1; }
world_dovecot_start || { nok "dovecot starts"; exit 1; }
# The map directory belongs to the unprivileged user dracd runs as.
mkdir -p "$WORLD/map" && chown nobody: "$WORLD/map" && chmod 755 "$WORLD/map"
cat > "$WORLD/dracd.settings" <<EOS
DRAC_MAP="$WORLD/map/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
DRAC_USER="nobody"
DRAC_GATE_PORTS="587"
EXPIRE_TIME="10m"
EOS
dracd_start || { nok "dracd starts as nobody"; exit 1; }
pid=$DRACD_PID
# world_spawn's pid is ip netns exec's, which exec()ed dracd: the same.
check "dracd runs as nobody" bash -c "grep -q '^Uid:.*65534' /proc/$pid/status"
capeff=$(awk '/^CapEff/ { print $2 }' /proc/$pid/status)
capbnd=$(awk '/^CapBnd/ { print $2 }' /proc/$pid/status)
echo "# CapEff $capeff CapBnd $capbnd"
check "with only CAP_NET_ADMIN effective" test "$capeff" = 0000000000001000
check "and only CAP_NET_ADMIN in the bounding set" test "$capbnd" = 0000000000001000

world_pop3_login c1 "$SRV4" >/dev/null
world_imap_login c1 "$SRV6" >/dev/null
check "an unprivileged dracd still grants (IPv4)" wait_granted "$C1_4"
check "and IPv6" wait_granted "$C1_6"
check "and writes the map" eventually 2 in_map "$C1_4"
expiry_ms() {	# remaining ms of an element, from drac list --json
	srv "$BIN/drac" -c /dev/null list --json | /usr/bin/python3 -c "import json,sys; print(next((e['expires_ms'] for e in json.load(sys.stdin) if e['address']=='$1'), -1))"
}

# --- firewall reloads ------------------------------------------------------
before=$(expiry_ms "$C1_4")
t0=$(date +%s%N)
srv nft flush ruleset
check "right after nft flush ruleset the map still holds $C1_4" in_map "$C1_4"
check "after nft flush ruleset the grant is back" wait_granted "$C1_4" 1
t1=$(date +%s%N)
echo "# restored after flush ruleset in $(( (t1 - t0) / 1000000 )) ms"
check "within 1 second" test $(( (t1 - t0) / 1000000 )) -lt 1000
check "IPv6 grant back too" granted "$C1_6"
after=$(expiry_ms "$C1_4")
echo "# remaining before ${before} ms, after ${after} ms"
check "with its remaining time, not a new window" test "$after" -le "$before" -a "$after" -gt $((before - 5000))
world_pop3_login c2 "$SRV4" >/dev/null
check "a login after the flush is detected" wait_granted "$C2_4"
check "the submission gate is back" bash -c "ip netns exec $NS_SRV nft list chain inet drac gate | grep -q 'tcp dport 587 ip saddr @authed accept'"
srv nft delete table inet drac
check "after nft delete table inet drac the grants are back" wait_granted "$C1_4" 1
# A Debian-style reload: nftables.conf begins with flush ruleset.
cat > "$WORLD/nftables.conf" <<'EON'
flush ruleset
table inet filter {
	chain input { type filter hook input priority 0; policy accept; }
}
EON
srv nft -f "$WORLD/nftables.conf"
check "after a Debian-style firewall reload the grants are back" wait_granted "$C1_4" 1
check "and the admin's own table is untouched" bash -c "ip netns exec $NS_SRV nft list table inet filter >/dev/null"

# --- a second instance -----------------------------------------------------
out=$(srv "$BIN/dracd" -f -c "$DRACD_SETTINGS" 2>&1); rc=$?
echo "# second dracd: $out"
check "a second dracd is refused" test $rc -ne 0
check "with a message naming the running one" bash -c "echo '$out' | grep -q 'another dracd is running (pid $pid'"
check "and the first keeps running" kill -0 "$pid"

# --- SIGHUP -----------------------------------------------------------------
cp "$DRACD_SETTINGS" "$WORLD/good.settings"
echo 'EXPIRE_TIME="0"' >> "$DRACD_SETTINGS"
kill -HUP "$pid"
check "a bad setting on SIGHUP is reported by file and line" \
	world_wait_log "$WORLD/dracd.log" "dracd.settings:[0-9]+: EXPIRE_TIME.*out of range" 2
check "and dracd keeps running" kill -0 "$pid"
srv "$BIN/drac" -c /dev/null flush >/dev/null
world_pop3_login c2 "$SRV4" >/dev/null
wait_granted "$C2_4"
e=$(expiry_ms "$C2_4")
check "the old window stays in force (${e} ms left of 10m)" test "$e" -gt 590000
cp "$WORLD/good.settings" "$DRACD_SETTINGS"
echo 'EXPIRE_TIME="7m"' >> "$DRACD_SETTINGS"
kill -HUP "$pid"
world_wait_log "$WORLD/dracd.log" "settings reloaded" 2
srv "$BIN/drac" -c /dev/null flush >/dev/null
world_pop3_login c2 "$SRV4" >/dev/null
wait_granted "$C2_4"
e=$(expiry_ms "$C2_4")
check "a good SIGHUP changes the window (${e} ms left of 7m)" test "$e" -le 420000 -a "$e" -gt 410000

# --- kill -9 and restart -------------------------------------------------------
world_pop3_login c1 "$SRV4" >/dev/null
wait_granted "$C1_4"
eventually 2 in_map "$C1_4"
kill -9 "$pid"; sleep 0.2
before=$(expiry_ms "$C1_4")
srv nft delete table inet drac	# the kernel state is lost too (as at a reboot)
dracd_start || nok "dracd restarts after kill -9"
pid=$DRACD_PID
check "after kill -9 and a lost table, the restart restores $C1_4 from the map" wait_granted "$C1_4" 1
after=$(expiry_ms "$C1_4")
echo "# remaining before ${before} ms, after restart ${after} ms"
check "not extended" test "$after" -le "$before"
check "not lost either (at most 2 s shorter)" test "$after" -gt $((before - 2000))

# The map is lost while the set survives: rebuilt from the set.
world_stop "$pid"
rm -f "$DRACD_MAP.db"
dracd_start || nok "dracd restarts without its map"
pid=$DRACD_PID
check "a missing map is rebuilt from the set" eventually 2 in_map "$C1_4"
world_stop "$pid"
head -c 5000 /dev/urandom > "$DRACD_MAP.db"; chown nobody: "$DRACD_MAP.db"
dracd_start || nok "dracd starts with a corrupt map"
pid=$DRACD_PID
check "a corrupt map is rebuilt from the set" eventually 2 in_map "$C1_4"
grep "map/dracd.db" "$WORLD/dracd.log" | tail -4 | sed 's/^/# /'
check "with one clear log line naming the file" test "$(grep -c 'map/dracd.db is corrupt or unreadable' $WORLD/dracd.log)" -eq 1
truncate -s 100 "$DRACD_MAP.db"
world_stop "$pid"
dracd_start || nok "dracd starts with a truncated map"
pid=$DRACD_PID
check "a truncated map is rebuilt too" eventually 2 in_map "$C1_4"
check "dracd keeps running" kill -0 "$pid"

# --- a map directory others may write is refused -------------------------------
world_stop "$pid"
chmod 777 "$WORLD/map"
out=$(srv "$BIN/dracd" -f -c "$DRACD_SETTINGS" 2>&1); rc=$?
echo "# $out" | head -3
check "a world-writable map directory is refused" test $rc -ne 0
chmod 755 "$WORLD/map"
t_done
