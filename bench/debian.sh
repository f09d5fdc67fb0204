#!/usr/bin/env bash
# bench/debian.sh HAKO_BINARY — issue 4's figures: hako's debian template next to LXC 5's
# (lxc-create -t debian, from Debian's lxc-templates), same machine, one run:
#
#   1. first create with a cold cache (each tool builds its Debian image from the mirror)
#   2. create from a warm cache: time and the new disk it takes per container (du -sx)
#   3. boot to `systemctl is-system-running` = running (start, then polled with attach)
#   4. clean stop (hako stop / lxc-stop: systemd's halt signal, no kill)
#   5. snapshot clone (hako copy -s / lxc-copy -s -B overlayfs)
#
# Modes (issue 12): hako's containers are made by the default `hako create`, unprivileged (a
# user namespace with an id range of their own, idmapped rootfs); LXC's by lxc-create,
# privileged (LXC's default). A third column, hako --privileged, is measured for 2-4 too
# (BENCH_DEB_PRIV=0 leaves it out): what the user namespace costs a Debian container.
#
# All containers have no network (lxc.net.0.type = empty), so none waits for DHCP. Medians
# of BENCH_DEB_RUNS (5) runs for 2-5; 1 is a single run each (about a minute). BENCH_DEB_COLD=0
# skips 1 and uses the persistent caches (/var/cache/hako-test/images for hako, /var/cache/lxc
# for LXC), building them first (untimed) when missing. BENCH_DEB_LXC=0 leaves LXC out (hako
# only: e.g. when LXC's cache is empty and nothing should be fetched from a mirror).
# Writes bench/results/debian.{md,json}. Run as root; `make bench-debian` calls it.
set -euo pipefail
export LC_ALL=C

die() { echo "bench/debian: $*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: $0 HAKO_BINARY (e.g. target/release/hako)"
[ "$(id -u)" = 0 ] || die "must run as root (it creates and boots containers); run it with sudo"
[ -x "$1" ] || die "hako binary \"$1\" is not executable; build it with cargo build --release -p hako"
# (LXC's tools only when LXC is measured: BENCH_DEB_LXC=0 runs hako alone)
tools=(mmdebstrap jq)
[ "${BENCH_DEB_LXC:-1}" = 0 ] || tools+=(lxc-create lxc-start lxc-stop lxc-attach lxc-copy lxc-destroy debootstrap rsync)
for t in "${tools[@]}"; do
    command -v "$t" >/dev/null || die "$t is missing; apt-get install lxc lxc-templates debootstrap mmdebstrap rsync jq (make bench-debian does)"
done
[ "${BENCH_DEB_LXC:-1}" = 0 ] || [ -x /usr/share/lxc/templates/lxc-debian ] || die "LXC's debian template is missing; apt-get install lxc-templates"

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HAKO_BIN=$(realpath "$1")
RUNS=${BENCH_DEB_RUNS:-5}
COLD=${BENCH_DEB_COLD:-1}
RELEASE=${BENCH_DEB_RELEASE:-bookworm}
WITH_LXC=${BENCH_DEB_LXC:-1}
WITH_PRIV=${BENCH_DEB_PRIV:-1}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 3 ] || die "BENCH_DEB_RUNS=$RUNS: give a whole number >= 3"
mkdir -p "$RESULTS"

WORK=$(mktemp -d /var/tmp/hako-bench-deb.XXXXXX)
P=$WORK/hako
P2=$WORK/lxc
mkdir -p "$P" "$P2" "$WORK/etc/hako"
echo "lxc.net.0.type = empty" >"$WORK/etc/hako/default.conf"
echo "lxc.net.0.type = empty" >"$WORK/lxc-net.conf"
if [ "$COLD" = 1 ]; then
    HC=$WORK/hako-cache
    LC=$WORK/lxc-cache
else
    HC=/var/cache/hako-test/images
    LC=/var/cache/lxc
fi
mkdir -p "$HC" "$LC"
export HAKO_SYSCONFDIR=$WORK/etc HAKO_CACHE=$HC LXC_CACHE_PATH=$LC

