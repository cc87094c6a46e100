# tests/lib/overlay.sh - run a mail server Debian ships but that cannot be
# installed beside Dovecot (courier-pop, cyrus-imapd, mailutils-pop3d ...)
# as a private instance in the server namespace of a test world.
#
# Sourced after tests/lib/world.sh.  The server's .debs (and the libraries
# they need that the machine lacks) are fetched with `apt-get download`
# into $OVL_CACHE/debs once, unpacked with `dpkg-deb -x` into
# $OVL_CACHE/root-SERVER, and at run time laid over /usr (read-only),
# /etc and /var (writable, upper layers under $WORLD) with overlayfs
# inside a private mount namespace (unshare -m).  Nothing is installed:
# dpkg's database, the host's /etc and /var stay untouched.  /dev there
# is a small tmpfs whose `log` is a symlink to a socket the test chooses,
# /run is a private tmpfs.
#
#   overlay_fetch SERVER          download and unpack (cached); status 1
#                                 with the reason on stderr when it cannot
#   overlay_spawn NAME SERVER DEVLOG SCRIPT [ARGS...]
#                                 run bash SCRIPT (text) inside the overlay
#                                 in the server namespace, in the background
#                                 (world_spawn NAME: output $WORLD/NAME.log,
#                                 pid WORLD_PID); $1.. are ARGS; DEVLOG is
#                                 where /dev/log points
#   overlay_stop NAME             TERM (then KILL) every process in the
#                                 mount namespace of overlay_spawn NAME:
#                                 the daemons it started, detached or not
#   overlay_adduser NAME UID GID HOME [PASSWORD]
#                                 (inside SCRIPT) a passwd/shadow/group
#                                 entry in the private /etc
#
# SERVER is courier, cyrus or mailutils.
OVL_CACHE=${DRAC_TEST_CACHE:-/var/cache/drac-tests}

overlay__pkgs() {
	case $1 in
	courier) echo courier-base courier-pop courier-imap courier-authdaemon \
		courier-authlib courier-authlib-userdb libcourier-unicode4 libidn12 \
		libgamin0 gamin ;;
	cyrus) echo cyrus-common cyrus-pop3d cyrus-imapd libical3 liblmdb0 \
		libxapian30 libprotobuf-c1 libfstrm0 libzephyr4 sasl2-bin libpcre3 \
		libsasl2-modules ;;
	mailutils) echo mailutils-common libmailutils9 libmu-dbm9 mailutils-pop3d \
		mailutils-imap4d guile-3.0-libs libgsasl18 libntlm0 libgssglue1 \
		libkyotocabinet16v5 liblzo2-2 libmariadb3 mariadb-common mysql-common \
		libidn12 ;;
	popa3d) echo popa3d ;;
	solid-pop3d) echo solid-pop3d liblockfile1 ;;
	*) return 1 ;;
	esac
}

# Two test runs may fetch at once: one unpacks while the other waits.
overlay_fetch() {
	mkdir -p "$OVL_CACHE" || return 1
	(
		flock 9 || exit 1
		overlay__fetch "$@"
	) 9>"$OVL_CACHE/.lock"
}

