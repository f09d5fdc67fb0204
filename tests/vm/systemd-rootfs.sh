#!/bin/bash
# A small systemd root filesystem made from the host's installed Debian packages, with no
# download: the files of the installed dependency closure of systemd (+ systemd-sysv, bash,
# dash, coreutils, util-linux, login, mount, procps, dbus, libpam-*) as `dpkg -L` lists them,
# without docs, man pages and locales, plus a minimal /etc. It is what the pure cgroup v2 VM
# test (run.sh, guest-test.sh) boots as a container's PID 1.
#
#   systemd-rootfs.sh packages            the package closure, "name version" per line
#   systemd-rootfs.sh rootfs DIR          populate DIR (absent or empty) with the root filesystem
#   systemd-rootfs.sh image               make sure the cached ext4 image exists, print its path
#   systemd-rootfs.sh host-check HAKO     prove the root filesystem on this host first: create a
#                                         container with it, boot systemd, check, stop, destroy
#
# The image lives in $HAKO_VM_CACHE (default /var/cache/hako-test/vm) as
# systemd-rootfs-<systemd version>-<key>.img, where <key> hashes the package list with versions
# and this script; it is rebuilt only when that changes (older images are removed).
# Runs as root (file ownership is kept); needs dpkg, tar, systemctl, systemd-sysusers, ldconfig,
# mkfs.ext4 (e2fsprogs >= 1.43 for -d) and sha256sum.
set -eu -o pipefail
shopt -s extglob

HERE=$(cd "$(dirname "$0")" && pwd)
SELF="$HERE/$(basename "$0")"
CACHE=${HAKO_VM_CACHE:-/var/cache/hako-test/vm}
ROOTS="systemd systemd-sysv bash dash coreutils util-linux login mount procps dbus
       libpam-systemd libpam-modules libpam-runtime"
# Needed only by maintainer scripts (perl, dpkg), never at run time: not followed.
SKIP=" debconf debconf-2.0 perl-base dpkg init-system-helpers adduser "