hk() { "$HAKO_BIN" -P "$P" "$@"; }
cleanup() {
    set +e
    for d in "$P"/*/; do [ -d "$d" ] && hk stop "$(basename "$d")" -k >/dev/null 2>&1; done
    for d in "$P2"/*/; do [ -d "$d" ] && lxc-stop -P "$P2" -n "$(basename "$d")" -k >/dev/null 2>&1; done
    # clones first (their sources refuse to go while they exist)
    for pass in 1 2; do
        for d in "$P"/*/; do [ -d "$d" ] && hk destroy -f "$(basename "$d")" >/dev/null 2>&1; done
        for d in "$P2"/*/; do [ -d "$d" ] && lxc-destroy -P "$P2" -n "$(basename "$d")" -f >/dev/null 2>&1; done
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v l="$1" -v h="$2" 'BEGIN { if (h > 0) printf "%.2f", l / h; else print "nan" }'; }

# run_timed OUTFILE CMD...: runs CMD, appends its wall time in ms to OUTFILE; fails loudly
run_timed() {
    local out=$1 t0 t1
    shift
    t0=$(now)
    if ! "$@" >"$WORK/last.log" 2>&1; then
        tail -n 15 "$WORK/last.log" >&2
        die "\`$*\` failed (its output above)"
    fi
    t1=$(now)
    ms "$t0" "$t1" >>"$out"
}

# wait_running TOOL NAME OUTFILE T0: polls is-system-running inside until running|degraded
# (60 s), appends ms since T0, and records the state and the failed units
wait_running() {
    local tool=$1 n=$2 out=$3 t0=$4 st="" deadline
    deadline=$(($(date +%s) + 60))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if [ "$tool" != lxc ]; then
            st=$(hk attach "$n" -- systemctl is-system-running 2>/dev/null || true)
        else
            st=$(lxc-attach -P "$P2" -n "$n" -- systemctl is-system-running 2>/dev/null || true)
        fi
        case $st in running | degraded) break ;; esac
        sleep 0.02
    done
    ms "$t0" "$(now)" >>"$out"
    case $st in running | degraded) ;; *) die "$tool container $n did not finish booting in 60 s (state \"$st\")" ;; esac
    local failed
    if [ "$tool" != lxc ]; then
        failed=$(hk attach "$n" -- systemctl --failed --no-legend --plain | awk '{ print $1 }' | tr '\n' ' ')
    else
        failed=$(lxc-attach -P "$P2" -n "$n" -- systemctl --failed --no-legend --plain | awk '{ print $1 }' | tr '\n' ' ')
    fi
    echo "$st ${failed:-none}" >"$WORK/$tool.bootstate"
}

lxc_create() { lxc-create -P "$P2" -n "$1" -t debian -f "$WORK/lxc-net.conf" -- -r "$RELEASE"; }
hako_create() { hk create "$1" -t debian -- -r "$RELEASE"; }              # unprivileged (default)
hako_create_priv() { hk create "$1" -t debian --privileged -- -r "$RELEASE"; }

say "bench/debian: work dir $WORK; hako cache $HC, LXC cache $LC; $RUNS runs"

# ---- 1. cold cache (or an untimed warm-up that fills the persistent caches)
if [ "$COLD" = 1 ]; then
    say "1. first create, cold cache: hako (mmdebstrap) ..."
    run_timed "$WORK/cold.hako" hako_create d0
    if [ "$WITH_LXC" = 1 ]; then
        say "   ... LXC (debootstrap) ..."
        run_timed "$WORK/cold.lxc" lxc_create d0
    fi
else
    say "1. skipped (BENCH_DEB_COLD=0); filling the caches if needed"
    hako_create d0 >/dev/null
    [ "$WITH_LXC" = 0 ] || lxc_create d0 >/dev/null
fi
image_kb=$(du -sxk "$HC/debian/$RELEASE-$(dpkg --print-architecture)" | cut -f1)

# ---- 2. warm create, disk per container
say "2. create from a warm cache, $RUNS each"
for i in $(seq 1 "$RUNS"); do
    run_timed "$WORK/warm.hako" hako_create "h$i"
    du -sxk "$P/h$i" | cut -f1 >>"$WORK/disk.hako"
    if [ "$WITH_PRIV" = 1 ]; then
        run_timed "$WORK/warm.priv" hako_create_priv "p$i"
        du -sxk "$P/p$i" | cut -f1 >>"$WORK/disk.priv"
    fi
    if [ "$WITH_LXC" = 1 ]; then
        run_timed "$WORK/warm.lxc" lxc_create "l$i"
        du -sxk "$P2/l$i" | cut -f1 >>"$WORK/disk.lxc"
    fi
