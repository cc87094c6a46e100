#!/bin/bash
# Privileges and files (issue 12, items 3, 4 and 6):
#   - root never works by name inside the map directory, which the daemon
#     user owns: that user swaps symlinks in, racing, while dracd starts
#     as root, and no file may appear in a directory only root can write
#   - the shipped settings run dracd as its own user; an unknown user is
#     refused with a clear message; in the packaged layout (map directory
#     root:GROUP 1775, configuration root's) dracd writes its map but
#     cannot change its own configuration, with CAP_NET_ADMIN alone
#   - SIGHUP with a setting that needs a restart: logged as such, and
#     drac status shows the value in force
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

command -v setpriv >/dev/null 2>&1 || skip_all "setpriv is not installed (util-linux)"
world_up || { nok "world_up"; exit 1; }
note() { sed 's/^/# /' <<< "$*"; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# --- symlink race at start --------------------------------------------------------
ROOTONLY=$WORLD/rootonly
mkdir -m 700 "$ROOTONLY"
mkdir -m 755 "$WORLD/map" && chown nobody: "$WORLD/map"
S=$WORLD/dracd.settings
cat > "$S" <<EOS
DRAC_MAP="$WORLD/map/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
DRAC_USER="nobody"
DRAC_TAP="no"
EOS
# The directory's owner replaces every temporary map file it sees with a
# symlink into the root-only directory, as fast as it can.
cat > "$WORLD/swap.py" <<'EOP'
import os, re, sys
d, target = sys.argv[1], sys.argv[2]
pat = re.compile(r'^dracd\.db\.tmp\.[0-9]+$')
swaps = 0
while True:
    try:
        for e in os.scandir(d):
            if pat.match(e.name) and not e.is_symlink():
                p = os.path.join(d, e.name)
                try:
                    os.unlink(p)
                    os.symlink(os.path.join(target, 'pwned.' + e.name), p)
                    swaps += 1
                    print(swaps, flush=True)
                except OSError:
                    pass
    except OSError:
        pass
EOP
world_spawn swap srv setpriv --reuid=nobody --regid=nogroup --clear-groups \
	/usr/bin/python3 "$WORLD/swap.py" "$WORLD/map" "$ROOTONLY"
swapper=$WORLD_PID
starts=0
for i in $(seq 1 15); do
	rm -f "$WORLD/map/dracd.db"	# a first write each time: a new file
	# ip netns exec execs dracd: $! is dracd's pid.
	ip netns exec "$NS_SRV" "$BIN/dracd" -f -c "$S" >> "$WORLD/race.log" 2>&1 &
	p=$!
	for _ in $(seq 1 100); do
		grep -q "ready (pid $p)" "$WORLD/race.log" && break
		kill -0 "$p" 2>/dev/null || break
		sleep 0.02
	done
	grep -q "ready (pid $p)" "$WORLD/race.log" && starts=$((starts + 1))
	kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
	[ -n "$(ls -A "$ROOTONLY")" ] && break
done
world_stop "$swapper"
swaps=$(tail -1 "$WORLD/swap.log" 2>/dev/null)
note "$i starts of dracd as root ($starts reached ready), ${swaps:-0} symlinks swapped in"
check "the daemon user did swap symlinks in while dracd started" test "${swaps:-0}" -gt 0
pwned=$(ls -A "$ROOTONLY")
check "no file appeared in the root-only directory${pwned:+ (found: $pwned)}" test -z "$pwned"
grep -E 'error' "$WORLD/race.log" | sort | uniq -c | sort -rn | head -3 | sed 's/^/#   /' 
rm -f "$WORLD/map/"*

# --- the daemon's own user -----------------------------------------------------------
check "the shipped settings run dracd as user dracd" \
	bash -c "'$BIN/dracd' -c '$TOP/init/dracd.default' --print-settings | grep -qx 'DRAC_USER=\"dracd\"'"
srv nft delete table inet drac 2>/dev/null
out=$(srv "$BIN/dracd" -f -c "$S" -o DRAC_USER=drac-no-such-user 2>&1); rc=$?
note "$out"
check "an unknown DRAC_USER is refused" test $rc -ne 0
check "  with a clear message" grep -q 'DRAC_USER="drac-no-such-user": no such user' <<< "$out"
check_not "  before it touched anything (no table loaded)" srv nft list table inet drac

# The packaged layout: the configuration and the map share a directory
# that belongs to root; the daemon's group may add files there, and the
# sticky bit lets it replace only its own (the map, its lock, its state).
CONF=$WORLD/etc
mkdir -m 755 "$CONF"
install -d -m 1775 -o root -g nogroup "$CONF/dracd"
printf '255.255.255.255 127.0.0.1\n' > "$CONF/dracd/dracd.allow"
printf 'localhost\n' > "$CONF/dracd/dracd.conf"
# dracd_start reads $WORLD/dracd.settings: that is the settings file here.
SETTINGS=$WORLD/dracd.settings
cat > "$SETTINGS" <<EOS
DRAC_MAP="$CONF/dracd/dracd.db"
DRAC_PIDFILE="$WORLD/dracd.pid"
DRAC_CONTROL="$WORLD/dracd.sock"
DRAC_ALLOW="$CONF/dracd/dracd.allow"
DRAC_SERVERS="$CONF/dracd/dracd.conf"
DRAC_USER="nobody"
DRAC_TAP="no"
EOS
chmod 644 "$CONF/dracd/dracd.allow" "$CONF/dracd/dracd.conf" "$SETTINGS"
dracd_start || nok "dracd starts in the packaged layout"
pid=$DRACD_PID
check "dracd runs as nobody" grep -q '^Uid:.*65534' "/proc/$pid/status"
check "with CAP_NET_ADMIN alone (CapEff 0x1000)" grep -q '^CapEff:[[:space:]]*0*1000$' "/proc/$pid/status"
drac add 192.0.2.99 >/dev/null
check "it writes its map there" eventually 2 in_map 192.0.2.99
check "the map is its own file" test "$(stat -c %U "$CONF/dracd/dracd.db")" = nobody
for f in "$CONF/dracd/dracd.allow" "$CONF/dracd/dracd.conf" "$SETTINGS"; do
	sum=$(sha256sum < "$f")
	check_not "the daemon user cannot write ${f#$WORLD/}" as_nobody sh -c "echo 0.0.0.0 0.0.0.0 >> '$f'" 2>/dev/null
	check_not "  nor replace it" as_nobody sh -c "echo x > '$f.new' && mv -f '$f.new' '$f'" 2>/dev/null
	check_not "  nor remove it" as_nobody rm -f "$f" 2>/dev/null
	check "  it is unchanged" test "$(sha256sum < "$f")" = "$sum"
done

# --- SIGHUP with settings that need a restart -------------------------------------------
mkdir -m 755 "$WORLD/other" && chown nobody: "$WORLD/other"
sed -i "s|^DRAC_MAP=.*|DRAC_MAP=\"$WORLD/other/dracd.db\"|; s|^DRAC_USER=.*|DRAC_USER=\"root\"|" "$SETTINGS"
echo 'EXPIRE_TIME="7m"' >> "$SETTINGS"
kill -HUP "$pid"
check "SIGHUP: a new DRAC_MAP is reported as needing a restart" \
	world_wait_log "$WORLD/dracd.log" "DRAC_MAP changed in .*: it takes effect only at a restart" 3
check "  and a new DRAC_USER" grep -q "DRAC_USER changed in .*: it takes effect only at a restart" "$WORLD/dracd.log"
check "  the rest is reloaded" world_wait_log "$WORLD/dracd.log" "settings reloaded" 3
path=$(drac status | awk '$1 == "map.path" { print $2 }')
check "drac status shows the map in force ($path)" test "$path" = "$CONF/dracd/dracd.db"
check "drac status shows the new window (a setting that reloads)" \
	test "$(drac status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["window_s"])')" = 420
drac add 192.0.2.98 >/dev/null
check "and the map in force is the one written" eventually 2 in_map 192.0.2.98
check_not "not the file's new one" test -e "$WORLD/other/dracd.db"
check "dracd still runs as nobody" grep -q '^Uid:.*65534' "/proc/$pid/status"
dracd_stop
t_done
