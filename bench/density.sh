#!/usr/bin/env bash
# bench/density.sh HAKO_BINARY — issue 17's figures: idle Debian containers, hako next to
# LXC 5, same machine, one run:
#
#   1. boot storm: N containers of each tool started at once (every `start` in parallel),
#      time until the last one is `running` (systemctl is-system-running), with 0 failed
#      units in every one; the host's peak memory use during the storm
#   2. per-container memory 5 s and 60 s after the storm: the container's memory cgroup
#      (usage_in_bytes) and the sum of Pss of its processes; medians over the N containers
#   3. the density figure: how many such containers fit before the host's MemAvailable
#      falls under 2 GiB, extrapolated from the N: (MemAvailable before the storm - 2 GiB) /
#      (the median container's memory cgroup at 60 s + its monitor process's Pss). The
#      host's own MemAvailable drop is not used: anything else running on the host moves it.
#
# Both tools give their containers what a user gets: DHCP and DNS names from a network
# (one managed hako network, made by this script; LXC's containers use its bridge too, so
# both get the same dnsmasq), ssh, a console login. hako's containers come from `hako create
# -t debian` (the default: unprivileged, overlay on the shared image); LXC's from one
# `lxc-create -t debian` and N-1 `lxc-copy -s -B overlayfs` snapshot clones of it (LXC's way
# to share one image; a full copy each would also cost 300 MB of disk apiece). The two
# tools' storms run one after the other (the other tool's containers stopped), BENCH_DENS_RUNS
# (3) rounds, the order alternating; medians over the rounds.
#
# BENCH_DENS_N (default 20) containers per tool; 100 is issue 17's storm. Image caches:
# /var/cache/hako-test/images (hako) and /var/cache/lxc (LXC), built first when missing.
# Writes bench/results/density.{md,json}. Run as root; `make bench-density` calls it.
set -euo pipefail
export LC_ALL=C

die() { echo "bench/density: $*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: $0 HAKO_BINARY (e.g. target/release/hako)"
[ "$(id -u)" = 0 ] || die "must run as root (it creates and boots containers); run it with sudo"
[ -x "$1" ] || die "hako binary \"$1\" is not executable; build it with cargo build --release -p hako"
for t in lxc-create lxc-start lxc-stop lxc-attach lxc-copy lxc-destroy lxc-info debootstrap rsync mmdebstrap jq; do
    command -v "$t" >/dev/null || die "$t is missing; apt-get install lxc lxc-templates debootstrap mmdebstrap rsync jq (make bench-density does)"
done
[ -x /usr/share/lxc/templates/lxc-debian ] || die "LXC's debian template is missing; apt-get install lxc-templates"

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HAKO_BIN=$(realpath "$1")
N=${BENCH_DENS_N:-20}
RUNS=${BENCH_DENS_RUNS:-3}
RELEASE=${BENCH_DENS_RELEASE:-bookworm}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 2 ] || die "BENCH_DENS_N=$N: give a whole number >= 2"
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] || die "BENCH_DENS_RUNS=$RUNS: give a whole number >= 1"
mkdir -p "$RESULTS"

WORK=$(mktemp -d /var/tmp/hako-bench-dens.XXXXXX)
P=$WORK/hako
P2=$WORK/lxc
NET=hbd$$
NET=${NET:0:15}
mkdir -p "$P" "$P2" "$WORK/etc/hako"
export HAKO_SYSCONFDIR=$WORK/etc HAKO_CACHE=/var/cache/hako-test/images LXC_CACHE_PATH=/var/cache/lxc
mkdir -p "$HAKO_CACHE" "$LXC_CACHE_PATH"

# Every container's inotify instances count against root's one limit (systemd needs about
# four per container; the default 128 stops the 33rd Debian container). hako raises it at a
# start (host_limits.rs); LXC needs it raised by hand. Raised here for both tools alike
# before anything starts, and put back at the end.
INOTIFY=/proc/sys/fs/inotify/max_user_instances
INOTIFY_OLD=$(cat "$INOTIFY")
[ "$INOTIFY_OLD" -ge 8192 ] || echo 8192 >"$INOTIFY"

