#!/bin/bash
# Boots a small pure cgroup v2 VM (qemu, software emulation) with Debian's cloud kernel and an
# initramfs holding busybox, the given static hako binary, apparmor_parser (with the shared
# libraries it needs) and tests/vm/guest-test.sh, and runs the test inside it. The full run
# also attaches a disk: hako's cached Debian bookworm image (tests/vm/debian-disk.sh, cached
# in HAKO_VM_CACHE), with snapshot=on so the guest's writes never reach the cached disk; and a
# small read-only probe disk that the guest mounts read-only, for the AppArmor block-device
# probe. Exit status 0 only when the guest printed "HAKO-VM-RESULT: PASS".
#
#   tests/vm/run.sh HAKO_BINARY          the full hako scenario
#   tests/vm/run.sh --smoke [HAKO_BINARY]  only the VM plumbing (cgroup2, controllers, freezer)
#
# Needs tests/vm/setup.sh to have run (qemu, cpio, busybox-static, the kernel); a missing Debian
# disk is built here (root; the first time also the image, from Debian's mirror).
# Environment:
#   HAKO_VM_CACHE    where setup.sh unpacked the kernel (default /var/cache/hako-test/vm)
#   HAKO_VM_TIMEOUT  seconds for the whole VM run (default 240)
#   HAKO_VM_SYSTEMD  1 (default): also boot systemd in a container; 0: the busybox scenario only
#   HAKO_VM_LOG      the console log file (default ${TMPDIR:-/tmp}/hako-vm-console.log)
#   HAKO_VM_SMP      vCPUs (default 2)
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HAKO_VM_CACHE:-/var/cache/hako-test/vm}
TIMEOUT=${HAKO_VM_TIMEOUT:-240}
LOG=${HAKO_VM_LOG:-${TMPDIR:-/tmp}/hako-vm-console.log}
SMP=${HAKO_VM_SMP:-2}
SYSTEMD=${HAKO_VM_SYSTEMD:-1}
BUSYBOX=/bin/busybox

die() { echo "tests/vm/run.sh: $*" >&2; exit 2; }
usage() { echo "usage: tests/vm/run.sh [--smoke] HAKO_BINARY   (HAKO_BINARY optional with --smoke)" >&2; exit 2; }

MODE=full
HAKO=
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) MODE=smoke ;;
    -h | --help) usage ;;
    -*) echo "tests/vm/run.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$HAKO" ] || usage; HAKO=$1 ;;
    esac
    shift
done
[ "$MODE" = smoke ] || [ -n "$HAKO" ] || usage

# elf_static FILE: true when FILE is an x86-64 ELF executable without a program interpreter
# (PT_INTERP), i.e. statically linked (static-pie included). No ldd: it would run the file.
elf_static() {
    local f=$1 magic class machine phoff phentsize phnum i type
    magic=$(od -An -tx1 -N4 "$f" 2>/dev/null | tr -d ' \n')
    [ "$magic" = 7f454c46 ] || { WHY="not an ELF file"; return 1; }
    class=$(od -An -tu1 -j4 -N1 "$f" | tr -d ' ')
    machine=$(od -An -tu2 -j18 -N2 "$f" | tr -d ' ')
    [ "$class" = 2 ] && [ "$machine" = 62 ] || { WHY="not an x86-64 (64-bit) ELF file"; return 1; }
    phoff=$(od -An -tu8 -j32 -N8 "$f" | tr -d ' ')
    phentsize=$(od -An -tu2 -j54 -N2 "$f" | tr -d ' ')
    phnum=$(od -An -tu2 -j56 -N2 "$f" | tr -d ' ')
    for ((i = 0; i < phnum; i++)); do
        type=$(od -An -tu4 -j$((phoff + i * phentsize)) -N4 "$f" | tr -d ' ')
        [ "$type" = 3 ] && { WHY="dynamically linked (it has a program interpreter)"; return 1; }
    done
    return 0
}
describe() { command -v file >/dev/null 2>&1 && file -b "$1" || true; }

