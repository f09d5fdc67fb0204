#!/bin/sh
# Prepares the host for the pure cgroup v2 VM test (tests/vm/run.sh). Run as root; idempotent;
# silent when everything is already in place.
#  - installs qemu-system-x86, cpio, busybox-static, apparmor (whose apparmor_parser the
#    guest loads hako's generated profiles with) and uidmap (newuidmap/newgidmap, which run.sh
#    copies into the guest for the rootless checks) when missing;
#  - downloads Debian's cloud kernel package and unpacks it (dpkg -x) into $HAKO_VM_CACHE
#    (default /var/cache/hako-test/vm). The kernel is never installed on the host;
# The Debian disk the guest boots systemd from is made by run.sh (debian-disk.sh), which has
# the hako binary that builds the image.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HAKO_VM_CACHE:-/var/cache/hako-test/vm}
export DEBIAN_FRONTEND=noninteractive

die() { echo "tests/vm/setup.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and writes $CACHE); run it with sudo"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; this script needs a Debian host"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=
for p in qemu-system-x86 cpio busybox-static apparmor uidmap; do
    installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "tests/vm/setup.sh: installing$missing"
    apt-get update -qq || die "apt-get update failed; check the network and /etc/apt/sources.list*"
    # shellcheck disable=SC2086
    if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
        # A qemu-utils/qemu-block-extra from backports blocks Debian 12's qemu-system-x86:
        # take both from bookworm (vm.md).
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends --allow-downgrades $missing \
            qemu-utils/bookworm qemu-block-extra/bookworm >/dev/null \
            || die "cannot install$missing with apt-get; run \"apt-get install$missing\" by hand to see why"
    fi
fi

# The kernel: the current version behind Debian's linux-image-cloud-amd64 meta package.
kernel_present() { ls "$CACHE"/kernel/boot/vmlinuz-* >/dev/null 2>&1; }
if ! kernel_present; then
    pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
    if [ -z "$pkg" ]; then
        apt-get update -qq || die "apt-get update failed; check the network and /etc/apt/sources.list*"
        pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
    fi
    [ -n "$pkg" ] || die "cannot find the package behind linux-image-cloud-amd64 (apt-cache depends); enable Debian's main archive in /etc/apt/sources.list*"
    echo "tests/vm/setup.sh: downloading $pkg into $CACHE"
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    # apt-get download runs as _apt when it can; give it a directory it may write to.
    chmod 0777 "$tmp"
    (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null) \
        || die "cannot download $pkg with \"apt-get download\"; check the network, or run \"apt-get update\""
    deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "apt-get download $pkg produced no .deb in $tmp"
    dpkg -x "$deb" "$tmp/kernel" || die "cannot unpack $deb with dpkg -x"
    ls "$tmp"/kernel/boot/vmlinuz-* >/dev/null 2>&1 || die "$deb holds no boot/vmlinuz-*; is $pkg a kernel image package?"
    rm -rf "$CACHE/kernel"
    mv "$tmp/kernel" "$CACHE/kernel"
    echo "$pkg" >"$CACHE/kernel.package"
    rm -rf "$tmp"
    trap - EXIT
fi
