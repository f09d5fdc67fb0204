#!/bin/bash
# make demo: the classic LXC walkthrough with hako, on a busybox system container, in a
# throwaway lxcpath; everything it creates is removed at the end.
set -euo pipefail
HAKO=$(realpath "${1:-target/release/hako}")
if [ "$(id -u)" != 0 ]; then echo "demo: run as root (hako manages namespaces and cgroups)" >&2; exit 1; fi
LXCPATH=$(mktemp -d /tmp/hako-demo.XXXXXX)
NAME=demo$$
hako() { "$HAKO" -P "$LXCPATH" "$@"; }
cleanup() {
    hako stop "$NAME" -k >/dev/null 2>&1 || true
    hako destroy "$NAME" -f >/dev/null 2>&1 || true
    rm -rf "$LXCPATH"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ hako %s\033[0m\n' "$*"; hako "$@"; }

step version
step create "$NAME" -t busybox
step start "$NAME"
step info "$NAME"
step attach "$NAME" -- /bin/sh -c 'echo "hello from $(hostname), pid $$"; ps; cat /proc/1/environ | tr "\0" "\n" | grep container'
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
