#!/bin/bash
# debian-disk.sh HAKO_BINARY — the disk the pure cgroup v2 VM test boots systemd from: an ext4
# image holding hako's own cached Debian image (the one `hako create -t debian` makes and the
# host end-to-end test boots), in the image cache's layout, so the guest creates its container
# with `hako create sd -t debian` from a warm cache, exactly as a user does.
#
#   disk: cache/debian/<release>-<arch>/{rootfs/,meta}   (HAKO_CACHE=/mnt/sd/cache in the guest)
#
# The image cache is $HAKO_TEST_IMAGE_CACHE (default /var/cache/hako-test/images, shared with
# tests/storage.rs); when it has no image yet, HAKO_BINARY builds it (mmdebstrap from Debian's
# mirror, about 30 s). The disk is cached in $HAKO_VM_CACHE (default /var/cache/hako-test/vm) as
# debian-<release>-<arch>-<key>.img, where <key> hashes the image's meta file and this script;
# it is rebuilt when the image is rebuilt. Prints the disk's path. Runs as root.
set -eu -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SELF="$HERE/$(basename "$0")"
CACHE=${HAKO_VM_CACHE:-/var/cache/hako-test/vm}
IMAGES=${HAKO_TEST_IMAGE_CACHE:-/var/cache/hako-test/images}
RELEASE=bookworm
ARCH=$(dpkg --print-architecture)

die() { echo "tests/vm/debian-disk.sh: $*" >&2; exit 1; }

[ $# = 1 ] || die "usage: debian-disk.sh HAKO_BINARY"
HAKO=$1
[ -x "$HAKO" ] || die "hako binary \"$HAKO\" is not executable; build it first"
[ "$(id -u)" = 0 ] || die "must run as root (it builds the image and keeps file ownership); run it with sudo"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found; apt-get install e2fsprogs"

IMG_DIR="$IMAGES/debian/$RELEASE-$ARCH"
if [ ! -s "$IMG_DIR/meta" ]; then
    echo "tests/vm/debian-disk.sh: no $RELEASE image in $IMAGES yet; building it with $HAKO" >&2
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hako-vm-image.XXXXXX")
    mkdir -p "$tmp/etc/hako" "$tmp/lp"
    echo "lxc.net.0.type = empty" >"$tmp/etc/hako/default.conf"
    if ! HAKO_SYSCONFDIR="$tmp/etc" HAKO_CACHE="$IMAGES" "$HAKO" -P "$tmp/lp" create vmimage \
        -t debian -- -r "$RELEASE" >"$tmp/create.log" 2>&1; then
        tail -n 20 "$tmp/create.log" >&2
        rm -rf "$tmp"
        die "hako create -t debian -- -r $RELEASE failed (above); the VM test needs Debian's mirror once"
    fi
    HAKO_SYSCONFDIR="$tmp/etc" HAKO_CACHE="$IMAGES" "$HAKO" -P "$tmp/lp" destroy vmimage >&2 ||
        die "cannot destroy the helper container $tmp/lp/vmimage"
    rm -rf "$tmp"
    [ -s "$IMG_DIR/meta" ] || die "hako built no image in $IMG_DIR"
fi

key=$( { cat "$IMG_DIR/meta"; cat "$SELF"; } | sha256sum | cut -c1-12)
disk="$CACHE/debian-$RELEASE-$ARCH-$key.img"
if [ -s "$disk" ]; then
    echo "$disk"
    exit 0
fi
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.disk.XXXXXX")
trap 'umount "$tmp/tree/cache/debian/$RELEASE-$ARCH" 2>/dev/null || true; rm -rf "$tmp"' EXIT
# the tree mkfs.ext4 -d copies: cache/debian/RELEASE-ARCH/ as a bind mount of the image (no copy)
mkdir -p "$tmp/tree/cache/debian/$RELEASE-$ARCH"
mount --bind "$IMG_DIR" "$tmp/tree/cache/debian/$RELEASE-$ARCH" || die "cannot bind-mount $IMG_DIR"
size=$(du -sm "$IMG_DIR" | cut -f1)
size=$((size * 5 / 4 + 256)) # room for the container's overlay upper layer and the journal
echo "tests/vm/debian-disk.sh: building $disk (${size} MB ext4) from $IMG_DIR" >&2
truncate -s "${size}M" "$tmp/img"
mkfs.ext4 -q -F -L hako-debian -E root_owner=0:0 -d "$tmp/tree" "$tmp/img" 2>"$tmp/mkfs.err" ||
    die "mkfs.ext4 -d $tmp/tree $tmp/img failed: $(tr '\n' ' ' <"$tmp/mkfs.err")"
umount "$tmp/tree/cache/debian/$RELEASE-$ARCH"
rm -f "$CACHE"/debian-*.img "$CACHE"/systemd-rootfs-*.img
mv "$tmp/img" "$disk"
rm -rf "$tmp"
trap - EXIT
echo "tests/vm/debian-disk.sh: $disk: $(du -sh --apparent-size "$disk" | cut -f1), $(du -sh "$disk" | cut -f1) on disk" >&2
echo "$disk"