for t in qemu-system-x86_64 cpio gzip timeout od; do
    command -v $t >/dev/null 2>&1 || die "$t not found; run tests/vm/setup.sh as root first"
done
AA_PARSER=
if [ "$MODE" = full ]; then
    AA_PARSER=$(PATH=$PATH:/usr/sbin:/sbin command -v apparmor_parser) ||
        die "apparmor_parser not found; run tests/vm/setup.sh as root (it installs Debian's apparmor package)"
    command -v mkfs.ext4 >/dev/null 2>&1 || die "mkfs.ext4 not found; apt-get install e2fsprogs"
fi
KERNEL=$(ls "$CACHE"/kernel/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)
[ -n "$KERNEL" ] || die "no kernel in $CACHE/kernel/boot; run tests/vm/setup.sh as root first (or set HAKO_VM_CACHE)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found; install busybox-static (tests/vm/setup.sh does)"
elf_static "$BUSYBOX" || die "$BUSYBOX is $WHY ($(describe "$BUSYBOX")); install busybox-static"
if [ -n "$HAKO" ]; then
    [ -f "$HAKO" ] && [ -x "$HAKO" ] || die "hako binary \"$HAKO\" is not an executable file; build it with: RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target x86_64-unknown-linux-gnu -p hako"
    elf_static "$HAKO" || die "hako binary \"$HAKO\" is $WHY ($(describe "$HAKO")); the VM has no shared libraries: build it with RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target x86_64-unknown-linux-gnu -p hako"
fi

