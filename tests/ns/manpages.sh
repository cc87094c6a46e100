#!/bin/bash
# Man pages, default settings file and systemd unit: every page renders
# without a groff warning and has the sections a reader looks for; every
# setting dracd knows is documented with its real default, in dracd(8)
# and in init/dracd.default; the unit passes systemd-analyze verify and
# its ENABLE_DRAC condition behaves.  Needs no namespace: it touches
# nothing outside a temporary directory.
. "$(dirname "$0")/../lib/t.sh"

cd "$TOP" || exit 1
T=$(mktemp -d /tmp/drac-manpages.XXXXXX)
trap 'rm -rf "$T"' EXIT
pages=(man/*.[1-8])
[ -e "${pages[0]}" ] || skip_all "no man pages"

# --- every page renders cleanly and is complete
for p in "${pages[@]}"; do
	name=${p##*/}
	sec=${name##*.}
	base=${name%.*}
	err=$(LC_ALL=C.UTF-8 groff -ww -man -Tutf8 "$p" 2>&1 >/dev/null)
	check "$name: groff -ww -man renders without warnings${err:+ ($err)}" test -z "$err"
	upper=$(tr '[:lower:]' '[:upper:]' <<< "$base")
	check "$name: .TH $upper $sec" grep -q "^\.TH $upper $sec " "$p"
	want=(NAME SYNOPSIS DESCRIPTION EXAMPLES "SEE ALSO")
	case $sec in 1|8) want+=(OPTIONS FILES) ;; 5) want+=(FILES) ;; esac
	missing=
	for s in "${want[@]}"; do
		grep -q "^\.SH \"\?$s\"\?$" "$p" || missing="$missing $s"
	done
	check "$name: has ${want[*]}${missing:+ (missing:$missing)}" test -z "$missing"
	if command -v lexgrog >/dev/null; then
		check "$name: NAME line parses for whatis (lexgrog)" bash -c "lexgrog '$p' >/dev/null"
	fi
	# every page of ours that it refers to exists
	bad=
	for ref in $(grep -oE '^\.BR (drac|dracd|dracauth)[a-z.]* \([1-8]\)' "$p" |
		     sed -E 's/^\.BR ([^ ]+) \(([1-8])\)/\1.\2/' | sort -u); do
		[ -e "man/$ref" ] || bad="$bad $ref"
	done
	check "$name: references to our pages resolve${bad:+ (missing:$bad)}" test -z "$bad"
done