overlay__fetch() {
	local srv=$1 pkgs p missing= root stamp want
	pkgs=$(overlay__pkgs "$srv") || { echo "overlay: no package list for $srv" >&2; return 1; }
	mkdir -p "$OVL_CACHE/debs" || return 1
	for p in $pkgs; do
		ls "$OVL_CACHE/debs/${p}_"*.deb >/dev/null 2>&1 || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		# apt's _apt user cannot write here; the warning says so, harmlessly.
		(cd "$OVL_CACHE/debs" && apt-get download -q $missing) >"$OVL_CACHE/download.log" 2>&1 || {
			# The lists may be stale on a fresh machine.
			apt-get update -qq >/dev/null 2>&1
			(cd "$OVL_CACHE/debs" && apt-get download -q $missing) >"$OVL_CACHE/download.log" 2>&1
		} || { echo "overlay: apt-get download$missing failed:" >&2
			tail -3 "$OVL_CACHE/download.log" >&2; return 1; }
	fi
	root=$OVL_CACHE/root-$srv
	want=$(for p in $pkgs; do ls "$OVL_CACHE/debs/${p}_"*.deb | tail -1; done)
	stamp=$root.stamp
	if [ -d "$root" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		return 0
	fi
	rm -rf "$root" "$stamp"
	mkdir -p "$root" || return 1
	for p in $want; do
		dpkg-deb -x "$p" "$root" || { echo "overlay: cannot unpack $p" >&2; return 1; }
	done
	# Debian 12 has a merged /usr: /lib is a symlink into /usr, so what
	# the packages put under /lib, /bin, /sbin belongs under /usr.
	for p in lib bin sbin; do
		if [ -d "$root/$p" ] && [ ! -L "$root/$p" ]; then
			mkdir -p "$root/usr/$p" && cp -a "$root/$p/." "$root/usr/$p/" &&
			rm -rf "${root:?}/$p" || return 1
		fi
	done
	mkdir -p "$root/etc" "$root/var" "$root/usr"
	echo "$want" > "$stamp"
}

# The part of every overlay script that builds the mount namespace.
# shellcheck disable=SC2016
OVL__PRELUDE='
set -e
R=$OVL_ROOT U=$OVL_UPPER
mkdir -p "$U/etc" "$U/var" "$U/w-etc" "$U/w-var" "$U/olddev"
# overlay_stop finds every process of this namespace by it, also after
# a daemon detached and this shell is gone.
readlink /proc/self/ns/mnt > "$U/mntns"
# The cache lives under /var, and overlayfs refuses a layer inside
# another: the packages'"'"' /var is copied into the upper layer instead.
cp -a "$R/var/." "$U/var/"
mount -t overlay ovl-usr -o "lowerdir=$R/usr:/usr" /usr
mount -t overlay ovl-etc -o "lowerdir=$R/etc:/etc,upperdir=$U/etc,workdir=$U/w-etc" /etc
mount -t overlay ovl-var -o "lowerdir=/var,upperdir=$U/var,workdir=$U/w-var" /var
mount --bind /dev "$U/olddev"
mount -t tmpfs -o mode=755 ovl-dev /dev
for n in null zero random urandom full tty; do
	touch "/dev/$n" && mount --bind "$U/olddev/$n" "/dev/$n"
done
umount -l "$U/olddev"
ln -s "$OVL_DEVLOG" /dev/log
ln -s /proc/self/fd /dev/fd
mount -t tmpfs -o mode=755 ovl-run /run
ldconfig
overlay_adduser() {	# NAME UID GID HOME [PASSWORD]
	local f
	awk -F: -v g="$3" '"'"'$3 == g { found = 1 } END { exit !found }'"'"' /etc/group ||
		echo "g$3:x:$3:" >> /etc/group
	for f in /etc/passwd /etc/shadow; do
		awk -F: -v n="$1" '"'"'$1 != n'"'"' "$f" > "$f.new" && cat "$f.new" > "$f" && rm "$f.new"
	done
	echo "$1:x:$2:$3::$4:/bin/sh" >> /etc/passwd
	echo "$1:$(openssl passwd -6 "${5:-*}"):19000:0:99999:7:::" >> /etc/shadow
	mkdir -p "$4" && chown "$2:$3" "$4"
}
set +e
'

overlay_spawn() {
	local name=$1 srv=$2 devlog=$3 script=$4
	shift 4
	local upper=$WORLD/ovl-$name
	mkdir -p "$upper" || return 1
	world_spawn "$name" srv env OVL_ROOT="$OVL_CACHE/root-$srv" OVL_UPPER="$upper" \
		OVL_DEVLOG="$devlog" unshare -m --propagation private \
		bash -c "$OVL__PRELUDE$script" "$name" "$@"
}

overlay__members() {	# MNTNS: the pids in the server namespace inside it
	local p
	for p in $(ip netns pids "$NS_SRV" 2>/dev/null); do
		[ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$1" ] && echo "$p"
	done
}

overlay_stop() {
	local name=$1 ns pids i
	ns=$(cat "$WORLD/ovl-$name/mntns" 2>/dev/null) || return 0
	pids=$(overlay__members "$ns")
	[ -n "$pids" ] && kill -TERM $pids 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		pids=$(overlay__members "$ns")
		[ -z "$pids" ] && break
		sleep 0.05
	done
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	return 0
}