# the Debian disk and the modules the guest needs to use it (virtio-blk and overlay are modules in Debian's
# cloud kernel; ext4 is built in). The order is the dependency order (modinfo -F depends).
IMG=
MODDIR=$(ls -d "$CACHE"/kernel/lib/modules/*/kernel 2>/dev/null | sort -V | tail -n1)
# binfmt_misc is a module too: the guest loads it, as a Debian host does, so that the AppArmor
# probe's binfmt_misc mount means something.
DISK_MODS="drivers/virtio/virtio_ring.ko drivers/virtio/virtio.ko drivers/virtio/virtio_pci_modern_dev.ko
    drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko
    fs/overlayfs/overlay.ko fs/binfmt_misc.ko"
if [ "$MODE" = full ]; then
    for m in $DISK_MODS; do
        [ -f "$MODDIR/$m" ] || die "$m not found under $CACHE/kernel/lib/modules/*/kernel; delete $CACHE/kernel and run tests/vm/setup.sh again"
    done
fi
if [ "$MODE" = full ] && [ "$SYSTEMD" = 1 ]; then
    IMG=$("$HERE/debian-disk.sh" "$HAKO") || die "no Debian disk (tests/vm/debian-disk.sh failed, see above); run it as root, or set HAKO_VM_SYSTEMD=0 to skip the systemd checks"
    echo "tests/vm/run.sh: Debian disk $IMG ($(du -sh --apparent-size "$IMG" | cut -f1))"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hako-vm.XXXXXX") || die "cannot create a temporary directory in ${TMPDIR:-/tmp}"
cleanup() {
    if [ -s "$WORK/qemu.pid" ] && [ ! -e "$WORK/qemu.rc" ]; then
        kill "$(cat "$WORK/qemu.pid")" 2>/dev/null # the timeout process; it passes the signal to qemu
        sleep 1
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the initramfs
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var} || die "cannot populate $R"
cp "$BUSYBOX" "$R/bin/busybox" || die "cannot copy $BUSYBOX into the initramfs"
for applet in $("$BUSYBOX" --list-full); do
    [ -e "$R/$applet" ] || [ -L "$R/$applet" ] || { mkdir -p "$(dirname "$R/$applet")" && ln -s /bin/busybox "$R/$applet"; }
done
if [ -n "$HAKO" ]; then
    cp "$HAKO" "$R/usr/bin/hako" || die "cannot copy $HAKO into the initramfs"
    # the monitor executable lives next to hako (without it hako runs the monitor in-process)
    MON="$(dirname "$HAKO")/hako-monitor"
    if [ -f "$MON" ]; then
        elf_static "$MON" || die "hako-monitor \"$MON\" is $WHY; build both with the static RUSTFLAGS"
        cp "$MON" "$R/usr/bin/hako-monitor" || die "cannot copy $MON into the initramfs"
    fi
fi
if [ "$MODE" = full ]; then
    mkdir -p "$R/lib/modules/hako"
    for m in $DISK_MODS; do
        cp "$MODDIR/$m" "$R/lib/modules/hako/" || die "cannot copy $m into the initramfs"
        basename "$m" >>"$R/lib/modules/hako/order"
    done
    # apparmor_parser and the shared libraries ldd lists for it (the program interpreter
    # included), at the same paths
    cp "$AA_PARSER" "$R/sbin/apparmor_parser" || die "cannot copy $AA_PARSER into the initramfs"
    # Debian's parser.conf pins the policy's feature ABI to a file of the package
    if [ -f /etc/apparmor/parser.conf ]; then
        mkdir -p "$R/etc/apparmor" && cp /etc/apparmor/parser.conf "$R/etc/apparmor/"
        if [ -d /usr/share/apparmor-features ]; then
            mkdir -p "$R/usr/share" && cp -r /usr/share/apparmor-features "$R/usr/share/"
        fi
    fi
    for lib in $(ldd "$AA_PARSER" | grep -o '/[^ ]*'); do
        mkdir -p "$R$(dirname "$lib")"
        cp -L "$lib" "$R$lib" || die "cannot copy $lib (needed by $AA_PARSER) into the initramfs"
    done
    # the probe disk: a small ext4 file system with a marker file, attached read-only; the
    # guest mounts it read-only as a host mounts its disks
    mkdir -p "$WORK/probe"
    echo hako-probe-disk-marker >"$WORK/probe/hako-probe-disk"
    truncate -s 8M "$WORK/probe.img"
    mkfs.ext4 -q -F -L hako-probe -d "$WORK/probe" "$WORK/probe.img" 2>"$WORK/mkfs.err" ||
        die "mkfs.ext4 of the probe disk failed: $(tr '\n' ' ' <"$WORK/mkfs.err")"
    # which virtio disk is which in the guest: the Debian disk (if any) comes first
    if [ -n "$IMG" ]; then
        printf 'SD_DISK=/dev/vda\nPROBE_DISK=/dev/vdb\n' >"$R/etc/hako-vm-disks"
    else
        printf 'SD_DISK=\nPROBE_DISK=/dev/vda\n' >"$R/etc/hako-vm-disks"
    fi
fi
# newuidmap and newgidmap (setuid root) with their shared libraries, for the rootless checks
if [ "$MODE" = full ]; then
    for t in newuidmap newgidmap; do
        p=$(command -v $t) || die "$t not found; run tests/vm/setup.sh as root (it installs Debian's uidmap package)"
        cp -a "$p" "$R/usr/bin/$t" || die "cannot copy $p into the initramfs"
        for lib in $(ldd "$p" | grep -o '/[^ ]*'); do
            mkdir -p "$R$(dirname "$lib")"
            cp -L "$lib" "$R$lib" || die "cannot copy $lib (needed by $p) into the initramfs"
        done
    done
    : >"$R/etc/subuid"
    : >"$R/etc/subgid"
fi
cp "$HERE/guest-test.sh" "$R/guest-test.sh" || die "cannot copy guest-test.sh into the initramfs"
chmod 0755 "$R/guest-test.sh"
echo "root:x:0:0:root:/root:/bin/sh" >"$R/etc/passwd"
echo "root:x:0:" >"$R/etc/group"
GUEST_ARGS=
[ "$MODE" = smoke ] && GUEST_ARGS=--smoke
DISK=()
[ -n "$IMG" ] && DISK=(-drive "file=$IMG,if=virtio,format=raw,snapshot=on")
[ "$MODE" = full ] && DISK+=(-drive "file=$WORK/probe.img,if=virtio,format=raw,readonly=on")
cat >"$R/init" <<EOF
#!/bin/sh
# PID 1 of the test VM. The initramfs root cannot be pivot_root'ed away from (the kernel
# refuses with EINVAL, for LXC as for hako), so first copy it into a tmpfs and switch_root
# there, as a real system's initramfs would; then run guest-test.sh and power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
if [ ! -e /.hako-vm-root ]; then
    mount -t devtmpfs devtmpfs /dev 2>/dev/null
    exec </dev/console >/dev/console 2>&1
    echo
    echo "HAKO-VM-BOOTED"
    mkdir -p /newroot
    mount -t tmpfs -o mode=0755 root /newroot || { echo "HAKO-VM-RESULT: FAIL (cannot mount the tmpfs root)"; poweroff -f; }
    for d in /*; do
        case \$d in /newroot | /dev | /proc | /sys) ;; *) cp -a "\$d" /newroot/ ;; esac
    done
    mkdir -p /newroot/dev /newroot/proc /newroot/sys
    touch /newroot/.hako-vm-root
    mount --move /dev /newroot/dev
    exec switch_root /newroot /init
fi
mount -t proc proc /proc
/bin/sh /guest-test.sh $GUEST_ARGS
echo "HAKO-VM-GUEST-EXIT: \$?"
sync
poweroff -f
EOF
chmod 0755 "$R/init"
(cd "$R" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$WORK/initrd.gz" || die "cannot build the initramfs with cpio/gzip"

# ---------------------------------------------------------------- boot
echo "tests/vm/run.sh: booting $(basename "$KERNEL") ($MODE, timeout ${TIMEOUT}s, console log $LOG)"
START=$(date +%s)
: >"$LOG" || die "cannot write the console log $LOG; set HAKO_VM_LOG"
# qemu writes the serial console to stdout; strip CRs and the firmware's terminal escapes, and
# copy it to the log and to stdout.
# It runs in the background so that a signal to this script is handled at once (the trap
# stops qemu) instead of after the VM ends.
(
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -m 1024 -smp "$SMP" -nographic -no-reboot -nic none \
        -kernel "$KERNEL" -initrd "$WORK/initrd.gz" "${DISK[@]}" \
        -append "console=ttyS0 quiet panic=-1" </dev/null 2>&1 &
    echo $! >"$WORK/qemu.pid"
    wait $!
    echo $? >"$WORK/qemu.rc"
) | sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' | tee -a "$LOG" &
wait $!
QEMU_RC=$(cat "$WORK/qemu.rc" 2>/dev/null || echo unknown)
ELAPSED=$(($(date +%s) - START))

if grep -qx 'HAKO-VM-RESULT: PASS' "$LOG"; then
    echo "tests/vm/run.sh: PASS ($MODE, ${ELAPSED}s)"
    exit 0
fi

echo
echo "tests/vm/run.sh: FAIL ($MODE, ${ELAPSED}s)"
TIMED_OUT=no
if [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
    TIMED_OUT=yes
    echo "  the VM did not finish within ${TIMEOUT}s and was killed (raise HAKO_VM_TIMEOUT if the machine is slow)"
elif [ "$QEMU_RC" != 0 ]; then
    echo "  qemu-system-x86_64 exited with status $QEMU_RC"
fi
if ! grep -q 'HAKO-VM-BOOTED' "$LOG"; then
    if [ $TIMED_OUT = yes ]; then
        echo "  the guest had not reached /init when the VM was killed"
    else
        echo "  the guest never reached /init (kernel or initramfs problem)"
    fi
elif ! grep -q '^HAKO-VM-RESULT: ' "$LOG"; then
    echo "  the guest test printed no result line (it hung or the VM died)"
fi
echo "---- last 60 lines of the console ($LOG) ----"
tail -n 60 "$LOG"
if grep -q '^---- systemd container console.log' "$LOG"; then
    echo "---- the systemd container's console.log, as the guest printed it ----"
    sed -n '/^---- systemd container console.log/,/^---- end of console.log/p' "$LOG" | tail -n 150
fi
echo "---- failed checks ----"
grep '^CHECK .*: FAIL' "$LOG" || echo "(none reported)"
exit 1
