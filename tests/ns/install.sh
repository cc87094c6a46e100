#!/bin/bash
# make install / make uninstall into a DESTDIR: the tree a package or an
# operator gets (programs, man pages, init files, default configuration,
# nftables and Postfix fragments), configuration kept on a second install
# and after uninstall, nothing else left behind.  Works on a copy of the
# source tree, so the real one is never written to.
. "$(dirname "$0")/../lib/t.sh"

T=$(mktemp -d /tmp/drac-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
SRC=$T/src
D=$T/root
mkdir -p "$SRC"
# cp -a keeps the build's time stamps: nothing is rebuilt if it is fresh.
for f in Makefile src init man nft rules "$BUILD"; do
	[ -e "$TOP/$f" ] && cp -a "$TOP/$f" "$SRC/"
done
[ -d "$SRC/$BUILD" ] || mkdir -p "$SRC/$BUILD"
# The sanitizer build links only with SAN=1 (make check SAN=1).
mk() { make -s -C "$SRC" $([ "$BUILD" = build-san ] && echo SAN=1) "$@"; }

if [ ! -e "$SRC/nft/drac.nft" ]; then
	echo "# nft/drac.nft is not in the tree; generated here with make nft"
	mkdir -p "$SRC/nft"
	mk nft > /dev/null 2>&1
fi

out=$(mk install DESTDIR="$D" PREFIX=/usr 2>&1); rc=$?
check "make install DESTDIR=... PREFIX=/usr succeeds" test $rc -eq 0
[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /' | tail -20

exe() { test -f "$D$1" -a -x "$D$1"; }
same() { cmp -s "$SRC/$1" "$D$2"; }
mode() { test "$(stat -c %a "$D$1" 2>/dev/null)" = "$2"; }

check "/usr/sbin/dracd installed, executable" exe /usr/sbin/dracd
check "/usr/sbin/drac installed, executable" exe /usr/sbin/drac
if [ -e "$SRC/src/dracauth_main.c" ]; then
	check "/usr/bin/dracauth installed, executable" exe /usr/bin/dracauth
fi
check "the installed dracd runs" bash -c "'$D/usr/sbin/dracd' -c /dev/null --print-settings >/dev/null"

for m in "$SRC"/man/*.[1-8]; do
	[ -e "$m" ] || continue
	n=${m##*/}
	check "man page $n in /usr/share/man/man${n##*.}" same "man/$n" "/usr/share/man/man${n##*.}/$n"
	check "  mode 644" mode "/usr/share/man/man${n##*.}/$n" 644
done
for m in dracd.8 drac.8 dracd.conf.5 dracd.allow.5 drac.nft.5; do
	check "man page $m exists" test -f "$D/usr/share/man/man${m##*.}/$m"
done

check "/etc/dracd/dracd.allow is init/dracd.allow" same init/dracd.allow /etc/dracd/dracd.allow
check "/etc/dracd/dracd.conf is init/dracd.conf" same init/dracd.conf /etc/dracd/dracd.conf
check "/etc/default/dracd is init/dracd.default" same init/dracd.default /etc/default/dracd
check "/etc/dracd is mode 755 (dracd refuses a group- or world-writable map directory)" \
	mode /etc/dracd 755
check "/etc/dracd/dracd.allow mode 644" mode /etc/dracd/dracd.allow 644
check "/etc/default/dracd mode 644" mode /etc/default/dracd 644
check "/etc/init.d/dracd is init/dracd.init" same init/dracd.init /etc/init.d/dracd
check "/etc/init.d/dracd is executable" exe /etc/init.d/dracd
for u in "$SRC"/init/*.service; do
	[ -e "$u" ] || continue
	check "unit ${u##*/} in /usr/lib/systemd/system" same "init/${u##*/}" "/usr/lib/systemd/system/${u##*/}"
done
check "the installed settings file parses, defaults intact" \
	bash -c "'$D/usr/sbin/dracd' -c '$D/etc/default/dracd' --print-settings | grep -qx 'ENABLE_DRAC=\"no\"'"

check "/usr/share/drac/nft/drac.nft installed" test -s "$D/usr/share/drac/nft/drac.nft"
check "drac.nft is what dracd loads with the defaults" \
	cmp -s "$D/usr/share/drac/nft/drac.nft" <("$D/usr/sbin/dracd" -c /dev/null --print-ruleset)
for r in "$SRC"/rules/*; do
	[ -e "$r" ] || continue
	check "rules/${r##*/} in /usr/share/drac/rules" same "rules/${r##*/}" "/usr/share/drac/rules/${r##*/}"
done

# The operator's edits survive a second install.
echo 'ENABLE_DRAC="yes"' >> "$D/etc/default/dracd"
echo '255.255.255.0 192.0.2.0' >> "$D/etc/dracd/dracd.allow"
echo 'smtp.example.net' >> "$D/etc/dracd/dracd.conf"
out=$(mk install DESTDIR="$D" PREFIX=/usr 2>&1); rc=$?
check "a second make install succeeds" test $rc -eq 0
check "and keeps the edited /etc/default/dracd" grep -qx 'ENABLE_DRAC="yes"' "$D/etc/default/dracd"
check "and the edited dracd.allow" grep -qx '255.255.255.0 192.0.2.0' "$D/etc/dracd/dracd.allow"
check "and the edited dracd.conf" grep -qx 'smtp.example.net' "$D/etc/dracd/dracd.conf"

out=$(mk uninstall DESTDIR="$D" PREFIX=/usr 2>&1); rc=$?
check "make uninstall succeeds" test $rc -eq 0
left=$(cd "$D" && find . \( -path '*/bin/*' -o -path '*/sbin/*' -o -path '*/share/man/*' \
	-o -path '*/share/drac*' -o -path '*/init.d/*' -o -path '*/systemd/*' \) -type f | sort)
check "no program, man page, data file, init script or unit left${left:+ ($(echo $left))}" test -z "$left"
check "the operator's configuration stays" \
	test -f "$D/etc/default/dracd" -a -f "$D/etc/dracd/dracd.allow" -a -f "$D/etc/dracd/dracd.conf"

t_done
