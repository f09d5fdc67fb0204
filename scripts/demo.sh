#!/bin/bash
# make demo: the classic LXC walkthrough with hako, on a busybox system container, in a
# throwaway lxcpath; everything it creates is removed at the end.
set -euo pipefail
HAKO=$(realpath "${1:-target/release/hako}")
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (hako manages namespaces and cgroups)" >&2; exit 1; fi
LXCPATH=$(mktemp -d /tmp/hako-demo.XXXXXX)
NAME=demo$$
hako() { "$HAKO" -P "$LXCPATH" "$@"; }
# the default managed network hakobr0: removed at the end if this demo created it
HAD_NET=0
"$HAKO" network show hakobr0 >/dev/null 2>&1 && HAD_NET=1
cleanup() {
    hako stop "$NAME" -k >/dev/null 2>&1 || true
    hako destroy "$NAME" -f >/dev/null 2>&1 || true
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
printf '\ndemo: done; nothing left behind (lxcpath %s removed)\n' "$LXCPATH"
