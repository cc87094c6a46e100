#!/bin/bash
# The Debian package.  dpkg-buildpackage -us -uc -b builds drac_*.deb in a
# copy of the tree (the working tree gets no debian/ build artefacts);
# its files, modes, conffiles and control fields are checked with
# dpkg-deb.  Then dpkg installs, reinstalls with a dracd that cannot
# start, removes and purges it, inside a private mount and network
# namespace whose /etc, /usr and /var are overlays on a tmpfs: the host's
# own files, package database and firewall are never written.
. "$(dirname "$0")/../lib/t.sh"

command -v dpkg-buildpackage >/dev/null 2>&1 ||
	skip_all "dpkg-buildpackage is not installed (dpkg-dev)"
dpkg-query -W -f='${Status}' debhelper 2>/dev/null | grep -q 'ok installed' ||
	skip_all "debhelper is not installed"
[ -f "$TOP/debian/control" ] || skip_all "no debian/ in the tree"
if ! out=$(cd "$TOP" && dpkg-checkbuilddeps 2>&1); then
	skip_all "build dependencies missing: ${out##*: }"
fi

T=$(mktemp -d /tmp/drac-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT
SRC=$T/drac
mkdir -p "$SRC"

# The tracked files and the new ones not ignored, as they are now; none of
# build/, build-san/, build-fuzz/.
if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$SRC" -xf -
else
	for f in Makefile README src init man nft rules debian; do
		[ -e "$TOP/$f" ] && cp -a "$TOP/$f" "$SRC/"
	done
fi
debian_before=$(cd "$TOP" && find debian | sort)

# Nothing of the caller's make (make check SAN=1 passes SAN to its
# children through MAKEFLAGS) or compiler settings leaks into the build.
start=$(date +%s)
(cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	-u SAN -u BUILD -u CC -u CFLAGS -u CPPFLAGS -u LDFLAGS -u LDLIBS \
	DEB_BUILD_OPTIONS="noddebs parallel=2" \
	dpkg-buildpackage -us -uc -b) > "$T/build.log" 2>&1
rc=$?
echo "# dpkg-buildpackage took $(( $(date +%s) - start ))s"
check "dpkg-buildpackage -us -uc -b succeeds (in a copy of the tree)" test $rc -eq 0
if [ $rc -ne 0 ]; then
	tail -40 "$T/build.log" | sed 's/^/# /'
	exit 1
fi
grep -E ': warning: ' "$T/build.log" | grep -v '^dpkg' | sort -u | sed 's/^/# build: /'
check "the working tree's debian/ is as it was (no build artefacts)" \
	test "$(cd "$TOP" && find debian | sort)" = "$debian_before"

debs=("$T"/drac_*.deb)
check "one drac_*.deb built (${#debs[@]}: ${debs[*]##*/})" test ${#debs[@]} -eq 1 -a -f "${debs[0]}"
deb=${debs[0]}
[ -f "$deb" ] || exit 1

# ---- files and modes ---------------------------------------------------
# "mode owner path" for each entry, the path without its leading ".".
dpkg-deb -c "$deb" | awk '{ p = $6; sub(/^\./, "", p); print $1, $2, p }' > "$T/list"
entry() { grep -qxF -e "$2 root/root $1" "$T/list"; }
file644() { entry "$1" -rw-r--r--; }
exe755() { entry "$1" -rwxr-xr-x; }

check "/usr/sbin/dracd, executable" exe755 /usr/sbin/dracd
check "/usr/sbin/drac, executable" exe755 /usr/sbin/drac
if [ -e "$SRC/src/dracauth_main.c" ]; then
	check "/usr/bin/dracauth, executable" exe755 /usr/bin/dracauth
fi
for m in "$SRC"/man/*.[1-8]; do
	[ -e "$m" ] || continue
	n=${m##*/}
	check "man page /usr/share/man/man${n##*.}/$n.gz" file644 "/usr/share/man/man${n##*.}/$n.gz"
done
check "/usr/share/drac/nft/drac.nft" file644 /usr/share/drac/nft/drac.nft
for r in "$SRC"/rules/*; do
	[ -e "$r" ] || continue
	check "/usr/share/drac/rules/${r##*/}" file644 "/usr/share/drac/rules/${r##*/}"
done
check "/etc/default/dracd, mode 644" file644 /etc/default/dracd
check "/etc/dracd/dracd.allow, mode 644" file644 /etc/dracd/dracd.allow
check "/etc/dracd/dracd.conf, mode 644" file644 /etc/dracd/dracd.conf
check "/etc/dracd/ is mode 755 (dracd refuses a group- or world-writable map directory)" \
	entry /etc/dracd/ drwxr-xr-x
check "/etc/init.d/dracd, executable" exe755 /etc/init.d/dracd
unit=
for u in /lib/systemd/system/dracd.service /usr/lib/systemd/system/dracd.service; do
	file644 "$u" && unit=$u
done
check "the systemd unit dracd.service (${unit:-missing})" test -n "$unit"
check "/usr/share/doc/drac/copyright" file644 /usr/share/doc/drac/copyright
check_not "everything owned by root/root" grep -qv ' root/root ' "$T/list"
stray=$(awk '{ print $3 }' "$T/list" | grep -v -E '^/$|^/etc/($|default/|dracd/|init\.d/)|^/(usr/)?lib/($|systemd/($|system/))|^/usr/($|bin/|sbin/|include/($|drac/)|lib/($|[a-z0-9_-]+-linux-[a-z0-9_]+/)|share/($|doc/($|drac/)|drac/|man/|lintian/($|overrides/($|drac$))))')
check "no file outside the expected places${stray:+ ($(echo $stray))}" test -z "$stray"

# ---- what the files are ------------------------------------------------
R=$T/root
dpkg-deb -x "$deb" "$R"
same() { cmp -s "$SRC/$1" "$R$2"; }
check "/etc/default/dracd is init/dracd.default" same init/dracd.default /etc/default/dracd
check "/etc/dracd/dracd.allow is init/dracd.allow" same init/dracd.allow /etc/dracd/dracd.allow
check "/etc/dracd/dracd.conf is init/dracd.conf" same init/dracd.conf /etc/dracd/dracd.conf
check "/etc/init.d/dracd is init/dracd.init" same init/dracd.init /etc/init.d/dracd
[ -n "$unit" ] && check "$unit is init/dracd.service" same init/dracd.service "$unit"
check "the shipped settings say ENABLE_DRAC=\"no\" (the packaged dracd parses them)" \
	bash -c "'$R/usr/sbin/dracd' -c '$R/etc/default/dracd' --print-settings | grep -qx 'ENABLE_DRAC=\"no\"'"
check "the unit starts nothing unless ENABLE_DRAC is yes (ExecCondition)" \
	grep -q '^ExecCondition=.*ENABLE_DRAC' "$R$unit"
check "drac.nft is what the packaged dracd loads with the defaults" \
	cmp -s "$R/usr/share/drac/nft/drac.nft" <("$R/usr/sbin/dracd" -c /dev/null --print-ruleset)

# ---- control fields ----------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
# One comma-separated relation per line.
relations() { field "$1" | tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep -v '^$'; }
version=$(cd "$SRC" && dpkg-parsechangelog -S Version)
check "Package: drac" test "$(field Package)" = drac
check "Version: $version (debian/changelog)" test "$(field Version)" = "$version"
check "Architecture: $(dpkg --print-architecture)" test "$(field Architecture)" = "$(dpkg --print-architecture)"
deps=$(field Depends)
echo "# Depends: $deps"
check_not "Depends has no unsubstituted variable" grep -qF '${' <<< "$deps"
rel='[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?( \((<<|<=|=|>=|>>) [^ ()]+\))?'
bad=$(relations Depends | grep -v -E "^$rel( \| $rel)*\$")
check "each Depends relation parses${bad:+ (not: $bad)}" test -z "$bad"
for lib in libc6 libnftables1 libnftnl11 libmnl0 libnetfilter-log1 libdb5.3 libtirpc3; do
	check "Depends on $lib (from the linked libraries)" \
		grep -qE "(^|, )$lib( |,|\$)" <<< "$deps"
done
check_not "Depends does not need the nft program (nftables)" grep -qE '(^|, )nftables( |,|$)' <<< "$deps"
check "Recommends: nftables" grep -qE '(^|, )nftables( |,|$)' <<< "$(field Recommends)"
sugg=$(field Suggests)
check "Suggests postfix" grep -qE '(^|, )postfix( |,|$)' <<< "$sugg"
check "Suggests dovecot-pop3d | pop3-server" grep -qF 'dovecot-pop3d | pop3-server' <<< "$sugg"
check "Suggests rpcbind" grep -qE '(^|, )rpcbind( |,|$)' <<< "$sugg"

C=$T/control
dpkg-deb -e "$deb" "$C"
for f in /etc/default/dracd /etc/dracd/dracd.allow /etc/dracd/dracd.conf /etc/init.d/dracd; do
	check "$f is a conffile" grep -qxF "$f" "$C/conffiles"
done
notconf=$(awk '$1 !~ /^d/ && $3 ~ /^\/etc\// { print $3 }' "$T/list" | grep -vxF -f "$C/conffiles")
check "every file under /etc is a conffile${notconf:+ (not: $(echo $notconf))}" test -z "$notconf"
for s in preinst postinst prerm postrm; do
	[ -e "$C/$s" ] || continue
	check "$s is valid sh" sh -n "$C/$s"
done
check "postinst: a failed start of dracd does not fail the installation" \
	bash -c "grep -q 'invoke-rc.d .*dracd .*|| dracd_invoke_failed' '$C/postinst' &&
		grep -q '^dracd_invoke_failed()' '$C/postinst' &&
		! grep -E 'invoke-rc.d.*\\|\\| *exit' '$C/postinst' '$C/prerm'"
check "postinst: systemd start failures ignored too" \
	bash -c "! grep -E 'deb-systemd-invoke' '$C/postinst' | grep -v '|| true'"

# ---- install, failed start, remove, purge in a throwaway system ---------
# The inner script prints "ok TEXT", "not TEXT" or "# comment" lines.
cat > "$T/life.sh" <<'EOF'
T=$1 deb=$2
res() { local d=$1; shift; if "$@"; then echo "ok $d"; else echo "not $d"; fi; }
OV=$T/ov
mkdir -p "$OV" && mount -t tmpfs tmpfs "$OV" || { echo "# cannot mount a tmpfs"; exit 3; }
for d in etc usr var; do
	mkdir -p "$OV/$d.u" "$OV/$d.w"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$OV/$d.u,workdir=$OV/$d.w" "/$d" ||
		{ echo "# cannot lay an overlay on /$d"; exit 3; }
done
# No pid file or socket of the host's is seen, no systemd either.
mount -t tmpfs tmpfs /run
# Postfix's postmap wants an interface that is up.
ip link set lo up
# Neither the host's drac, if any, nor a slow man-db trigger.
dpkg --purge --force-all drac >/dev/null 2>&1
rm -f /var/lib/man-db/auto-update
export DEBIAN_FRONTEND=noninteractive
dpkgi() { dpkg --force-confdef --force-confold "$@" > "$T/dpkg.out" 2>&1 < /dev/null; }
policy() { printf '#!/bin/sh\nexit %s\n' "$1" > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; }
out() { sed 's/^/#   /' "$T/dpkg.out"; }
pidfile_gone() { [ ! -e /run/dracd.pid ]; }

# A chroot or an image build: policy-rc.d forbids starting services.
policy 101
dpkgi -i "$deb"; rc=$?
res "dpkg -i with policy-rc.d forbidding service starts (a chroot)" test $rc -eq 0
[ $rc -eq 0 ] || out
dpkgi --purge drac; rc=$?
res "and dpkg --purge" test $rc -eq 0

# A real system: the init script runs, and does nothing (ENABLE_DRAC=no).
policy 0
dpkgi -i "$deb"; rc=$?
res "dpkg -i with services allowed to start" test $rc -eq 0
out
res "  the init script ran and did not start dracd (ENABLE_DRAC=\"no\")" \
	grep -q 'not starting: ENABLE_DRAC' "$T/dpkg.out"
res "  no dracd runs" pidfile_gone
res "  status: install ok installed" \
	test "$(dpkg-query -W -f='${Status}' drac 2>/dev/null)" = "install ok installed"
res "  /usr/sbin/dracd installed" test -x /usr/sbin/dracd
res "  rc.d links made (update-rc.d defaults)" bash -c 'ls /etc/rc2.d/S*dracd >/dev/null 2>&1'
res "  the unit enabled (it still starts nothing while ENABLE_DRAC is no)" \
	test -L /etc/systemd/system/multi-user.target.wants/dracd.service
# dracd's own user: it may add files to /etc/dracd (its map), but change
# none of its configuration.
res "  the system user dracd exists" bash -c 'getent passwd dracd | grep -q "^dracd:x:[0-9]*:[0-9]*:.*:/nonexistent:/usr/sbin/nologin$"'
res "  the shipped settings run dracd as dracd" grep -qx 'DRAC_USER="dracd"' /etc/default/dracd
res "  /etc/dracd is root:dracd, mode 1775 (dpkg-statoverride)" \
	test "$(stat -c %U:%G:%a /etc/dracd)" = root:dracd:1775 -a -n "$(dpkg-statoverride --list /etc/dracd)"
asd() { setpriv --reuid=dracd --regid=dracd --clear-groups "$@" 2>/dev/null; }
res "  dracd can create, rename and remove its files in /etc/dracd" \
	asd sh -c ': > /etc/dracd/probe && mv /etc/dracd/probe /etc/dracd/probe2 && rm /etc/dracd/probe2'
for f in /etc/dracd/dracd.allow /etc/dracd/dracd.conf /etc/default/dracd; do
	res "  dracd cannot change $f" bash -c "! asd sh -c 'echo 0.0.0.0 0.0.0.0 >> $f' && ! asd mv -f $f $f.x && ! asd rm -f $f && [ -f $f ]"
done

# dracd cannot start (here: settings it rejects): the install still works.
sed -i 's/^ENABLE_DRAC=.*/ENABLE_DRAC="yes"/; s/^EXPIRE_TIME=.*/EXPIRE_TIME="0"/' /etc/default/dracd
dpkgi -i "$deb"; rc=$?
res "a reinstall whose dracd cannot start still succeeds" test $rc -eq 0
out
res "  and says dracd did not start" grep -q 'dracd did not start' "$T/dpkg.out"
res "  the edited conffile is kept" grep -qx 'EXPIRE_TIME="0"' /etc/default/dracd
res "  no dracd runs" pidfile_gone
sed -i 's/^ENABLE_DRAC=.*/ENABLE_DRAC="no"/; s/^EXPIRE_TIME=.*/EXPIRE_TIME="30"/' /etc/default/dracd
echo 'DRAC_GATE_PORTS="587"' >> /etc/default/dracd

# A map with a grant in it, as dracd leaves it when it stops.
if command -v postmap >/dev/null 2>&1; then
	mkdir -p "$T/pf" && : > "$T/pf/main.cf"
	printf '192.0.2.7 1900000000\n' > "$T/pf/m"
	postmap -c "$T/pf" "btree:$T/pf/m" && cp "$T/pf/m.db" /etc/dracd/dracd.db &&
		chown dracd:dracd /etc/dracd/dracd.db
fi
dpkgi --remove drac; rc=$?
res "dpkg --remove" test $rc -eq 0
out
res "  /usr/sbin/dracd gone" test ! -e /usr/sbin/dracd
res "  the configuration stays" test -f /etc/default/dracd -a -f /etc/dracd/dracd.allow -a -f /etc/dracd/dracd.conf
if [ -f "$T/pf/m.db" ]; then
	res "  the Postfix map is still there (Postfix would answer 451 without it)" \
		test -f /etc/dracd/dracd.db
	res "  but empty: 192.0.2.7 no longer relays once dracd is gone" \
		bash -c "[ -z \"\$(postmap -c '$T/pf' -s btree:/etc/dracd/dracd)\" ] &&
			! postmap -c '$T/pf' -q 192.0.2.7 btree:/etc/dracd/dracd"
fi
res "  says that the gate stays in the kernel" grep -q 'gate on port(s) 587' "$T/dpkg.out"

dpkgi --purge drac; rc=$?
res "dpkg --purge" test $rc -eq 0
out
res "  /etc/default/dracd gone" test ! -e /etc/default/dracd
res "  /etc/dracd gone, map, lock and state files with it" test ! -e /etc/dracd
res "  and its dpkg-statoverride" test -z "$(dpkg-statoverride --list /etc/dracd)"
res "  rc.d links gone" bash -c '! ls /etc/rc?.d/*dracd >/dev/null 2>&1'
res "  the unit's enablement gone" test ! -e /etc/systemd/system/multi-user.target.wants/dracd.service
res "  dpkg knows no drac any more" bash -c '! dpkg-query -W -f="\${Status}" drac 2>/dev/null | grep -q installed'

# Should anything have started after all, it dies with this namespace.
[ -s /run/dracd.pid ] && kill "$(cat /run/dracd.pid)" 2>/dev/null
exit 0
EOF
if command -v unshare >/dev/null 2>&1; then
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "${line#ok }" ;;
		"not "*) nok "${line#not }" ;;
		*) echo "$line" ;;
		esac
	done < <(timeout 300 unshare --mount --net --propagation private \
		bash "$T/life.sh" "$T" "$deb" 2>&1; echo "# life cycle exit $?")
else
	echo "# unshare(1) missing: the install life cycle is not run"
fi

# ---- lintian, for information ------------------------------------------
if command -v lintian >/dev/null 2>&1; then
	lintian --pedantic -I "$T"/drac_*.changes > "$T/lintian.out" 2>&1
	sed 's/^/# lintian: /' "$T/lintian.out"
	errors=$(grep -c '^E: ' "$T/lintian.out")
	check "lintian reports no error (warnings are only shown)" test "$errors" -eq 0
else
	echo "# lintian is not installed: not run"
fi

t_done
