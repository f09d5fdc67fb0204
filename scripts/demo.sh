#!/bin/bash
# make demo: the classic LXC walkthrough with hako, on a busybox system container, in a
# throwaway lxcpath; everything it creates is removed at the end.
set -euo pipefail
HAKO=$(realpath "${1:-target/release/hako}")
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (hako manages namespaces and cgroups)" >&2; exit 1; fi
LXCPATH=$(mktemp -d /tmp/hako-demo.XXXXXX)
NAME=demo$$
DEB=deb$$
hako() { "$HAKO" -P "$LXCPATH" "$@"; }
# the default managed network hakobr0: removed at the end if this demo created it
HAD_NET=0
"$HAKO" network show hakobr0 >/dev/null 2>&1 && HAD_NET=1
cleanup() {
    hako stop "$NAME" -k >/dev/null 2>&1 || true
    hako destroy "$NAME" -f >/dev/null 2>&1 || true
    hako destroy "${DEB}c" -f >/dev/null 2>&1 || true
    hako destroy "$DEB" -f >/dev/null 2>&1 || true
    [ "$HAD_NET" = 1 ] || "$HAKO" network rm -f hakobr0 >/dev/null 2>&1 || true
    rm -rf "$LXCPATH"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ hako %s\033[0m\n' "$*"; hako "$@"; }

step version
step create "$NAME" -t busybox
step start "$NAME"
# the busybox init asks the default network's dnsmasq for an address
for _ in $(seq 50); do hako info "$NAME" -i -H 2>/dev/null | grep -q . && break; sleep 0.1; done
step info "$NAME"
step network show hakobr0
# unprivileged by default: its root is the first id of a range of its own on the host
step attach "$NAME" -- cat /proc/self/uid_map
printf 'init runs on the host as uid %s\n' "$(stat -c %u /proc/"$(hako info "$NAME" -p -H)")"
step attach "$NAME" -- /bin/sh -c 'echo "hello from $(hostname), pid $$"; ps; cat /proc/1/environ | tr "\0" "\n" | grep container; ip -4 addr show eth0; ping -c1 -W1 "$(ip route | awk "/default/ {print \$3}")"'
echo hello > "$LXCPATH/hello.txt"
step file push "$LXCPATH/hello.txt" "$NAME:/tmp/hello.txt"
step attach "$NAME" -- cat /tmp/hello.txt
step cgroup "$NAME" devices.list
step cgroup "$NAME" memory.limit_in_bytes 64M
step cgroup "$NAME" memory.limit_in_bytes
step freeze "$NAME"
step ls -f
step unfreeze "$NAME"
step wait "$NAME" -s RUNNING -t 5
step stop "$NAME"
step ls -f
step destroy "$NAME"

# A Debian system container: the image is built once into the image cache (/var/cache/hako,
# ~30 s with mmdebstrap from Debian's mirror; it stays there for the next create), then the
# container is an overlay on it. HAKO_DEMO_DEBIAN=0 skips this part.
if [ "${HAKO_DEMO_DEBIAN:-1}" = 1 ]; then
    step create "$DEB" -t debian -- -r bookworm
    step start "$DEB"
    for _ in $(seq 100); do
        st=$(hako attach "$DEB" -- systemctl is-system-running 2>/dev/null || true)
        case $st in running | degraded) break ;; esac
        sleep 0.1
    done
    step attach "$DEB" -- sh -c 'echo "systemd is $(systemctl is-system-running) on $(hostname)"; grep 127.0.1.1 /etc/hosts; ip -4 -br addr show eth0'
    step image ls
    step stop "$DEB"
    step copy "$DEB" "${DEB}c" -s
    step start "${DEB}c"
    step attach "${DEB}c" -- sh -c 'echo "the clone is $(hostname), machine-id $(cat /etc/machine-id)"'
    step stop "${DEB}c" -k
    step destroy "${DEB}c"
    step destroy "$DEB"
fi
printf '\ndemo: done; nothing left behind (lxcpath %s removed)\n' "$LXCPATH"
