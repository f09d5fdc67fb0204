#!/usr/bin/env bash
# bench/oci/prepare.sh ROOTFS BUNDLE ID
#
# Builds an OCI bundle for runc/crun from the busybox rootfs hako's template made, so the
# OCI runtimes start the same files: BUNDLE/config.json (from `runc spec`, or `crun spec`)
# and BUNDLE/rootfs (a copy of ROOTFS). Edits to the generated spec:
#   - no terminal (the benchmark runs detached, `run -d`, with stdio on /dev/null);
#   - process: /sbin/init (busybox init, as in the hako and LXC containers), env container=oci;
#   - writable root (busybox's rcS mounts and writes, as it does under hako and LXC);
#   - linux.cgroupsPath "/ID" so the cgroups it makes carry the benchmark's tag;
#   - inittab of the copy: only the sysinit (rcS) and shutdown lines. The hako/LXC containers
#     have a console and tty1..4 for the respawned shell and gettys; the OCI containers have
#     neither (no terminal), and busybox init would respawn failing gettys in a loop.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 ROOTFS BUNDLE ID" >&2
    exit 2
fi
rootfs=$1 bundle=$2 id=$3

if [ ! -x "$rootfs/sbin/init" ]; then
    echo "oci/prepare: $rootfs/sbin/init is missing: ROOTFS must be a busybox rootfs (hako create NAME -t busybox makes one)" >&2
    exit 1
fi
if command -v runc >/dev/null; then
    spec=(runc spec)
elif command -v crun >/dev/null; then
    spec=(crun spec)
else
    echo "oci/prepare: neither runc nor crun is installed; apt-get install runc crun" >&2
    exit 1
fi
command -v jq >/dev/null || { echo "oci/prepare: jq is missing; apt-get install jq" >&2; exit 1; }

mkdir -p "$bundle"
rm -f "$bundle/config.json"
(cd "$bundle" && "${spec[@]}")
rm -rf "$bundle/rootfs"
cp -a "$rootfs" "$bundle/rootfs"
printf '%s\n' \
    '# busybox init for the OCI benchmark bundle (no console, no ttys): rcS only' \
    '::sysinit:/etc/init.d/rcS' \
    '::shutdown:/bin/sync' >"$bundle/rootfs/etc/inittab"

jq --arg id "$id" '
    .process.terminal = false
    | .process.args = ["/sbin/init"]
    | .process.env = ((.process.env // []) + ["container=oci"])
    | .root = {path: "rootfs", readonly: false}
    | .hostname = $id
    | .linux.cgroupsPath = ("/" + $id)
' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"