hk() { "$HAKO_BIN" -P "$P" "$@"; }
cleanup() {
    set +e
    echo "$INOTIFY_OLD" >"$INOTIFY"
    for d in "$P"/*/; do [ -d "$d" ] && hk stop "$(basename "$d")" -k >/dev/null 2>&1; done
    for d in "$P2"/*/; do [ -d "$d" ] && lxc-stop -P "$P2" -n "$(basename "$d")" -k >/dev/null 2>&1; done
    for pass in 1 2; do
        for d in "$P"/*/; do [ -d "$d" ] && hk destroy -f "$(basename "$d")" >/dev/null 2>&1; done
        for d in "$P2"/*/; do [ -d "$d" ] && lxc-destroy -P "$P2" -n "$(basename "$d")" -f >/dev/null 2>&1; done
    done
    hk network rm "$NET" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
mem_available_kib() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "null"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# ---- set-up: the network, hako's and LXC's containers ----
say "== set-up: network $NET, $N hako containers, $N LXC containers (1 lxc-create + $((N - 1)) lxc-copy -s)"
hk network create "$NET" >/dev/null
printf 'lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.flags = up\n' "$NET" >"$WORK/etc/hako/default.conf"
printf 'lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.flags = up\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\n' "$NET" >"$WORK/lxc-net.conf"
for i in $(seq 1 "$N"); do
    hk create "h$i" -t debian -q -- -r "$RELEASE" >/dev/null
done
lxc-create -P "$P2" -n l1 -t debian -f "$WORK/lxc-net.conf" -- -r "$RELEASE" >"$WORK/lxc-create.log" 2>&1 ||
    { tail -n 20 "$WORK/lxc-create.log" >&2; die "lxc-create -t debian failed (log above)"; }
for i in $(seq 2 "$N"); do
    lxc-copy -P "$P2" -n l1 -N "l$i" -s -B overlayfs >/dev/null
done
# the network up before the first storm (both tools find it up)
hk network up "$NET" >/dev/null

start_one() { # TOOL NAME
    case $1 in
        hako) hk start "$2" ;;
        lxc) lxc-start -P "$P2" -n "$2" -d ;;
    esac
}
stop_one() {
    case $1 in
        hako) hk stop "$2" -k >/dev/null 2>&1 || true ;;
        lxc) lxc-stop -P "$P2" -n "$2" -k >/dev/null 2>&1 || true ;;
    esac
}
in_ct() { # TOOL NAME CMD...
    local t=$1 n=$2
    shift 2
    case $t in
        hako) hk attach "$n" -- "$@" ;;
        lxc) lxc-attach -P "$P2" -n "$n" -- "$@" ;;
    esac
}
init_pid() {
    case $1 in
        hako) hk info "$2" -p -H ;;
        lxc) lxc-info -P "$P2" -n "$2" -p -H ;;
    esac
}
prefix() { [ "$1" = hako ] && echo h || echo l; }
# the container's memory cgroup directory (v1 memory hierarchy, or the v2 one on a pure v2
# host): init's, without the init.scope systemd made inside and hako's namespace-root level
mem_cgroup() {
    local pid rel
    pid=$(init_pid "$1" "$2")
    rel=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$pid/cgroup")
    if [ -n "$rel" ]; then
        rel=${rel%/init.scope}
        rel=${rel%/ns}
        echo "/sys/fs/cgroup/memory$rel"
    else
        rel=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
        rel=${rel%/init.scope}
        rel=${rel%/ns}
        echo "/sys/fs/cgroup$rel"
    fi
}
mem_usage_kib() { # CGROUP_DIR
    if [ -f "$1/memory.usage_in_bytes" ]; then
        echo $(($(cat "$1/memory.usage_in_bytes") / 1024))
    else
        echo $(($(cat "$1/memory.current") / 1024))
    fi
}
pss_kib() { # CGROUP_DIR: the sum of Pss of every process in it
    find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r p; do
        awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null
    done | awk '{ s += $1 } END { print s + 0 }'
}