done
# the mode each tool's containers run in, as the tools report it
mode_of() { hk info "$1" | awk -F': *' '/^Privileged:/ {print ($2 == "no") ? "unprivileged" : "privileged"}'; }
mode_hako=$(mode_of h1)
map_hako=$(hk info h1 | awk -F': *' '/^ID map:/ {print $2}')
mode_priv=""
[ "$WITH_PRIV" = 1 ] && mode_priv=$(mode_of p1)
mode_lxc=""
if [ "$WITH_LXC" = 1 ]; then
    if grep -Eq '^[[:space:]]*lxc\.idmap[[:space:]]*=' "$P2/l1/config"; then mode_lxc=unprivileged; else mode_lxc=privileged; fi
fi
[ "$mode_hako" = unprivileged ] || die "hako's default container h1 is \"$mode_hako\" (hako info), expected unprivileged"

# ---- 3 and 4. boot to running, clean stop (a fresh container each run: first boot)
say "3-4. boot to running and clean stop, $RUNS each"
for i in $(seq 1 "$RUNS"); do
    t0=$(now)
    hk start "h$i" >/dev/null
    wait_running hako "h$i" "$WORK/boot.hako" "$t0"
    run_timed "$WORK/stop.hako" hk stop "h$i"
    if [ "$WITH_PRIV" = 1 ]; then
        t0=$(now)
        hk start "p$i" >/dev/null
        wait_running priv "p$i" "$WORK/boot.priv" "$t0"
        run_timed "$WORK/stop.priv" hk stop "p$i"
    fi
    if [ "$WITH_LXC" = 1 ]; then
        t0=$(now)
        lxc-start -P "$P2" -n "l$i" -d >/dev/null
        wait_running lxc "l$i" "$WORK/boot.lxc" "$t0"
        run_timed "$WORK/stop.lxc" lxc-stop -P "$P2" -n "l$i"
    fi
done

# ---- 5. snapshot clone of a stopped container
say "5. snapshot clone, $RUNS each"
for i in $(seq 1 "$RUNS"); do
    run_timed "$WORK/clone.hako" hk copy h1 "hc$i" -s
    [ "$WITH_LXC" = 0 ] || run_timed "$WORK/clone.lxc" lxc-copy -P "$P2" -n l1 -N "lc$i" -s -B overlayfs
done

