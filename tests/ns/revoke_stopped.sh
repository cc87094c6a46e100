#!/bin/bash
# A revocation made while dracd is stopped (drac del, nft delete element,
# drac flush) stays revoked when dracd comes back: a set that outlived
# dracd is the truth, and the state file only restores sets that are gone
# (a reboot, a flushed ruleset).  Found by the policy red team: the
# revoked grant came back from the map, and Postfix relayed it again.
. "$(dirname "$0")/../lib/t.sh"
. "$TOP/tests/lib/world.sh"
. "$TOP/tests/lib/dracd.sh"

world_up || { nok "world_up"; exit 1; }
dracd_start -e 10m || { nok "dracd starts"; exit 1; }
for a in "$C1_4" "$C2_4" "$C1_6" "$C2_6"; do drac add "$a" >/dev/null; done
for a in "$C1_4" "$C2_4" "$C1_6" "$C2_6"; do
	check "$a granted and in the map" eventually 2 in_map "$a"
done
dracd_stop
check "a clean stop empties the map" bash -c "! ip netns exec $NS_SRV postmap -c $WORLD/pmconf -q $C2_4 btree:$DRACD_MAP"

# While dracd is down: drac del one of each family, nft delete another.
check "drac del $C1_4 while dracd is stopped" drac del "$C1_4"
check "nft delete element $C1_6 while dracd is stopped" \
	srv nft delete element inet drac authed6 "{ $C1_6 }"
dracd_start -e 10m || { nok "dracd starts again"; exit 1; }
check_not "$C1_4 (drac del while stopped) does not come back to the set" granted "$C1_4"
check_not "nor to the map" in_map "$C1_4"
check_not "$C1_6 (nft delete element while stopped) does not come back" granted "$C1_6"
check_not "nor to the map" in_map "$C1_6"
check "$C2_4 kept" granted "$C2_4"
check "$C2_4 in the map" eventually 2 in_map "$C2_4"
check "$C2_6 kept" granted "$C2_6"

# A set that is gone (here: a flushed ruleset while dracd was down) is
# restored from the state file, with what was in force at the stop.
dracd_stop
srv nft flush ruleset
dracd_start -e 10m || { nok "dracd starts after a flushed ruleset"; exit 1; }
check "after a flush while stopped, $C2_4 is restored" wait_granted "$C2_4"
check "and $C2_6" granted "$C2_6"
check_not "the revoked $C1_4 stays revoked" granted "$C1_4"
check_not "the revoked $C1_6 stays revoked" granted "$C1_6"

# drac flush while stopped empties everything for good.
dracd_stop
check "drac flush while dracd is stopped" drac flush
dracd_start -e 10m || { nok "dracd starts after drac flush"; exit 1; }
check_not "nothing comes back after drac flush ($C2_4)" granted "$C2_4"
check_not "nor $C2_6" granted "$C2_6"
check_not "nor in the map" in_map "$C2_4"
dracd_stop
t_done