# storm TOOL ROUND: start all N at once, wait until each is running; then the memory samples
storm() {
    local tool=$1 round=$2 pre before t0 pending peak=0 avail i n st failed_total=0
    pre=$(prefix "$tool")
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    sleep 2
    before=$(mem_available_kib)
    t0=$(now_ms)
    for i in $(seq 1 "$N"); do start_one "$tool" "$pre$i" >"$WORK/start.$tool.$i.log" 2>&1 & done
    wait || true
    for i in $(seq 1 "$N"); do
        [ -s "$WORK/start.$tool.$i.log" ] && [ "$tool" = lxc ] && ! lxc-info -P "$P2" -n "$pre$i" -s | grep -q RUNNING &&
            { cat "$WORK/start.$tool.$i.log" >&2; die "lxc-start of $pre$i failed"; }
    done
    pending=$(seq 1 "$N")
    local deadline=$(($(now_ms) + 300000)) last_ms=0
    while [ -n "$pending" ]; do
        [ "$(now_ms)" -lt "$deadline" ] || die "$tool: containers still not running 300 s after the storm: $(echo $pending)"
        local still=""
        for i in $pending; do
            st=$(in_ct "$tool" "$pre$i" systemctl is-system-running 2>/dev/null || true)
            case $st in
                running) last_ms=$(($(now_ms) - t0)) ;;
                degraded)
                    in_ct "$tool" "$pre$i" systemctl --failed --no-legend >&2 || true
                    die "$tool: $pre$i booted degraded (failed units above)"
                    ;;
                *) still="$still $i" ;;
            esac
        done
        pending=$still
        avail=$(mem_available_kib)
        [ $((before - avail)) -gt "$peak" ] && peak=$((before - avail))
    done
    say "   $tool round $round: all $N running after ${last_ms} ms"
    # samples 5 s and 60 s after the last one came up
    local at
    for at in 5 60; do
        local target=$((t0 + last_ms + at * 1000))
        while [ "$(now_ms)" -lt "$target" ]; do
            avail=$(mem_available_kib)
            [ $((before - avail)) -gt "$peak" ] && peak=$((before - avail))
            sleep 0.5
        done
        : >"$WORK/usage.$tool.$round.$at"
        : >"$WORK/pss.$tool.$round.$at"
        for i in $(seq 1 "$N"); do
            local cg
            cg=$(mem_cgroup "$tool" "$pre$i")
            mem_usage_kib "$cg" >>"$WORK/usage.$tool.$round.$at"
            pss_kib "$cg" >>"$WORK/pss.$tool.$round.$at"
        done
        : >"$WORK/monitor.$tool.$round.$at"
        for i in $(seq 1 "$N"); do
            local ip mp
            ip=$(init_pid "$tool" "$pre$i")
            mp=$(awk '{ print $4 }' "/proc/$ip/stat")
            awk '/^Pss:/ { print $2 }' "/proc/$mp/smaps_rollup" >>"$WORK/monitor.$tool.$round.$at"
        done
    done
    for i in $(seq 1 "$N"); do
        n=$(in_ct "$tool" "$pre$i" systemctl --failed --no-legend --plain 2>/dev/null | wc -l)
        failed_total=$((failed_total + n))
    done
    [ "$failed_total" = 0 ] || die "$tool: $failed_total failed units 60 s after the storm"
    echo "$last_ms" >"$WORK/storm.$tool.$round"
    echo "$peak" >"$WORK/peak.$tool.$round"
    echo "$before" >"$WORK/before.$tool.$round"
    for i in $(seq 1 "$N"); do stop_one "$tool" "$pre$i" & done
    wait || true
}

for r in $(seq 1 "$RUNS"); do
    say "== round $r of $RUNS"
    if [ $((r % 2)) = 1 ]; then order="hako lxc"; else order="lxc hako"; fi
    for t in $order; do storm "$t" "$r"; done
done