# ---- results
med() { if [ -s "$WORK/$1" ]; then median <"$WORK/$1"; else echo "–"; fi; }
# judge KIND A B: met/MISSED, or "not measured" when a figure is missing
judge() {
    awk -v k="$1" -v a="$2" -v b="$3" 'BEGIN {
        if (a == "–" || a == "nan" || (k != "kb" && (b == "–" || b == "nan"))) { print "not measured"; exit }
        if (k == "x20") ok = (a > 0 && b / a >= 20);   # LXC (b) at least 20x hako (a)
        else if (k == "kb") ok = (a < 1024);
        else ok = (a <= b);                              # hako (a) no slower than LXC (b)
        print ok ? "**met**" : "**MISSED**" }'
}
rat() { case "$1$2" in *–*) echo "–" ;; *) ratio "$1" "$2" ;; esac; }
row() { # ID LABEL TARGET KIND: medians, LXC / hako, hako unprivileged / privileged, verdict
    local h p l v=""
    h=$(med "$1.hako") p=$(med "$1.priv") l=$(med "$1.lxc")
    [ -z "$4" ] || v=": $(judge "$4" "$h" "$l")"
    printf '| %s | %s | %s | %s | %s | %s | %s%s |\n' "$2" "$h" "$p" "$l" "$(rat "$l" "$h")" "$(rat "$h" "$p")" "$3" "$v"
}
{
    echo "# bench/debian.sh: hako's debian template next to LXC 5's"
    echo
    echo "Date: $(date -u +%Y-%m-%dT%H:%MZ) · hako $("$HAKO_BIN" version 2>/dev/null | head -n1) (git $(git -C "$BENCH_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')) · LXC $(lxc-create --version) · $(nproc) CPUs · kernel $(uname -r) · load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "Release $RELEASE, no network in any container. Medians of $RUNS runs (the cold create: one run). $([ "$COLD" = 1 ] && echo "Cold and warm caches." || echo "Warm caches only (BENCH_DEB_COLD=0).")"
    echo
    echo "Modes: hako's containers are made by the default \`hako create\`: **${mode_hako}** (ID map ${map_hako:-none}; the idmapped rootfs is an overlay on the shared image). $([ "$WITH_PRIV" = 1 ] && echo "The hako --privileged column: **${mode_priv}**, for comparison." || echo "hako --privileged: not measured (BENCH_DEB_PRIV=0).") $([ "$WITH_LXC" = 1 ] && echo "LXC's containers (lxc-create, LXC's default): **${mode_lxc}**." || echo "LXC: not measured (BENCH_DEB_LXC=0).") Ratios: LXC / hako (above 1: hako is faster or smaller), and hako unprivileged / privileged (above 1: the user namespace costs that much)."
    echo
    echo "| measure | hako, $mode_hako (default) | hako --privileged | LXC, ${mode_lxc:-not run} | LXC / hako | hako unpriv. / priv. | target (issues 4, 12) |"
    echo "|---|---|---|---|---|---|---|"
    if [ "$COLD" = 1 ]; then
        row cold "first create, cold cache (ms)" "hako no slower" le
    fi
    row warm "create from a warm cache (ms)" "hako ≤ 1/20 of LXC" x20
    row disk "new disk per container (KB, du -sx)" "hako < 1024 KB" kb
    row boot "start to is-system-running = running (ms)" "hako unprivileged no slower than LXC privileged" le
    row stop "clean stop (ms)" "hako no slower" le
    row clone "snapshot clone (ms)" "hako no slower" le
    echo
    echo "Boot state after the last boot: hako \`$(cat "$WORK/hako.bootstate")\`$([ "$WITH_PRIV" = 1 ] && echo ", hako --privileged \`$(cat "$WORK/priv.bootstate")\`")$([ "$WITH_LXC" = 1 ] && echo ", LXC \`$(cat "$WORK/lxc.bootstate")\`") (state, failed units)."
    echo "hako's image: ${image_kb} KB, shared by all its containers, privileged or not (overlay lower layer, owned by host ids)."
    echo
    echo "Commands: \`hako create N -t debian -- -r $RELEASE\` (unprivileged) and \`hako create N -t debian --privileged -- -r $RELEASE\` / \`lxc-create -n N -t debian -f CFG -- -r $RELEASE\` (CFG: lxc.net.0.type = empty); \`hako start N\` / \`lxc-start -n N -d\`, then \`attach -- systemctl is-system-running\` every 20 ms; \`hako stop N\` / \`lxc-stop -n N\`; \`hako copy N NEW -s\` (of the unprivileged container) / \`lxc-copy -n N -N NEW -s -B overlayfs\`. Reproduce: \`make bench-debian\` (or \`sudo bench/debian.sh target/release/hako\`; BENCH_DEB_COLD=0 skips the cold builds)."
} >"$RESULTS/debian.md"
jq -n --arg date "$(date -u +%FT%TZ)" --argjson runs "$RUNS" \
    --arg release "$RELEASE" --arg mh "$mode_hako" --arg mp "$mode_priv" --arg ml "$mode_lxc" --arg map "$map_hako" \
    --argjson times "$(for f in "$WORK"/*.hako "$WORK"/*.priv "$WORK"/*.lxc; do [ -f "$f" ] || continue; jq -R -s --arg k "$(basename "$f")" '{($k): (split("\n") | map(select(length > 0) | tonumber))}' "$f"; done | jq -s 'add')" \
    '{date: $date, release: $release, runs: $runs,
      modes: {hako: $mh, hako_id_map: $map, priv: (if $mp == "" then null else $mp end), lxc: (if $ml == "" then null else $ml end)},
      values: $times}' >"$RESULTS/debian.json"
cat "$RESULTS/debian.md"
echo "results: $RESULTS/debian.md, $RESULTS/debian.json"