# --- dracd(8): every setting, with its real default
[ -x "$BIN/dracd" ] || skip_all "no $BIN/dracd (run make)"
"$BIN/dracd" -c /dev/null --print-settings > "$T/defaults"
check "dracd --print-settings lists settings" test -s "$T/defaults"
while IFS= read -r line; do
	key=${line%%=*}
	val=${line#*=\"}
	val=${val%\"}
	# .BR KEY " (default)" with "empty" for ""
	doc=$(sed -n "s/^\.BR $key \" (\(.*\))\"\$/\1/p" man/dracd.8 | sed 's/\\-/-/g')
	[ -z "$val" ] && val=empty
	check "dracd.8 documents $key with default \"$val\"" test "$doc" = "$val"
	check "init/dracd.default mentions $key" grep -Eq "^#?$key=" init/dracd.default
done < "$T/defaults"
nkeys=$(wc -l < "$T/defaults")
echo "# $nkeys settings"

# --- init/dracd.default: parses, and its commented defaults are true
check "init/dracd.default parses" bash -c "'$BIN/dracd' -c init/dracd.default --print-settings >/dev/null"
# ... but one: the shipped file runs dracd as its own user (the built-in
# default, uid 0 without capabilities, needs no user to exist).
nouser() { grep -v '^DRAC_USER='; }
check "it changes no default but DRAC_USER" cmp -s <(nouser < "$T/defaults") <("$BIN/dracd" -c init/dracd.default --print-settings 2>/dev/null | nouser)
check "ships DRAC_USER=\"dracd\"" grep -qx 'DRAC_USER="dracd"' init/dracd.default
sed -E 's/^#([A-Z_]+=)/\1/' init/dracd.default > "$T/uncommented"
check "with every #KEY= line uncommented it still gives the defaults" \
	cmp -s <(nouser < "$T/defaults") <("$BIN/dracd" -c "$T/uncommented" --print-settings 2>/dev/null | nouser)
check "ships ENABLE_DRAC=\"no\"" grep -qx 'ENABLE_DRAC="no"' init/dracd.default
check "ships EXPIRE_TIME=\"30\"" grep -qx 'EXPIRE_TIME="30"' init/dracd.default
check "init/dracd.allow holds the classic default line" grep -qx '255.255.255.255 127.0.0.1' init/dracd.allow
check "init/dracd.conf names localhost" grep -qx 'localhost' init/dracd.conf

# --- what dracd(8) must tell the operator
check "dracd.8: modern Postfix line" grep -q 'reject_unauth_destination' man/dracd.8
check "dracd.8: Turbolinux-era line with check_relay_domains" grep -q 'check_relay_domains' man/dracd.8
check "dracd.8: smtpd_relay_restrictions set empty for it" grep -qx 'smtpd_relay_restrictions =' man/dracd.8
check "dracd.8: map value is the expiry in seconds since 1970" grep -q 'seconds since' man/dracd.8
check "dracd.8: NAT caveat" grep -q 'NAT' man/dracd.8

# --- the systemd unit
units=(init/*.service)
if ! command -v systemd-analyze >/dev/null; then
	echo "skip - systemd-analyze not installed (apt-get install systemd)"
elif [ ! -e "${units[0]}" ]; then
	echo "skip - no init/*.service"
else
	# The unit names /usr/sbin/dracd; verify checks that it exists, so
	# point it at the built one.  Documentation= is checked with man.
	mkdir -p "$T/units" "$T/man"
	for u in "${units[@]}"; do
		sed "s|/usr/sbin/dracd|$BIN/dracd|g" "$u" > "$T/units/${u##*/}"
	done
	for p in "${pages[@]}"; do
		mkdir -p "$T/man/man${p##*.}"
		cp "$p" "$T/man/man${p##*.}/"
	done
	out=$(cd "$T/units" && MANPATH=$T/man systemd-analyze verify ./*.service 2>&1)
	check "systemd-analyze verify passes${out:+ ($out)}" test -z "$out"
fi
u=init/dracd.service
if [ -e "$u" ]; then
	check "dracd.service: Type=forking" grep -qx 'Type=forking' "$u"
	check "dracd.service: PIDFile=/run/dracd.pid" grep -qx 'PIDFile=/run/dracd.pid' "$u"
	check "dracd.service: ExecStart keeps the pid file there" grep -q '^ExecStart=.*-o DRAC_PIDFILE=/run/dracd.pid' "$u"
	check "dracd.service: reload is SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$u"
	check_not "dracd.service: not PartOf= the firewall" grep -q '^PartOf=' "$u"
	check "dracd.service: CAP_NET_ADMIN in the bounding set" grep -q '^CapabilityBoundingSet=.*CAP_NET_ADMIN' "$u"
	# The condition as systemd runs it: $$ becomes $.
	cond=$(sed -n "s/^ExecCondition=\/bin\/sh -c '\(.*\)'\$/\1/p" "$u" | sed 's/\$\$/$/g')
	check "dracd.service: ExecCondition is /bin/sh -c '...'" test -n "$cond"
	cond_rc() { # settings text -> exit status of the condition
		printf '%s\n' "$1" > "$T/settings"
		mkdir -p "$T/bin"
		printf '#!/bin/sh\nexec %s -c %s "$@"\n' "$BIN/dracd" "$T/settings" > "$T/bin/dracd"
		chmod 755 "$T/bin/dracd"
		sh -c "${cond//\/usr\/sbin\/dracd/$T/bin/dracd}" > /dev/null 2>&1
		echo $?
	}
	check "condition: ENABLE_DRAC=\"yes\" starts" test "$(cond_rc 'ENABLE_DRAC="yes"')" = 0
	check "condition: ENABLE_DRAC=yes (bare) starts" test "$(cond_rc 'ENABLE_DRAC=yes')" = 0
	check "condition: ENABLE_DRAC=\"no\" skips (1)" test "$(cond_rc 'ENABLE_DRAC="no"')" = 1
	check "condition: no ENABLE_DRAC skips (1)" test "$(cond_rc '# nothing')" = 1
	check "condition: a broken file fails the unit (255)" test "$(cond_rc 'EXPIRE_TIME="soon"')" = 255
fi

t_done
