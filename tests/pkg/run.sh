#!/bin/bash
# The Debian packages in a Debian 12 chroot (issue 16): install (dependencies from Debian's
# mirror), use (man pages, completion, a busybox container started and stopped), remove and
# purge. Nothing is installed on the host: the chroot is made by mmdebstrap (cached as
# target/pkgtest/bookworm-minbase.tar) and everything runs in a private mount and network
# namespace, so its mounts and any device it makes go with it.
# Usage: run.sh DEB_DIR VERSION
set -euo pipefail
debs=$(cd "$1" && pwd) version=$2
cd "$(dirname "$0")/../.."
cache=target/pkgtest/bookworm-minbase.tar
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1${2:+: $2}"; fails=$((fails + 1)); }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi; }

if [ ! -s "$cache" ]; then
	mkdir -p target/pkgtest
	# (the name must end in .tar: mmdebstrap picks the format from it)
	mmdebstrap --quiet --variant=minbase --include=busybox-static bookworm "$cache.new.tar"
	mv "$cache.new.tar" "$cache"
fi
work=$(mktemp -d /tmp/hako-pkgtest.XXXXXX)
root=$work/root
cleanup() {
	# the namespace's mounts died with it; refuse to remove a tree something still holds
	if grep -q " $work/" /proc/self/mountinfo; then
		echo "pkg-test: mounts left under $work; not removing it" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
mkdir "$root"
tar -C "$root" -xf "$cache"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$debs/hako_${version}_amd64.deb" "$debs/hako-lxc-compat_${version}_amd64.deb" "$root/tmp/"

# inside: private mount and PID namespaces (the tree as root, its own /proc, /sys and /dev
# bound in; whatever the script leaves running dies with the PID namespace); the host's
# network for apt; the container itself has no network (lxc.net.0.type = empty)
name=hkpkg-$$
out=$work/inside.log
sed "s/@NAME@/$name/g" > "$root/tmp/inside.sh" <<'INSIDE'
trap 'hako stop -k @NAME@ >/dev/null 2>&1 || true' EXIT
export DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8
step() { echo "== $*"; }
step install
apt-get update -qq
apt-get install -y -qq --no-install-recommends /tmp/hako_*.deb /tmp/hako-lxc-compat_*.deb man-db bash-completion systemd >/dev/null
echo "RESULT installed $(dpkg-query -W -f='${Status}\n' hako hako-lxc-compat | tr '\n' ' ')"
echo "RESULT conffiles $(dpkg-query -W -f='${Conffiles}' hako | awk '{print $1}' | tr '\n' ' ')"
echo "RESULT version $(hako --version)"
echo "RESULT lxc-info $(readlink /usr/bin/lxc-info) $(lxc-info --version)"
echo "RESULT deps $(dpkg-query -W -f='${Status}\n' dnsmasq-base nftables 2>&1 | tr '\n' ' ')"
echo "RESULT lxc-conflict $(apt-get install -s lxc 2>&1 | grep -c '^Remv hako-lxc-compat')"
step unit
echo "RESULT unit-enabled $(readlink /etc/systemd/system/multi-user.target.wants/hako-autostart.service)"
SYSTEMD_LOG_LEVEL=err systemd-analyze verify /lib/systemd/system/hako-autostart.service > /tmp/verify.out 2>&1 && echo "RESULT unit-verifies yes" || cat /tmp/verify.out
step man
echo "RESULT man-network $(man -P cat hako-network 2>/dev/null | grep -c 'hako-network-create')"
echo "RESULT man-conf $(man -P cat 5 hako.conf 2>/dev/null | grep -c 'lxc.rootfs.path')"
step create
printf 'lxc.net.0.type = empty\nlxc.console.rotate = 1\n' > /tmp/net-empty.conf
hako create -t busybox -f /tmp/net-empty.conf @NAME@ 2> /tmp/create.err
echo "RESULT create-notes $(grep -c 'lxc.console.rotate' /tmp/create.err)"
step completion
source /usr/share/bash-completion/bash_completion
source /usr/share/bash-completion/completions/hako
COMP_WORDS=(hako sta); COMP_CWORD=1; COMP_LINE="hako sta"; COMP_POINT=8; COMP_TYPE=9
_clap_complete_hako hako sta hako
echo "RESULT complete-verb ${COMPREPLY[*]}"
COMP_WORDS=(hako start hkpk); COMP_CWORD=2; COMP_LINE="hako start hkpk"; COMP_POINT=15
_clap_complete_hako hako hkpk start
echo "RESULT complete-name ${COMPREPLY[*]}"
step start
hako start @NAME@
echo "RESULT uid-map $(hako attach @NAME@ -- /bin/cat /proc/self/uid_map | tr -s ' ')"
echo "RESULT state $(hako info @NAME@ -s 2>/tmp/info.err | tr -s ' ')"
echo "RESULT info-stderr $(wc -c < /tmp/info.err)"
echo "RESULT attach $(hako attach @NAME@ -- /bin/echo inside 2>/tmp/attach.err)"
echo "RESULT attach-stderr $(wc -c < /tmp/attach.err)"
hako stop @NAME@
echo "RESULT stopped $(lxc-info -P /var/lib/hako -n @NAME@ -s | tr -s ' ')"
step remove
apt-get remove -y -qq hako-lxc-compat hako >/dev/null
echo "RESULT removed-bin $(ls /usr/bin/hako /usr/bin/lxc-info 2>&1 | grep -c 'No such file')"
echo "RESULT removed-conf-kept $(test -f /etc/hako/default.conf && echo yes)"
step purge
dpkg --purge hako hako-lxc-compat >/dev/null 2>/tmp/purge.err
echo "RESULT purged-unit $(ls /etc/systemd/system/multi-user.target.wants/hako-autostart.service 2>&1 | grep -c 'No such file')"
echo "RESULT purged-etc $(test -e /etc/hako && echo present || echo gone)"
echo "RESULT purged-kept-container $(test -f /var/lib/hako/@NAME@/config && echo kept)"
echo "RESULT purged-status $(dpkg-query -W -f='${Status}' hako 2>&1 | grep -c 'no packages found\|not-installed')"
echo "RESULT done yes"
INSIDE
unshare --mount --pid --fork --propagation private bash -euc '
root=$1
# the tree becomes the namespace'"'"'s root (pivot_root, not only chroot): the kernel refuses
# a user namespace to a chrooted caller, and hako makes "/" a slave mount
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"; mount --make-rslave "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mkdir -p "$root/.old-root"
cd "$root"
pivot_root . .old-root
exec chroot . /bin/bash -c "umount -l /.old-root && rmdir /.old-root && exec /bin/bash -euo pipefail /tmp/inside.sh </dev/null"
' - "$root" > "$out" 2>&1 || true

r() { grep "^RESULT $1 " "$out" | head -1 | cut -d' ' -f3- || true; }
expect() { # name, expected (grep -E pattern) on the RESULT line
	local v; v=$(r "$1")
	if [[ $v =~ $2 ]]; then ok "$1"; else bad "$1" "got \"$v\", want /$2/"; fi
}
expect installed '^install ok installed install ok installed'
expect unit-enabled '^/lib/systemd/system/hako-autostart.service$'
expect unit-verifies '^yes$'
expect conffiles '^/etc/hako/default.conf'
expect version "$version"
expect lxc-info "^hako .*-hako$version"
expect deps '^install ok installed install ok installed'
expect lxc-conflict '^1$'
expect man-network '^[1-9]'
expect man-conf '^[1-9]'
expect create-notes '^1$'
expect complete-verb '(^| )start( |$)'
expect complete-name "^$name\$"
expect uid-map '^ ?0 [1-9][0-9]* 65536$'
expect state 'RUNNING'
expect info-stderr '^0$'
expect attach '^inside$'
expect attach-stderr '^0$'
expect stopped 'STOPPED'
expect removed-bin '^2$'
expect removed-conf-kept '^yes$'
expect purged-unit '^1$'
expect purged-etc '^gone$'
expect purged-kept-container '^kept$'
expect purged-status '^1$'
expect done '^yes$'
# nothing of the container outlived the namespace: no cgroup in any hierarchy (the caller's own
# cgroup may sit levels below a hierarchy's root: look deep), no monitor
check no-cgroup-left bash -c "! find /sys/fs/cgroup -maxdepth 8 -name 'hako.payload.$name*' | grep -q ."
if pgrep -f "hako monitor\] $name( |\$)" >/dev/null; then bad no-monitor-left "$(pgrep -af "hako monitor\] $name")"; else ok no-monitor-left; fi
check host-has-no-hako-package bash -c "! dpkg-query -W -f='\${Status}' hako 2>/dev/null | grep -q installed"
if [ "$fails" -gt 0 ]; then
	echo "pkg-test: $fails check(s) failed; the chroot's log:" >&2
	cat "$out" >&2
	exit 1
fi
echo "pkg-test: all checks passed"