die() { echo "tests/vm/systemd-rootfs.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- the package closure
# closure: prints "name version" of every installed package reachable from $ROOTS through
# Depends and Pre-Depends (first installed alternative; virtual names through Provides).
closure() {
    local arch
    arch=$(dpkg --print-architecture)
    declare -A ver deps prov seen
    local pkg a st v pr d pd
    # ";" separates the fields: a tab would be IFS white space, and empty fields would collapse
    while IFS=';' read -r pkg a st v pr d pd; do
        [ "$st" = "install ok installed" ] || continue
        [ "$a" = "$arch" ] || [ "$a" = all ] || continue
        ver[$pkg]=$v
        deps[$pkg]="$d, $pd"
        local p
        IFS=',' read -ra provs <<<"$pr"
        for p in "${provs[@]}"; do
            p=${p%%(*}; p=${p// /}
            [ -n "$p" ] && [ -z "${prov[$p]:-}" ] && prov[$p]=$pkg
        done
    done < <(dpkg-query -W -f='${Package};${Architecture};${Status};${Version};${Provides};${Depends};${Pre-Depends}\n')
    local queue=($ROOTS) out=() p alt alts pick x
    for p in $ROOTS; do [ -n "${ver[$p]:-}" ] || die "package $p is not installed on this host; install it with apt-get install $p"; done
    while [ ${#queue[@]} -gt 0 ]; do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        [ -n "${seen[$p]:-}" ] && continue
        seen[$p]=1
        out+=("$p ${ver[$p]}")
        IFS=',' read -ra alts <<<"${deps[$p]}"
        for alt in "${alts[@]}"; do
            alt=${alt//\(*([^\)])\)/} # version constraints
            alt=${alt//\[*([^\]])\]/} # architecture restrictions
            alt=${alt//:any/}
            [ -n "${alt// /}" ] || continue
            pick=
            IFS='|' read -ra xs <<<"$alt"
            for x in "${xs[@]}"; do
                x=${x// /}
                case $SKIP in *" $x "*) pick=- && break ;; esac
                if [ -n "${ver[$x]:-}" ]; then pick=$x && break; fi
                if [ -n "${prov[$x]:-}" ]; then pick=${prov[$x]} && break; fi
            done
            [ -n "$pick" ] || die "$p depends on \"${alt# }\", which is not installed on this host; install it with apt-get"
            [ "$pick" = - ] || queue+=("$pick")
        done
    done
    printf '%s\n' "${out[@]}" | sort
}

# ---------------------------------------------------------------- the root filesystem
# the files to leave out (after the leading /): documentation, translations, shell completions
excluded() {
    grep -vE '^(usr/share/(doc|doc-base|man|info|locale|lintian|bug|bash-completion|zsh|fish|common-licenses|i18n)(/|$)|usr/lib/[^/]+/gconv/)'
}

# write_pam: the common-* PAM stacks that pam-auth-update would write (pam_unix, pam_systemd)
write_pam() {
    local d=$1/etc/pam.d t
    mkdir -p "$d"
    for t in auth account; do
        printf '%s\t[success=1 default=ignore]\tpam_unix.so%s\n%s\trequisite\tpam_deny.so\n%s\trequired\tpam_permit.so\n' \
            $t "$([ $t = auth ] && echo ' nullok')" $t $t >"$d/common-$t"
    done
    printf 'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword\trequisite\tpam_deny.so\npassword\trequired\tpam_permit.so\n' >"$d/common-password"
    printf 'session\t[default=1]\tpam_permit.so\nsession\trequisite\tpam_deny.so\nsession\trequired\tpam_permit.so\nsession\trequired\tpam_unix.so\n' >"$d/common-session-noninteractive"
    { cat "$d/common-session-noninteractive"; printf 'session\toptional\tpam_systemd.so\n'; } >"$d/common-session"
}

# write_users DIR: passwd/group from base-passwd's master files, the ids of the host for the
# users and groups the image's sysusers.d names (so files the host's dpkg gave to them keep
# their owner), then systemd-sysusers for anything else; every password is locked.
write_users() {
    local r=$1 n
    sed 's/^\([^:]*\):[^:]*:/\1:x:/' /usr/share/base-passwd/passwd.master >"$r/etc/passwd"
    sed 's/^\([^:]*\):[^:]*:/\1:x:/' /usr/share/base-passwd/group.master >"$r/etc/group"
    for n in $(awk '$1 == "u" || $1 == "g" { print $2 }' "$r"/usr/lib/sysusers.d/*.conf 2>/dev/null | sort -u); do
        grep -q "^$n:" "$r/etc/passwd" || grep "^$n:" /etc/passwd >>"$r/etc/passwd" || true
        grep -q "^$n:" "$r/etc/group" || grep "^$n:" /etc/group >>"$r/etc/group" || true
    done
    awk -F: '{ print $1 ":*:19000:0:99999:7:::" }' "$r/etc/passwd" >"$r/etc/shadow"
    awk -F: '{ print $1 ":*::" }' "$r/etc/group" >"$r/etc/gshadow"
    chmod 0640 "$r/etc/shadow" "$r/etc/gshadow"
    chgrp 42 "$r/etc/shadow" "$r/etc/gshadow" # shadow (base-passwd's fixed id)
    systemd-sysusers --root="$r" >/dev/null 2>&1 || die "systemd-sysusers --root=$r failed; run it by hand to see why"
}

build_rootfs() {
    local r=$1 pkgs list
    [ "$(id -u)" = 0 ] || die "must run as root (the files keep their owners); run it with sudo"
    mkdir -p "$r"
    r=$(cd "$r" && pwd)
    [ -z "$(ls -A "$r")" ] || die "$r is not empty; give an empty or absent directory"
    pkgs=$(closure | awk '{ print $1 }')
    # the merged-/usr layout of Debian 12: /bin, /sbin, /lib, /lib64 are links into /usr
    mkdir -p "$r"/usr/{bin,sbin,lib,lib64}
    local l
    for l in bin sbin lib lib64; do ln -s "usr/$l" "$r/$l"; done
    list=$(mktemp)
    # shellcheck disable=SC2086
    dpkg -L $pkgs | grep '^/.' | sed 's|^/||' | excluded | sort -u |
        while IFS= read -r f; do [ -e "/$f" ] || [ -L "/$f" ] && printf '%s\n' "$f"; done >"$list"
    # --keep-directory-symlink: a package's "bin/" entry must not replace the bin -> usr/bin link
    tar -C / --numeric-owner --no-recursion --verbatim-files-from -T "$list" -cf - |
        tar -C "$r" --numeric-owner --keep-directory-symlink -xpf - ||
        { rm -f "$list"; die "cannot copy the packages' files into $r with tar"; }
    rm -f "$list"
    [ -e "$r/bin/sh" ] || ln -s dash "$r/bin/sh"

    mkdir -p "$r"/{dev,proc,sys,run,tmp,root,home,mnt,srv,opt,var/{log,lib,cache,spool,tmp,mail}}
    chmod 1777 "$r/tmp" "$r/var/tmp"
    chmod 0700 "$r/root"
    ln -sfn /run "$r/var/run"
    ln -sfn /run/lock "$r/var/lock"
    : >"$r/etc/machine-id" # empty: systemd makes a transient one at each boot
    printf '# no file systems to mount: the container manager sets up the root\n' >"$r/etc/fstab"
    printf 'passwd: files\ngroup: files\nshadow: files\ngshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n' >"$r/etc/nsswitch.conf"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
    printf '/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/dash\n/usr/bin/dash\n' >"$r/etc/shells"
    # what base-files' postinst would install
    [ -e "$r/etc/profile" ] || cp "$r/usr/share/base-files/profile" "$r/etc/profile"
    [ -e "$r/etc/motd" ] || cp "$r/usr/share/base-files/motd" "$r/etc/motd"
    cp "$r/usr/share/base-files/dot.bashrc" "$r/root/.bashrc"
    cp "$r/usr/share/base-files/dot.profile" "$r/root/.profile"
    [ -e "$r/etc/os-release" ] || [ -L "$r/etc/os-release" ] || ln -s ../usr/lib/os-release "$r/etc/os-release"
    printf 'include /etc/ld.so.conf.d/*.conf\n' >"$r/etc/ld.so.conf"
    ldconfig -r "$r" || die "ldconfig -r $r failed"
    write_pam "$r"
    write_users "$r"
    # what the maintainer scripts would enable; the container boots to multi-user
    systemctl --root="$r" --quiet set-default multi-user.target
    systemctl --root="$r" --quiet enable getty@tty1.service remote-fs.target systemd-pstore.service 2>/dev/null ||
        die "systemctl --root=$r enable failed"
}

# ---------------------------------------------------------------- the cached ext4 image
image() {
    local list key sdver img tmp size
    command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found; apt-get install e2fsprogs"
    list=$(closure)
    sdver=$(awk '$1 == "systemd" { print $2 }' <<<"$list" | tr -c 'A-Za-z0-9.+~\n-' _)
    key=$( { printf '%s\n' "$list"; cat "$SELF"; } | sha256sum | cut -c1-12)
    img="$CACHE/systemd-rootfs-$sdver-$key.img"
    if [ -s "$img" ]; then
        echo "$img"
        return
    fi
    [ "$(id -u)" = 0 ] || die "the image $img must be built as root; run tests/vm/setup.sh with sudo"
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/.sdroot.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "tests/vm/systemd-rootfs.sh: building $img from $(wc -l <<<"$list") installed packages" >&2
    build_rootfs "$tmp/disk/rootfs"
    # the disk holds the root filesystem in rootfs/, so the guest can move it into its lxcpath
    size=$(du -sm "$tmp/disk" | cut -f1)
    size=$((size * 5 / 4 + 48))
    truncate -s "${size}M" "$tmp/img"
    mkfs.ext4 -q -F -L hako-sd -E root_owner=0:0 -d "$tmp/disk" "$tmp/img" 2>"$tmp/mkfs.err" ||
        die "mkfs.ext4 -d $tmp/disk $tmp/img failed: $(tr '\n' ' ' <"$tmp/mkfs.err")"
    rm -f "$CACHE"/systemd-rootfs-*.img
    mv "$tmp/img" "$img"
    rm -rf "$tmp"
    trap - EXIT
    echo "tests/vm/systemd-rootfs.sh: $img: $(du -sh --apparent-size "$img" | cut -f1) ($size MB file system, $(du -sh "$img" | cut -f1) on disk)" >&2
    echo "$img"
}

# ---------------------------------------------------------------- proof on this host
host_check() {
    local hako=$1 p name rc=0 out t0 t1 cg
    [ -x "$hako" ] || die "hako binary \"$hako\" is not executable"
    p=$(mktemp -d /tmp/hako-sd-host.XXXXXX)
    name=sdvm$$
    mkdir -p "$p/etc/hako"
    echo 'lxc.net.0.type = empty' >"$p/etc/hako/default.conf"
    export HAKO_SYSCONFDIR=$p/etc
    H() { timeout "${T:-30}" "$hako" -P "$p/lxc" "$@"; }
    # whatever happens, leave nothing behind (a no-op after the normal destroy)
    trap 'T=30 H stop -k "$name" >/dev/null 2>&1; T=30 H destroy "$name" >/dev/null 2>&1; rm -rf "$p"' EXIT
    secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
    cat >"$p/sd.conf" <<EOF
lxc.net.0.type = empty
lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed
lxc.autodev = 1
lxc.tty.max = 4
lxc.init.cmd = /lib/systemd/systemd
EOF
    say() { echo "host-check: $*"; }
    bad() { say "FAIL $*"; rc=1; }
    H create "$name" -t none -f "$p/sd.conf" || die "hako create $name -t none failed"
    build_rootfs "$p/lxc/$name/rootfs"
    say "rootfs: $(du -sh "$p/lxc/$name/rootfs" | cut -f1)"
    t0=$(date +%s.%N)
    H start "$name" || bad "hako start $name: rc=$?"
    # until systemd's private socket is up, systemctl cannot connect; then --wait waits for the boot
    local deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
        out=$(T=$((deadline - SECONDS + 1)) H attach "$name" -- /bin/systemctl is-system-running --wait 2>&1) || true
        case $out in running | degraded | maintenance | stopping | offline) break ;; esac
        sleep 0.1
    done
    t1=$(date +%s.%N)
    say "is-system-running: $out ($(secs "$t0" "$t1") s after start)"
    [ "$out" = running ] || bad "is-system-running said \"$out\""
    out=$(H attach "$name" -- /bin/systemctl --failed --no-legend --plain 2>&1) || true
    [ -z "$out" ] || bad "failed units: $out"
    cg=$(H attach "$name" -- /bin/cat /proc/1/cgroup 2>&1 | tr '\n' ' ') || true
    say "/proc/1/cgroup: $cg"
    case " $cg" in *" 0::/init.scope"*) ;; *) bad "/proc/1/cgroup has no 0::/init.scope" ;; esac
    out=$(H attach "$name" -- /bin/journalctl --no-pager -n1 2>&1) || bad "journalctl -n1: $out"
    say "journalctl -n1: $out"
    t0=$(date +%s.%N)
    T=90 H stop "$name" || bad "hako stop $name: rc=$?"
    t1=$(date +%s.%N)
    say "stop took $(secs "$t0" "$t1") s"
    if [ $rc != 0 ]; then
        say "---- console.log ----"
        tail -n 80 "$p/lxc/$name/console.log" 2>/dev/null || true
    fi
    H destroy "$name" || bad "hako destroy $name"
    if ls -d /sys/fs/cgroup/*/hako.payload."$name" /sys/fs/cgroup/*/hako.monitor."$name" 2>/dev/null | grep -q .; then
        bad "cgroups left: $(ls -d /sys/fs/cgroup/*/hako.*."$name" | tr '\n' ' ')"
    fi
    rm -rf "$p"
    [ $rc = 0 ] && say "PASS" || say "FAIL"
    return $rc
}

case ${1:-} in
packages) closure ;;
rootfs) [ $# = 2 ] || die "usage: systemd-rootfs.sh rootfs DIR"; build_rootfs "$2" ;;
image) image ;;
host-check) [ $# = 2 ] || die "usage: systemd-rootfs.sh host-check HAKO_BINARY"; host_check "$2" ;;
*) die "usage: systemd-rootfs.sh packages | rootfs DIR | image | host-check HAKO_BINARY" ;;
esac