# ---- results ----
med_file() { cat "$@" | median; }
json=$(
    for t in hako lxc; do
        storm=$(med_file "$WORK"/storm.$t.*)
        peak=$(med_file "$WORK"/peak.$t.*)
        before=$(med_file "$WORK"/before.$t.*)
        u5=$(med_file "$WORK"/usage.$t.*.5)
        u60=$(med_file "$WORK"/usage.$t.*.60)
        p5=$(med_file "$WORK"/pss.$t.*.5)
        p60=$(med_file "$WORK"/pss.$t.*.60)
        m60=$(med_file "$WORK"/monitor.$t.*.60)
        jq -n --arg tool "$t" --argjson storm "$storm" --argjson peak "$peak" --argjson before "$before" \
            --argjson u5 "$u5" --argjson u60 "$u60" --argjson p5 "$p5" --argjson p60 "$p60" --argjson m60 "$m60" \
            '{tool: $tool, storm_ms: $storm, host_peak_kib: $peak, mem_available_before_kib: $before,
              cgroup_kib_5s: $u5, cgroup_kib_60s: $u60, pss_kib_5s: $p5, pss_kib_60s: $p60,
              monitor_pss_kib_60s: $m60, per_container_kib_60s: ($u60 + $m60),
              fit_before_2gib: ((($before - 2097152) / ($u60 + $m60)) | floor)}'
    done | jq -s --argjson n "$N" --argjson runs "$RUNS" --arg date "$(date -u +%Y-%m-%dT%H:%MZ)" \
        --arg git "$(git -C "$BENCH_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')" \
        '{date: $date, git: $git, containers: $n, rounds: $runs, hako: .[0], lxc: .[1]}'
)
echo "$json" >"$RESULTS/density.json"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
{
    echo "# Density: idle Debian containers, hako vs LXC"
    echo
    echo "Date: $(jq -r .date <<<"$json") · hako (git $(jq -r .git <<<"$json")) · LXC $(lxc-create --version) · $(nproc) CPUs · $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) · kernel $(uname -r) · $N containers per tool, $RUNS rounds (medians)"
    echo
    echo "| | hako | LXC | LXC / hako |"
    echo "|---|---|---|---|"
    for row in "cgroup_kib_5s:memory cgroup, 5 s after boot (median container)" "cgroup_kib_60s:memory cgroup, 60 s after boot" "pss_kib_5s:sum of Pss of its processes, 5 s" "pss_kib_60s:sum of Pss of its processes, 60 s" "monitor_pss_kib_60s:its monitor process (Pss), 60 s" "per_container_kib_60s:per container: cgroup + monitor, 60 s"; do
        k=${row%%:*}
        h=$(jq ".hako.$k" <<<"$json")
        l=$(jq ".lxc.$k" <<<"$json")
        echo "| ${row#*:} | $(mib "$h") | $(mib "$l") | $(awk -v a="$l" -v b="$h" 'BEGIN { printf "%.2f", a / b }') |"
    done
    echo "| boot storm: $N started at once, last one running after | $(jq .hako.storm_ms <<<"$json") ms | $(jq .lxc.storm_ms <<<"$json") ms | $(awk -v a="$(jq .lxc.storm_ms <<<"$json")" -v b="$(jq .hako.storm_ms <<<"$json")" 'BEGIN { printf "%.2f", a / b }') |"
    echo "| host's peak memory use during the storm (host-wide MemAvailable drop) | $(mib "$(jq .hako.host_peak_kib <<<"$json")") | $(mib "$(jq .lxc.host_peak_kib <<<"$json")") | |"
    echo "| containers that fit before MemAvailable < 2 GiB (extrapolated) | $(jq .hako.fit_before_2gib <<<"$json") | $(jq .lxc.fit_before_2gib <<<"$json") | |"
    echo
    echo "Host setting: fs.inotify.max_user_instances at least 8192 for both tools (was $INOTIFY_OLD; the default 128 stops the 33rd systemd container of either tool; hako raises it itself at a start, LXC needs it set by hand), put back afterwards. Method: every container booted to \`systemctl is-system-running\` = running with 0 failed units (checked again at 60 s); the cgroup figure is the container's memory cgroup usage (page cache it was charged for included), Pss sums /proc/PID/smaps_rollup over its processes. The monitor is init's parent (hako-monitor; LXC's \`lxc-start\` monitor). The fit is (MemAvailable before the storm - 2 GiB) / (cgroup + monitor of the median container at 60 s); page cache dropped before each storm. The peak is the host-wide drop of MemAvailable, so anything else running moves it. hako: \`hako create -t debian\` (unprivileged, overlay on the shared image), network $NET (a hako network: DHCP and DNS names from its dnsmasq); LXC: \`lxc-create -t debian\` + \`lxc-copy -s -B overlayfs\` clones on the same bridge. Reproduce: \`make bench-density\` (BENCH_DENS_N=100 for issue 17's storm of 100)."
} >"$RESULTS/density.md"
cat "$RESULTS/density.md"
