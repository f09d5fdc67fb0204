#!/usr/bin/env bash
# bench/run.sh HAKO_BINARY — hako side by side with LXC 5 (and runc/crun as context) on the
# same busybox container, same machine, in one run. Run as root; `make bench` calls it.
#
# Measures (see bench/README.md for the why and how to read the results):
#   1. start (daemon, to RUNNING) + stop -k, no network      hyperfine, rounds, medians
#      plus the start-only and stop-only split, back to back (no pause between runs), and the
#      floor of a start (unshare of the same namespaces + exec of the init program)
#   2. attach -- true on a running container                  hyperfine, also back to back
#   3. monitor memory: Rss/Pss of the parent of init           /proc/PID/smaps_rollup
#   4. leak loops: CYCLES start/stop of one container, then NCONT distinct containers
#      created, all started, all stopped, all destroyed; baseline vs after (exit 1 on a leak)
#   5. hako unprivileged (default create) vs hako privileged (issue 12): start + stop -k and
#      attach, interleaved, with a pause before each run and back to back
# hako's container in 1-3 is made with --privileged: LXC's busybox container is privileged
# too (an lxc.idmap line in LXC would need a rootfs shifted to the range), so the comparison
# with LXC, runc and crun stays like for like. 5 measures what the user namespace costs.
# Writes bench/results/latest.{md,json} (and latest.log: hyperfine's own output).
#
# Knobs (environment): BENCH_RUNS (30, >= 20: timed runs per command, split over the rounds),
# BENCH_ROUNDS (3: hyperfine passes, the command order rotated each pass so load bursts from
# other work on the machine hit every tool alike), BENCH_WARMUP (3 per pass), BENCH_CYCLES
# (200), BENCH_CONTAINERS (200), BENCH_OCI (1; 0 skips runc/crun), BENCH_FD_TOLERANCE (64:
# allowed growth of the system's open files, /proc/sys/fs/file-nr, which other work on the
# machine moves too), BENCH_COOLDOWN_MS (50: untimed pause before each timed run, see the
# README), BENCH_ENFORCE_TARGETS (0; 1 makes a missed performance target fail the run),
# BENCH_RESULTS (bench/results).
set -euo pipefail
export LC_ALL=C

die() { echo "bench: $*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: $0 HAKO_BINARY (e.g. target/release/hako; build it with cargo build --release -p hako)"
[ "$(id -u)" = 0 ] || die "must run as root (it starts containers and reads every process's cgroups); run it with sudo"
[ -x "$1" ] || die "hako binary \"$1\" is not an executable file; build it with cargo build --release -p hako"

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
HAKO_SRC=$(realpath "$1")
RUNS=${BENCH_RUNS:-30}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3}
CYCLES=${BENCH_CYCLES:-200}
NCONT=${BENCH_CONTAINERS:-200}
OCI=${BENCH_OCI:-1}
FD_TOL=${BENCH_FD_TOLERANCE:-64}
ENFORCE=${BENCH_ENFORCE_TARGETS:-0}
COOLDOWN_MS=${BENCH_COOLDOWN_MS:-50}
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
for v in RUNS ROUNDS WARMUP CYCLES NCONT FD_TOL COOLDOWN_MS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "BENCH_$v=\"${!v}\" is not a number; give a whole number"
done
[ "$RUNS" -ge 20 ] || die "BENCH_RUNS=$RUNS: the comparison needs at least 20 runs per command; use 20 or more"
[ "$ROUNDS" -ge 1 ] || die "BENCH_ROUNDS must be at least 1"

# jq formats the results; the tools under test must be there.
if ! command -v jq >/dev/null; then
    say "bench: installing jq (formats the results)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null ||
        die "jq is missing and could not be installed; apt-get install jq"
fi
for t in hyperfine lxc-create lxc-start lxc-stop lxc-attach lxc-info lxc-destroy unshare; do
    command -v "$t" >/dev/null || die "$t is missing; apt-get install hyperfine lxc util-linux (make bench does)"
done
HAVE_RUNC=0 HAVE_CRUN=0
if [ "$OCI" = 1 ]; then
    command -v runc >/dev/null && HAVE_RUNC=1
    command -v crun >/dev/null && HAVE_CRUN=1
fi

# ---------------------------------------------------------------------------------------
# Work area, names, and what exists before we start (so cleanup removes only our things)
# ---------------------------------------------------------------------------------------
TAG="hb$$"                       # in every container name: our cgroups/locks are findable
WORK=$(mktemp -d /tmp/hako-bench.XXXXXX)
# hako's system config for this run: new containers get no network (the benchmarks compare
# "no network" setups), and no managed network of the host is touched
export HAKO_SYSCONFDIR=$WORK/etc
mkdir -p "$WORK/etc/hako" && printf 'lxc.net.0.type = empty\n' >"$WORK/etc/hako/default.conf"
P=$WORK/hako                     # hako's lxcpath
P2=$WORK/lxc                     # LXC's lxcpath
N=$TAG-c1                        # the container, same name for both tools (privileged)
NU=$TAG-u1                       # hako's unprivileged container (default create), for 5.
NT=$TAG-t1                       # LXC container with the busybox template's own config
RUNC_ID=$TAG-runc CRUN_ID=$TAG-crun
RUNC_ROOT=$WORK/runc-state CRUN_ROOT=$WORK/crun-state
H=$WORK/bin/hako                 # a private copy: concurrent cargo builds cannot swap it mid-run
LOG_TMP=$WORK/hyperfine.log
RJ=$WORK/results.json
mkdir -p "$P" "$P2" "$WORK/bin" "$WORK/hf" "$RUNC_ROOT" "$CRUN_ROOT"
cp "$HAKO_SRC" "$H"
# hako runs its monitor from the `hako-monitor` executable next to itself when there is one
# (else in the forked hako process): copy it along so the copy behaves like the original.
MON_SRC=$(dirname "$HAKO_SRC")/hako-monitor
MON_DESC="none next to $HAKO_SRC: the monitor runs in the forked hako process"
if [ -f "$MON_SRC" ] && [ -x "$MON_SRC" ]; then
    cp "$MON_SRC" "$WORK/bin/hako-monitor"
    MON_DESC="$MON_SRC (sha256 $(sha256sum "$MON_SRC" | cut -c1-16)…, $(stat -c %s "$MON_SRC") bytes)"
fi
echo '{}' >"$RJ"
: >"$LOG_TMP"
HASH=""                          # hako's /run/hako/<hash> for $P, found after the first create
IDMAP_DIR=${HAKO_IDMAP_DIR:-/var/lib/hako-idmaps}   # hako's registry of taken id ranges
FAILURES=()                      # things that did not work (the run exits 1)
NOTES=()                         # worth knowing, not failures (context tools, leftovers)
CLEANED=0

# cgroup directories LXC or the OCI runtimes could leave (lxc.pivot, lxc.monitor.*, ours)
cg_scan() {
    find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d \( -name 'lxc.*' -o -name "*$TAG-*" \) 2>/dev/null | sort
}
cg_scan >"$WORK/cg.before"
RUN_LXC_PARTS=(/run/lxc /run/lxc/lock)
LOCK_LXC=/run/lxc/lock$(dirname "$WORK")   # /run/lxc/lock/tmp
RUN_LXC_PARTS+=("$LOCK_LXC")
declare -A EXISTED=()
for d in "${RUN_LXC_PARTS[@]}"; do [ -e "$d" ] && EXISTED[$d]=1; done

# crun 1.8 refuses a hybrid host whose cgroup2 mount has controllers ("cgroups in hybrid mode
# not supported"). It then runs in a private mount namespace where /sys/fs/cgroup/unified is
# detached: it sees a v1 host and manages the v1 controllers only. The host is not changed.
CRUN_WRAP=()
if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    CRUN_WRAP=(unshare -m sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' crun-ns)
fi
crunc() { "${CRUN_WRAP[@]}" crun --root "$CRUN_ROOT" "$@"; }

hq() { "$H" -P "$P" "$@"; }                      # hako on our lxcpath
# no network in a hako container: a default network, should hako's template or
# default.conf ever give one, is replaced by lxc.net.0.type = empty
no_network() {
    local c=$P/$1/config
    if ! grep -Eq '^lxc\.net\.0\.type *= *empty *$' "$c" || grep -Eq '^lxc\.net\.[1-9]' "$c"; then
        sed -i '/^lxc\.net\./d' "$c"
        printf 'lxc.net.0.type = empty\n' >>"$c"
    fi
}
create_nonet() { hq create "$1" -t busybox && no_network "$1"; }

cleanup() {
    [ "$CLEANED" = 1 ] && return 0
    CLEANED=1
    set +e
    local d n
    for d in "$P"/*/; do
        [ -d "$d" ] || continue
        n=$(basename "$d")
        hq stop "$n" -k >/dev/null 2>&1
        hq destroy "$n" -f >/dev/null 2>&1
    done
    for d in "$P2"/*/; do
        [ -d "$d" ] || continue
        n=$(basename "$d")
        lxc-stop -P "$P2" -n "$n" -k >/dev/null 2>&1
        lxc-destroy -P "$P2" -n "$n" -f >/dev/null 2>&1
    done
    [ "$HAVE_RUNC" = 1 ] && runc --root "$RUNC_ROOT" delete -f "$RUNC_ID" >/dev/null 2>&1
    [ "$HAVE_CRUN" = 1 ] && crunc delete -f "$CRUN_ID" >/dev/null 2>&1
    # cgroups that appeared during this run and are ours: LXC's lxc.pivot, anything named
    # with our tag (lxc.monitor.TAG-*, lxc.payload.TAG-*, the OCI runtimes' TAG-*). Another
    # user's lxc.* cgroups are left alone. Deepest first; rmdir leaves a busy cgroup alone.
    cg_scan >"$WORK/cg.after"
    comm -13 "$WORK/cg.before" "$WORK/cg.after" | grep -E "/lxc\.pivot\$|$TAG-" | sort -r |
        while read -r d; do rmdir "$d" 2>/dev/null; done
    # LXC's lock files for our lxcpath, and the /run/lxc levels it created for them
    rm -rf "/run/lxc/lock$WORK"
    for d in "$LOCK_LXC" /run/lxc/lock /run/lxc; do
        [ -n "${EXISTED[$d]:-}" ] || rmdir "$d" 2>/dev/null
    done
    if [ -n "$HASH" ]; then
        rm -rf "/run/hako/$HASH" "/run/hako/lock/$HASH"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'say "bench: interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------------------------------
# Helpers: results JSON, hyperfine in rotated rounds, smoke tests, memory, leak snapshots
# ---------------------------------------------------------------------------------------
# jset PATH JSON: set a value in the results document
jset() { jq --argjson v "$2" "$1 = \$v" "$RJ" >"$RJ.new" && mv "$RJ.new" "$RJ"; }
jstr() { jq -n --arg s "$1" '$s'; }
fail() { FAILURES+=("$*"); say "bench: FAILED: $*"; }
note() { NOTES+=("$*"); say "bench: note: $*"; }
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

JQ_DEFS='
def r3: . * 1000 | round / 1000;
def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def stats: . as $t | ($t | length) as $n | ($t | add / $n) as $mean |
    { runs: $n,
      median_ms: ($t | median * 1000 | r3),
      mean_ms: ($mean * 1000 | r3),
      stddev_ms: (if $n > 1 then ([$t[] | (. - $mean) * (. - $mean)] | add / ($n - 1) | sqrt * 1000 | r3) else 0 end),
      min_ms: ($t | min * 1000 | r3),
      max_ms: ($t | max * 1000 | r3),
      times_ms: [$t[] | . * 1000 | r3] };
'

# hf ID [hyperfine options] :: NAME CMD [NAME CMD ...]
# Runs hyperfine ROUNDS times with RUNS/ROUNDS runs per command, rotating the command order
# each round, and writes $WORK/hf/ID.json: {NAME: {median_ms, ..., times_ms, command}}.
# HF_WRAP (array) prefixes the hyperfine command (crun's private mount namespace).
HF_WRAP=()
hf() {
    local id=$1
    shift
    local opts=() names=() cmds=() files=() args=()
    while [ $# -gt 0 ] && [ "$1" != "::" ]; do opts+=("$1"); shift; done
    shift
    while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
    local k=${#names[@]} per=$(((RUNS + ROUNDS - 1) / ROUNDS)) r i j out
    [ "$k" -gt 0 ] || return 0
    for ((r = 0; r < ROUNDS; r++)); do
        args=()
        for ((i = 0; i < k; i++)); do
            j=$(((i + r) % k))
            args+=(-n "${names[$j]}" "${cmds[$j]}")
        done
        out=$WORK/hf/$id.round$r.json
        printf '\n### %s, round %d/%d\n' "$id" $((r + 1)) "$ROUNDS" >>"$LOG_TMP"
        if ! "${HF_WRAP[@]}" hyperfine --style basic --warmup "$WARMUP" --runs "$per" \
            "${opts[@]}" --export-json "$out" "${args[@]}" >>"$LOG_TMP" 2>&1; then
            fail "$id: hyperfine failed in round $((r + 1)); last lines of its output: $(tail -n 3 "$LOG_TMP" | tr '\n' ' ')"
            return 1
        fi
        files+=("$out")
    done
    local cj
    cj=$(for ((i = 0; i < k; i++)); do jq -n --arg n "${names[$i]}" --arg c "${cmds[$i]}" '{($n): $c}'; done | jq -s add)
    jq -s --argjson cmds "$cj" "$JQ_DEFS"'
        [.[].results[]] | group_by(.command)
        | map(.[0].command as $n | {key: $n, value: (([.[].times[]] | stats) + {command: $cmds[$n]})})
        | from_entries' "${files[@]}" >"$WORK/hf/$id.json"
}

# hfget ID NAME: the stats object of one command ("null" when it did not run)
hfget() {
    if [ -s "$WORK/hf/$1.json" ]; then jq --arg n "$2" '.[$n] // null' "$WORK/hf/$1.json"; else echo null; fi
}

# smoke LABEL CMD: run CMD once through sh; on failure record the output and return 1
# (SMOKE_OPTIONAL=1: a context tool; its failure is a note, the run goes on without it)
SMOKE_WRAP=() SMOKE_OPTIONAL=0
smoke() {
    local out msg
    if ! out=$("${SMOKE_WRAP[@]}" sh -c "$2" 2>&1); then
        msg="$1: \`$2\` failed: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
        if [ "$SMOKE_OPTIONAL" = 1 ]; then note "$msg (left out)"; else fail "$msg"; fi
        return 1
    fi
}

# init pid of a running container, and its parent (the monitor)
hako_init_pid() { hq info "$1" -p 2>/dev/null | awk '/^PID:/ {print $2}'; }
lxc_init_pid() { lxc-info -P "$P2" -n "$1" -p -H 2>/dev/null; }
ppid_of() { ps -o ppid= -p "$1" | tr -d ' '; }

# memjson PID: memory and descriptors of one process.
# pss_alone_kib: Pss as if this were the only process running the tool: the pages of its
# executable and of liblxc counted in full (Rss), everything else (libc, ...) as Pss. Other
# monitors of the same tool on the machine share those pages and lower the plain Pss; this
# figure does not depend on them. same_exe_processes counts the processes running the same
# executable file.
memjson() {
    local pid=$1 fds threads cmd exe same
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's/ *$//')
    exe=$(readlink "/proc/$pid/exe")
    same=0
    for f in /proc/[0-9]*/exe; do [ "$(readlink "$f" 2>/dev/null)" = "$exe" ] && same=$((same + 1)); done
    awk -v exe="$exe" '
        /^[0-9a-f]+-[0-9a-f]+ / {own = ($6 == exe || $6 ~ /\/liblxc\.so/)}
        /^Rss:/ {rss = $2}
        /^Pss:/ {alone += own ? rss : $2}
        END {printf "{\"pss_alone_kib\":%d}", alone}
    ' "/proc/$pid/smaps" >"$WORK/alone.json"
    awk -v pid="$pid" -v fds="$fds" -v th="$threads" -v same="$same" '
        /^Rss:/ {r = $2} /^Pss:/ {p = $2} /^Pss_Anon:/ {pa = $2} /^Pss_File:/ {pf = $2}
        /^Private_Clean:/ {pc = $2} /^Private_Dirty:/ {pd = $2}
        END {printf "{\"pid\":%d,\"rss_kib\":%d,\"pss_kib\":%d,\"pss_anon_kib\":%d,\"pss_file_kib\":%d,\"uss_kib\":%d,\"fds\":%d,\"threads\":%d,\"same_exe_processes\":%d}", pid, r, p, pa, pf, pc + pd, fds, th, same}
    ' "/proc/$pid/smaps_rollup" | jq --arg c "$cmd" --arg e "$exe" --slurpfile a "$WORK/alone.json" '. + $a[0] + {exe: $e, cmdline: $c}'
}

# Leak snapshots. "Ours" = mentions our work dir / tag / hako runtime hash; the machine is
# shared, so system-wide numbers (all mounts, all hako.* cgroups, file-nr) are recorded and
# compared too, but a change there that is not ours is a note, not a leak.
# Our processes: command line mentions the work dir or the tag (hako-monitor's is
# "[hako monitor] NAME"), or the executable is one of our copies in $WORK/bin.
our_procs() {
    local d c e
    for d in /proc/[0-9]*; do
        c=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline") || continue
        e=$(readlink "$d/exe" 2>/dev/null) || e=""
        if [[ $c == *"$WORK"* || $c == *"$TAG-"* || $e == "$WORK/"* ]]; then
            printf '%s %s\n' "${d#/proc/}" "$c"
        fi
    done
    return 0
}
snap() { # snap DIR
    local d=$1
    mkdir -p "$d"
    cut -d' ' -f4- /proc/self/mountinfo | sed 's/ [0-9]*:[0-9]* / /' | sort >"$d/mounts"
    { find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d -name 'hako.*' 2>/dev/null || true; } | sort >"$d/cgroups"
    awk '{print $1}' /proc/sys/fs/file-nr >"$d/filenr"
    our_procs | sort >"$d/procs"
    # id ranges hako took for our containers: registry entries naming a config under $P
    { grep -l -F -e "$P/" "$IDMAP_DIR"/* 2>/dev/null || true; } | sort >"$d/idmaps"
    if [ -n "$HASH" ]; then
        # (absent directories are no error: nothing of ours is there)
        { find "/run/hako/$HASH" "/run/hako/lock/$HASH" -mindepth 1 2>/dev/null || true; } | sort >"$d/run"
    else
        : >"$d/run"
    fi
}
snapjson() { # snapjson DIR: the counts
    local d=$1
    jq -n --argjson mt "$(wc -l <"$d/mounts")" \
        --argjson mo "$(grep -cF -e "$WORK" "$d/mounts" || true)" \
        --argjson ct "$(wc -l <"$d/cgroups")" \
        --argjson co "$(grep -c -- "$TAG-" "$d/cgroups" || true)" \
        --argjson fnr "$(cat "$d/filenr")" \
        --argjson pr "$(wc -l <"$d/procs")" \
        --argjson ru "$(wc -l <"$d/run")" \
        --argjson im "$(wc -l <"$d/idmaps")" \
        '{mounts_total: $mt, mounts_ours: $mo, hako_cgroups_total: $ct, hako_cgroups_ours: $co,
          open_files_system: $fnr, processes_ours: $pr, run_hako_entries_ours: $ru, id_ranges_ours: $im}'
}
# leakdiff BEFORE AFTER: prints "LEAK ..." and "NOTE ..." lines
leakdiff() {
    local b=$1 a=$2 l fb fa
    comm -13 "$b/mounts" "$a/mounts" | while read -r l; do
        if [[ $l == *"$WORK"* || $l == *hako* ]]; then echo "LEAK mount: $l"; else echo "NOTE new mount, not ours: $l"; fi
    done
    comm -23 "$b/mounts" "$a/mounts" | while read -r l; do echo "NOTE mount gone since the baseline, not ours: $l"; done
    comm -13 "$b/cgroups" "$a/cgroups" | while read -r l; do
        if [[ $l == *"$TAG-"* ]]; then echo "LEAK cgroup: $l"; else echo "NOTE new hako.* cgroup of another user of this machine: $l"; fi
    done
    comm -13 "$b/procs" "$a/procs" | while read -r l; do echo "LEAK process: $l"; done
    comm -13 "$b/run" "$a/run" | while read -r l; do echo "LEAK runtime entry: $l"; done
    comm -13 "$b/idmaps" "$a/idmaps" | while read -r l; do echo "LEAK id range still taken: $l ($(cat "$l" 2>/dev/null))"; done
    fb=$(cat "$b/filenr") fa=$(cat "$a/filenr")
    if [ $((fa - fb)) -gt "$FD_TOL" ]; then
        echo "LEAK open files: /proc/sys/fs/file-nr grew from $fb to $fa (+$((fa - fb)), tolerance $FD_TOL)"
    elif [ "$fa" != "$fb" ]; then
        echo "NOTE open files: /proc/sys/fs/file-nr $fb -> $fa (within the tolerance of $FD_TOL)"
    fi
}
# leakcheck LABEL BEFORE: snapshot again (retrying for up to 3 s while things settle) and
# store {baseline, after, leaks, notes, ok} under .loops.LABEL
leakcheck() {
    local label=$1 b=$2 a=$WORK/snap.$1.after i out leaks notes
    for ((i = 0; i < 30; i++)); do
        rm -rf "$a"
        snap "$a"
        out=$(leakdiff "$b" "$a")
        grep -q '^LEAK' <<<"$out" || break
        sleep 0.1
    done
    leaks=$(grep '^LEAK' <<<"$out" | sed 's/^LEAK //' | jq -R . | jq -s . || true)
    notes=$(grep '^NOTE' <<<"$out" | sed 's/^NOTE //' | jq -R . | jq -s . || true)
    [ -n "$leaks" ] || leaks='[]'
    [ -n "$notes" ] || notes='[]'
    jset ".loops.$label.baseline" "$(snapjson "$b")"
    jset ".loops.$label.after" "$(snapjson "$a")"
    jset ".loops.$label.leaks" "$leaks"
    jset ".loops.$label.notes" "$notes"
    jset ".loops.$label.ok" "$(jq 'length == 0' <<<"$leaks")"
    if [ "$(jq length <<<"$leaks")" != 0 ]; then
        fail "$label: leaked $(jq -r 'join("; ")' <<<"$leaks")"
    fi
}

# ---------------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------------
cg_layout() {
    local t
    t=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo unknown)
    if [ "$t" = cgroup2fs ]; then echo "pure cgroup v2"
    elif [ -d /sys/fs/cgroup/unified ] && [ "$(stat -f -c %T /sys/fs/cgroup/unified)" = cgroup2fs ]; then
        echo "hybrid (v1 controllers + cgroup2 at /sys/fs/cgroup/unified, cgroup2 controllers: $(tr '\n' ' ' </sys/fs/cgroup/unified/cgroup.controllers | sed 's/ *$//'))"
    else echo "cgroup v1"; fi
}
GIT_REV=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$GIT_REV" != unknown ] && [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null | head -n 1)" ]; then
    GIT_REV="$GIT_REV (working tree has uncommitted changes)"
fi
jset .machine "$(jq -n \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg kernel "$(uname -r)" \
    --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
    --argjson cpus "$(nproc)" \
    --arg mem "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
    --arg os "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")" \
    --arg cg "$(cg_layout)" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg hako "$("$H" --version 2>/dev/null | head -n 1)" \
    --arg hakobin "$HAKO_SRC" \
    --arg hakosha "$(sha256sum "$H" | cut -c1-16)" \
    --arg mon "$MON_DESC" \
    --arg rev "$GIT_REV" \
    --arg lxc "$(lxc-start --version 2>/dev/null)" \
    --arg runc "$( [ "$HAVE_RUNC" = 1 ] && runc --version | head -n 1 || echo 'not used')" \
    --arg crun "$( [ "$HAVE_CRUN" = 1 ] && crun --version | head -n 1 || echo 'not used')" \
    --arg hf "$(hyperfine --version)" \
    '{date: $date, kernel: $kernel, cpu: $cpu, cpus: $cpus, memory: $mem, os: $os, cgroups: $cg,
      loadavg_start: $load, hako: $hako, hako_binary: $hakobin, hako_sha256_16: $hakosha, hako_monitor: $mon,
      git: $rev, lxc: $lxc, runc: $runc, crun: $crun, hyperfine: $hf}')"
jset .settings "$(jq -n --argjson runs "$RUNS" --argjson rounds "$ROUNDS" --argjson warmup "$WARMUP" \
    --argjson cycles "$CYCLES" --argjson ncont "$NCONT" --argjson fdtol "$FD_TOL" --argjson cool "$COOLDOWN_MS" \
    --arg tag "$TAG" --arg work "$WORK" --arg h "$H" --arg p "$P" --arg p2 "$P2" --arg n "$N" --arg nt "$NT" --arg nu "$NU" \
    '{runs_per_command: $runs, rounds: $rounds, warmup_per_round: $warmup, loop_cycles: $cycles,
      loop_containers: $ncont, fd_tolerance: $fdtol, cooldown_ms: $cool, tag: $tag, workdir: $work,
      hako_copy: $h, hako_lxcpath: $p, lxc_lxcpath: $p2, container: $n, lxc_template_container: $nt, hako_unprivileged_container: $nu}')"

say "bench: work dir $WORK, container $N; hyperfine's output goes to $RESULTS/latest.log"

# ---------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------
say "== creating the busybox containers (hako, LXC, OCI bundles)"
CREATE_OK=1
# privileged, as LXC's busybox container is: the comparison with LXC (and runc/crun) is like
# for like. hako's default (unprivileged) container is measured against it in 5.
if ! out=$(hq create "$N" -t busybox --privileged 2>&1); then
    fail "hako create: \`$H -P $P create $N -t busybox --privileged\` failed: $out"
    CREATE_OK=0
elif grep -Eq '^[[:space:]]*lxc\.idmap[[:space:]]*=' "$P/$N/config"; then
    fail "hako create --privileged: $P/$N/config has lxc.idmap lines; the comparison with LXC needs a privileged container"
    CREATE_OK=0
fi
if [ "$CREATE_OK" = 1 ]; then
    # hako's runtime hash dir for $P: where the lock file of $N lives
    lockf=$(find /run/hako/lock -mindepth 2 -maxdepth 2 -name "$N" 2>/dev/null | head -n 1)
    if [ -n "$lockf" ]; then
        HASH=$(basename "$(dirname "$lockf")")
    else
        HASH=$(printf '%s' "$(realpath "$P")" | sha256sum | cut -c1-16)
    fi
    no_network "$N"
fi
# hako's unprivileged container (the default of hako create): its own id range, idmapped rootfs
UNPRIV_OK=$CREATE_OK
if [ "$UNPRIV_OK" = 1 ]; then
    if ! out=$(hq create "$NU" -t busybox 2>&1); then
        fail "hako create (unprivileged): \`$H -P $P create $NU -t busybox\` failed: $out"
        UNPRIV_OK=0
    elif ! grep -Eq '^[[:space:]]*lxc\.idmap[[:space:]]*=' "$P/$NU/config"; then
        fail "hako create (default): $P/$NU/config has no lxc.idmap line; the default container is expected to be unprivileged"
        UNPRIV_OK=0
    else
        no_network "$NU"
    fi
fi

# LXC: created as the brief of the issue says (busybox template, no network). Debian's
# /etc/lxc/default.conf wants an lxcbr0 bridge; -f replaces it.
printf 'lxc.net.0.type = empty\n' >"$WORK/lxc-net.conf"
LXC_OK=1
for n in "$N" "$NT"; do
    if ! out=$(lxc-create -P "$P2" -n "$n" -t busybox -f "$WORK/lxc-net.conf" 2>&1); then
        fail "lxc-create: \`lxc-create -P $P2 -n $n -t busybox -f $WORK/lxc-net.conf\` failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
        LXC_OK=0
    fi
done

# Matched config for LXC's $N: hako's busybox config, plus in LXC syntax what hako applies
# without being asked (capability drops, device cgroup allowlist), and hako's rootfs. So both
# tools do the same work; $NT keeps LXC's template config and rootfs as a user gets them.
dev_rules() {
    # hako's default device rules, read back from a running hako container when the v1
    # devices controller is there (the list then follows hako's defaults as they change)
    local f
    f=$(find /sys/fs/cgroup/devices -maxdepth 4 -type d -name "hako.payload.$N" 2>/dev/null | head -n 1)
    if [ -n "$f" ] && [ -r "$f/devices.list" ] && ! grep -q '^a ' "$f/devices.list"; then
        cat "$f/devices.list"
    else
        printf '%s\n' 'c *:* m' 'b *:* m' 'c 1:3 rwm' 'c 1:5 rwm' 'c 1:7 rwm' 'c 1:8 rwm' 'c 1:9 rwm' \
            'c 5:0 rwm' 'c 5:1 rwm' 'c 5:2 rwm' 'c 136:* rwm' 'c 10:229 rwm' 'c 10:200 rwm'
    fi
}
if [ "$CREATE_OK" = 1 ] && [ "$LXC_OK" = 1 ]; then
    DEV_RULES=""
    if hq start "$N" >/dev/null 2>&1; then
        DEV_RULES=$(dev_rules)
        hq stop "$N" -k >/dev/null 2>&1 || true
    fi
    [ -n "$DEV_RULES" ] || DEV_RULES=$(dev_rules)
    cp "$P2/$N/config" "$P2/$N/config.lxc-template"
    {
        echo "# Benchmark config: hako's busybox config ($P/$N/config) in LXC,"
        echo "# plus what hako applies by default, spelled out for LXC."
        echo "lxc.rootfs.path = dir:$P2/$N/rootfs"
        echo "lxc.uts.name = $N"
        grep -Ev '^[[:space:]]*(#|$)|^lxc\.(rootfs\.path|uts\.name)[[:space:]]*=' "$P/$N/config"
        echo "lxc.cap.drop = sys_module mac_admin mac_override sys_time sys_rawio"
        if [ -d /sys/fs/cgroup/devices ]; then k=lxc.cgroup.devices; else k=lxc.cgroup2.devices; fi
        echo "$k.deny = a"
        while read -r rule; do echo "$k.allow = $rule"; done <<<"$DEV_RULES"
    } >"$P2/$N/config"
    rm -rf "$P2/$N/rootfs"
    cp -a "$P/$N/rootfs" "$P2/$N/rootfs"
fi

if [ "$CREATE_OK" = 1 ] && [ "$HAVE_RUNC$HAVE_CRUN" != 00 ]; then
    if ! out=$("$BENCH_DIR/oci/prepare.sh" "$P/$N/rootfs" "$WORK/oci/runc" "$RUNC_ID" 2>&1) ||
        ! out=$("$BENCH_DIR/oci/prepare.sh" "$P/$N/rootfs" "$WORK/oci/crun" "$CRUN_ID" 2>&1); then
        note "OCI bundles could not be made, runc/crun left out: $out"
        HAVE_RUNC=0 HAVE_CRUN=0
    fi
fi

# commands, exactly as hyperfine runs them
C_HAKO_SS="$H -P $P start $N && $H -P $P stop $N -k"
C_LXC_SS="lxc-start -P $P2 -n $N -d && lxc-stop -P $P2 -n $N -k"
C_LXCT_SS="lxc-start -P $P2 -n $NT -d && lxc-stop -P $P2 -n $NT -k"
C_RUNC_SS="runc --root $RUNC_ROOT run -d --bundle $WORK/oci/runc $RUNC_ID >/dev/null && runc --root $RUNC_ROOT delete -f $RUNC_ID"
C_CRUN_SS="crun --root $CRUN_ROOT run -d --bundle $WORK/oci/crun $CRUN_ID >/dev/null && crun --root $CRUN_ROOT delete -f $CRUN_ID"
C_HAKO_START="$H -P $P start $N"
C_LXC_START="lxc-start -P $P2 -n $N -d"
C_HAKO_STOP="$H -P $P stop $N -k"
# The floor of a start (issue 11): unshare(1) of the namespaces hako gives the container (mnt,
# uts, ipc, net, pid, cgroup) and an exec of its init program (busybox, here as `true`, which
# exits at once) in its rootfs: what no container manager can go below.
C_FLOOR="unshare --mount --uts --ipc --net --pid --cgroup --fork chroot $P/$N/rootfs /bin/busybox true"
C_LXC_STOP="lxc-stop -P $P2 -n $N -k"
# Before every timed run (not timed): a pause, so each run starts from a quiet kernel. Moving
# a task between cgroups (cgroup.procs) waits for an RCU grace period (~5-10 ms here) unless
# another move happened a few ms earlier; without the pause one tool's moves (LXC moves its
# monitor at stop) would speed up the next run's start, whichever tool that is.
COOL="sleep $(awk -v m="$COOLDOWN_MS" 'BEGIN {printf "%.3f", m / 1000}')"
C_STOP_BOTH="$H -P $P stop $N -k >/dev/null 2>&1; lxc-stop -P $P2 -n $N -k >/dev/null 2>&1; $COOL"
C_START_BOTH="$H -P $P start $N >/dev/null 2>&1; lxc-start -P $P2 -n $N -d >/dev/null 2>&1; $COOL"
C_HAKO_ATT="$H -P $P attach $N -- true"
C_LXC_ATT="lxc-attach -P $P2 -n $N -- true"
C_RUNC_EXEC="runc --root $RUNC_ROOT exec $RUNC_ID true"
C_CRUN_EXEC="crun --root $CRUN_ROOT exec $CRUN_ID true"
# 5. (issue 12) hako's unprivileged container; its privileged twin is $N with the commands above
C_HAKOU_SS="$H -P $P start $NU && $H -P $P stop $NU -k"
C_HAKOU_ATT="$H -P $P attach $NU -- true"

# Smoke tests: each command once, so a failure is reported with the tool's own words
HAKO_OK=$CREATE_OK
[ "$HAKO_OK" = 1 ] && { smoke "hako start+stop" "$C_HAKO_SS" || HAKO_OK=0; }
[ "$LXC_OK" = 1 ] && { smoke "LXC start+stop" "$C_LXC_SS" || LXC_OK=0; }
[ "$HAKO_OK" = 1 ] || UNPRIV_OK=0
[ "$UNPRIV_OK" = 1 ] && { smoke "hako (unprivileged) start+stop" "$C_HAKOU_SS" || UNPRIV_OK=0; }
LXCT_OK=$LXC_OK
[ "$LXCT_OK" = 1 ] && { smoke "LXC (template config) start+stop" "$C_LXCT_SS" || LXCT_OK=0; }
SMOKE_OPTIONAL=1
if [ "$HAVE_RUNC" = 1 ] && ! smoke "runc run+delete" "$C_RUNC_SS"; then HAVE_RUNC=0; fi
if [ "$HAVE_CRUN" = 1 ]; then
    SMOKE_WRAP=("${CRUN_WRAP[@]}")
    smoke "crun run+delete" "$C_CRUN_SS" || HAVE_CRUN=0
    SMOKE_WRAP=()
fi
SMOKE_OPTIONAL=0

# ---------------------------------------------------------------------------------------
# 1. start + stop -k
# ---------------------------------------------------------------------------------------
say "== 1. start + stop -k (busybox, no network): $ROUNDS rounds, $RUNS runs per command"
grp=()
[ "$HAKO_OK" = 1 ] && grp+=(hako "$C_HAKO_SS")
[ "$LXC_OK" = 1 ] && grp+=(lxc "$C_LXC_SS")
[ "$LXCT_OK" = 1 ] && grp+=(lxc_template_config "$C_LXCT_SS")
[ "$HAVE_RUNC" = 1 ] && grp+=(runc "$C_RUNC_SS")
[ ${#grp[@]} -gt 0 ] && hf start_stop --prepare "$COOL" :: "${grp[@]}" || true
if [ "$HAVE_CRUN" = 1 ]; then
    HF_WRAP=("${CRUN_WRAP[@]}")
    hf start_stop_crun --prepare "$COOL" :: crun "$C_CRUN_SS" || true
    HF_WRAP=()
fi

say "== 1c. start + stop -k back to back (no pause between runs)"
grp=()
[ "$HAKO_OK" = 1 ] && grp+=(hako "$C_HAKO_SS")
[ "$LXC_OK" = 1 ] && grp+=(lxc "$C_LXC_SS")
[ ${#grp[@]} -gt 0 ] && hf start_stop_warm :: "${grp[@]}" || true

say "== 1b. split: start alone, stop -k alone"
if [ "$HAKO_OK" = 1 ] && [ "$LXC_OK" = 1 ]; then
    hf start_only --prepare "$C_STOP_BOTH" :: hako "$C_HAKO_START" lxc "$C_LXC_START" floor "$C_FLOOR" || true
    sh -c "$C_STOP_BOTH"
    hf stop_only --prepare "$C_START_BOTH" :: hako "$C_HAKO_STOP" lxc "$C_LXC_STOP" || true
    sh -c "$C_STOP_BOTH"
fi

# ---------------------------------------------------------------------------------------
# 2./3. running containers: monitor memory, attach
# ---------------------------------------------------------------------------------------
say "== 2. attach -- true, 3. monitor memory"
HAKO_RUN=0 LXC_RUN=0 RUNC_RUN=0 CRUN_RUN=0
if [ "$HAKO_OK" = 1 ]; then
    if out=$(hq start "$N" 2>&1); then HAKO_RUN=1; else fail "hako start: $out"; fi
fi
if [ "$LXC_OK" = 1 ]; then
    if out=$(lxc-start -P "$P2" -n "$N" -d 2>&1); then LXC_RUN=1; else fail "lxc-start: $out"; fi
fi
if [ "$HAVE_RUNC" = 1 ] && runc --root "$RUNC_ROOT" run -d --bundle "$WORK/oci/runc" "$RUNC_ID" >/dev/null 2>&1; then RUNC_RUN=1; fi
if [ "$HAVE_CRUN" = 1 ] && crunc run -d --bundle "$WORK/oci/crun" "$CRUN_ID" >/dev/null 2>&1; then CRUN_RUN=1; fi
sleep 0.5 # let busybox init finish rcS in every container before measuring

monitors() { # monitors STAGE: memory of both monitors now
    local stage=$1 ip mp
    if [ "$HAKO_RUN" = 1 ]; then
        ip=$(hako_init_pid "$N")
        if [ -n "$ip" ] && mp=$(ppid_of "$ip") && [ -n "$mp" ]; then
            jset ".memory.$stage.hako" "$(memjson "$mp")"
        else
            fail "hako monitor: no init pid from \`$H -P $P info $N -p\`"
        fi
    fi
    if [ "$LXC_RUN" = 1 ]; then
        ip=$(lxc_init_pid "$N")
        if [ -n "$ip" ] && mp=$(ppid_of "$ip") && [ -n "$mp" ]; then
            jset ".memory.$stage.lxc" "$(memjson "$mp")"
        else
            fail "LXC monitor: no init pid from lxc-info"
        fi
    fi
}
monitors fresh

if [ "$HAKO_RUN" = 1 ] && ! smoke "hako attach" "$C_HAKO_ATT"; then HAKO_RUN=2; fi
if [ "$LXC_RUN" = 1 ] && ! smoke "lxc-attach" "$C_LXC_ATT"; then LXC_RUN=2; fi
SMOKE_OPTIONAL=1
if [ "$RUNC_RUN" = 1 ] && ! smoke "runc exec" "$C_RUNC_EXEC"; then RUNC_RUN=0; fi
if [ "$CRUN_RUN" = 1 ]; then
    SMOKE_WRAP=("${CRUN_WRAP[@]}")
    smoke "crun exec" "$C_CRUN_EXEC" || CRUN_RUN=0
    SMOKE_WRAP=()
fi
SMOKE_OPTIONAL=0
grp=()
[ "$HAKO_RUN" = 1 ] && grp+=(hako "$C_HAKO_ATT")
[ "$LXC_RUN" = 1 ] && grp+=(lxc "$C_LXC_ATT")
[ "$RUNC_RUN" = 1 ] && grp+=(runc "$C_RUNC_EXEC")
[ ${#grp[@]} -gt 0 ] && hf attach -N --prepare "$COOL" :: "${grp[@]}" || true
grp=()
[ "$HAKO_RUN" = 1 ] && grp+=(hako "$C_HAKO_ATT")
[ "$LXC_RUN" = 1 ] && grp+=(lxc "$C_LXC_ATT")
[ ${#grp[@]} -gt 0 ] && hf attach_warm -N :: "${grp[@]}" || true
if [ "$CRUN_RUN" = 1 ]; then
    HF_WRAP=("${CRUN_WRAP[@]}")
    hf attach_crun -N --prepare "$COOL" :: crun "$C_CRUN_EXEC" || true
    HF_WRAP=()
fi
[ "$HAKO_RUN" = 2 ] && HAKO_RUN=1
[ "$LXC_RUN" = 2 ] && LXC_RUN=1
monitors after_attach

hq stop "$N" -k >/dev/null 2>&1 || true
lxc-stop -P "$P2" -n "$N" -k >/dev/null 2>&1 || true
[ "$RUNC_RUN" = 1 ] && { runc --root "$RUNC_ROOT" delete -f "$RUNC_ID" >/dev/null 2>&1 || true; }
[ "$CRUN_RUN" = 1 ] && { crunc delete -f "$CRUN_ID" >/dev/null 2>&1 || true; }

# ---------------------------------------------------------------------------------------
# 5. hako unprivileged vs hako privileged (issue 12): the same busybox container without
# network, made by `hako create` (a user namespace with its own id range, idmapped rootfs) and
# by `hako create --privileged`. The two commands alternate in the rounds (order rotated), in
# both modes: a pause before each timed run (commands typed with idle time between them),
# and back to back (a script's loop). Target: unprivileged start + stop -k at most 15 %
# slower than privileged, in each mode.
# ---------------------------------------------------------------------------------------
if [ "$UNPRIV_OK" = 1 ]; then
    say "== 5. hako unprivileged vs privileged: start + stop -k, attach (with a pause, and back to back)"
    UP=(privileged "$C_HAKO_SS" unprivileged "$C_HAKOU_SS")
    hf userns_start_stop --prepare "$COOL" :: "${UP[@]}" || true
    hf userns_start_stop_warm :: "${UP[@]}" || true
    U_RUN=1
    for n in "$N" "$NU"; do
        if ! out=$(hq start "$n" 2>&1); then fail "hako start $n (for 5.): $out"; U_RUN=0; fi
    done
    if [ "$U_RUN" = 1 ] && smoke "hako attach (unprivileged)" "$C_HAKOU_ATT" && smoke "hako attach (privileged)" "$C_HAKO_ATT"; then
        UA=(privileged "$C_HAKO_ATT" unprivileged "$C_HAKOU_ATT")
        hf userns_attach -N --prepare "$COOL" :: "${UA[@]}" || true
        hf userns_attach_warm -N :: "${UA[@]}" || true
    fi
    hq stop "$N" -k >/dev/null 2>&1 || true
    hq stop "$NU" -k >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------------------
# 4. leak loops (hako)
# ---------------------------------------------------------------------------------------
if [ "$HAKO_OK" = 1 ]; then
    say "== 4a. $CYCLES x (start + stop -k) of one container"
    snap "$WORK/snap.same.before"
    t0=$(ms_now) errs=0 first=""
    for ((i = 1; i <= CYCLES; i++)); do
        if ! out=$(hq start "$N" 2>&1); then
            errs=$((errs + 1)); [ -n "$first" ] || first="cycle $i, start: $out"; continue
        fi
        if ! out=$(hq stop "$N" -k 2>&1); then
            errs=$((errs + 1)); [ -n "$first" ] || first="cycle $i, stop -k: $out"
        fi
    done
    t1=$(ms_now)
    jset .loops.same_container "$(jq -n --argjson c "$CYCLES" --argjson ms $((t1 - t0)) --argjson e "$errs" --arg f "$first" \
        --arg cmd "for i in 1..$CYCLES: $H -P $P start $N; $H -P $P stop $N -k" \
        '{cycles: $c, elapsed_ms: $ms, per_cycle_ms: ($ms / $c * 10 | round / 10), errors: $e, first_error: $f, command: $cmd}')"
    [ "$errs" = 0 ] || fail "loop same container: $errs of $CYCLES cycles failed; first: $first"
    leakcheck same_container "$WORK/snap.same.before"

    say "== 4b. $NCONT distinct containers: create all, start all, stop -k all, destroy all"
    snap "$WORK/snap.distinct.before"
    names=()
    for ((i = 1; i <= NCONT; i++)); do names+=("$(printf '%s-c%03d' "$TAG" "$i")"); done
    declare -A PH_MS=() PH_ERR=() PH_FIRST=()
    phase() { # phase NAME CMD...: run CMD NAME_i for every container
        local ph=$1 n t0 e=0 f=""
        shift
        t0=$(ms_now)
        for n in "${names[@]}"; do
            if ! out=$("$@" "$n" 2>&1); then e=$((e + 1)); [ -n "$f" ] || f="$n: $out"; fi
        done
        PH_MS[$ph]=$(($(ms_now) - t0)) PH_ERR[$ph]=$e PH_FIRST[$ph]=$f
        [ "$e" = 0 ] || fail "loop distinct containers, $ph: $e of $NCONT failed; first: $f"
    }
    phase create create_nonet
    phase start hq start
    running=$(hq ls --running 2>/dev/null | tr -s ' \t' '\n' | grep -c -- "^$TAG-c[0-9]" || true)
    # what NCONT monitors cost together (the binary's pages are shared between them)
    pss_sum=0 rss_sum=0 nmon=0
    for n in "${names[@]}"; do
        ip=$(hako_init_pid "$n") || continue
        [ -n "$ip" ] || continue
        mp=$(ppid_of "$ip") || continue
        read -r r p < <(awk '/^Rss:/ {r = $2} /^Pss:/ {p = $2} END {print r, p}' "/proc/$mp/smaps_rollup" 2>/dev/null) || continue
        [ -n "$p" ] || continue
        rss_sum=$((rss_sum + r)) pss_sum=$((pss_sum + p)) nmon=$((nmon + 1))
    done
    # issue 14: one refresh of `hako top` (every running container's counters) with all of
    # them running: the median of 15, as the batch mode prints them
    top_ms=$(for _ in $(seq 15); do
        t0=$(date +%s%N)
        hq top -b -n 1 >/dev/null 2>&1
        echo $((($(date +%s%N) - t0) / 1000))
    done | sort -n | awk '{a[NR] = $1} END {printf "%.1f", a[int((NR + 1) / 2)] / 1000}')
    phase stop hq stop -k
    phase destroy hq destroy
    jset .loops.distinct_containers "$(jq -n --argjson n "$NCONT" --argjson run "$running" --argjson top "$top_ms" \
        --argjson cm "${PH_MS[create]}" --argjson sm "${PH_MS[start]}" --argjson pm "${PH_MS[stop]}" --argjson dm "${PH_MS[destroy]}" \
        --argjson ce "${PH_ERR[create]}" --argjson se "${PH_ERR[start]}" --argjson pe "${PH_ERR[stop]}" --argjson de "${PH_ERR[destroy]}" \
        --argjson nmon "$nmon" --argjson pss "$pss_sum" --argjson rss "$rss_sum" \
        --arg cmd "for each of $TAG-c001..$TAG-c$(printf '%03d' "$NCONT"): $H -P $P create NAME -t busybox; then start NAME for all; then stop NAME -k for all; then destroy NAME for all" \
        '{containers: $n, running_at_once: $run,
          create_ms: $cm, start_ms: $sm, stop_ms: $pm, destroy_ms: $dm,
          per_container_ms: {create: ($cm / $n * 10 | round / 10), start: ($sm / $n * 10 | round / 10),
                             stop: ($pm / $n * 10 | round / 10), destroy: ($dm / $n * 10 | round / 10)},
          errors: {create: $ce, start: $se, stop: $pe, destroy: $de},
          monitors_measured: $nmon, monitors_pss_total_kib: $pss, monitors_rss_total_kib: $rss,
          monitor_pss_avg_kib: (if $nmon > 0 then ($pss / $nmon | round) else null end),
          top_refresh_ms: $top,
          command: $cmd}')"
    [ "$running" = "$NCONT" ] || fail "loop distinct containers: $running of $NCONT were RUNNING at once (hako ls --running)"
    leakcheck distinct_containers "$WORK/snap.distinct.before"
fi

# What is left of hako's runtime state once every container of the lxcpath is destroyed
if [ "$CREATE_OK" = 1 ] && [ -n "$HASH" ]; then
    DESTROY_OK=1
    for n in "$N" "$NU"; do
        [ -d "$P/$n" ] || continue
        hq stop "$n" -k >/dev/null 2>&1 || true
        if ! out=$(hq destroy "$n" 2>&1); then fail "hako destroy $n: $out"; DESTROY_OK=0; fi
    done
    if [ "$DESTROY_OK" = 1 ]; then
        for d in "/run/hako/$HASH" "/run/hako/lock/$HASH"; do
            if [ -e "$d" ]; then
                left=$(find "$d" -mindepth 1 2>/dev/null | wc -l)
                note "after destroying every container of $P, $d is still there ($left entries inside); hako does not remove the per-lxcpath runtime directories"
            fi
        done
        # destroy frees a container's id range: no registry entry may still name our lxcpath
        taken=$(grep -l -F -e "$P/" "$IDMAP_DIR"/* 2>/dev/null | tr '\n' ' ' || true)
        [ -z "$taken" ] || fail "after destroying every container of $P, id ranges are still taken in $IDMAP_DIR: $taken"
    fi
fi

# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------
jset .machine.loadavg_end "$(jstr "$(cut -d' ' -f1-3 /proc/loadavg)")"
for id in start_stop start_stop_crun start_stop_warm start_only stop_only attach attach_crun attach_warm \
    userns_start_stop userns_start_stop_warm userns_attach userns_attach_warm; do
    [ -s "$WORK/hf/$id.json" ] && jset ".hyperfine.$id" "$(cat "$WORK/hf/$id.json")"
done
jset .results "$(jq -n \
    --argjson ss_h "$(hfget start_stop hako)" --argjson ss_l "$(hfget start_stop lxc)" \
    --argjson ss_t "$(hfget start_stop lxc_template_config)" --argjson ss_r "$(hfget start_stop runc)" \
    --argjson ss_c "$(hfget start_stop_crun crun)" \
    --argjson so_h "$(hfget start_only hako)" --argjson so_l "$(hfget start_only lxc)" \
    --argjson so_f "$(hfget start_only floor)" \
    --argjson po_h "$(hfget stop_only hako)" --argjson po_l "$(hfget stop_only lxc)" \
    --argjson sw_h "$(hfget start_stop_warm hako)" --argjson sw_l "$(hfget start_stop_warm lxc)" \
    --argjson aw_h "$(hfget attach_warm hako)" --argjson aw_l "$(hfget attach_warm lxc)" \
    --argjson at_h "$(hfget attach hako)" --argjson at_l "$(hfget attach lxc)" \
    --argjson at_r "$(hfget attach runc)" --argjson at_c "$(hfget attach_crun crun)" \
    --argjson us_p "$(hfget userns_start_stop privileged)" --argjson us_u "$(hfget userns_start_stop unprivileged)" \
    --argjson uw_p "$(hfget userns_start_stop_warm privileged)" --argjson uw_u "$(hfget userns_start_stop_warm unprivileged)" \
    --argjson ua_p "$(hfget userns_attach privileged)" --argjson ua_u "$(hfget userns_attach unprivileged)" \
    --argjson uaw_p "$(hfget userns_attach_warm privileged)" --argjson uaw_u "$(hfget userns_attach_warm unprivileged)" \
    --argjson mem "$(jq '.memory // {}' "$RJ")" '
    def ratio($a; $b): if ($a != null and $b != null and $b.median_ms > 0) then ($a.median_ms / $b.median_ms * 100 | round / 100) else null end;
    def slim: if . == null then null else del(.times_ms) end;
    def raw($a; $b): if ($a != null and $b != null and $b.median_ms > 0) then $a.median_ms / $b.median_ms else null end;
    # issue 12: unprivileged / privileged hako (3 decimals; judged on the unrounded ratio)
    def userns($p; $u; $target):
        raw($u; $p) as $q |
        {privileged: ($p | slim), unprivileged: ($u | slim),
         ratio_unprivileged_over_privileged: (if $q == null then null else ($q * 1000 | round / 1000) end),
         unprivileged_slower_pct: (if $q == null then null else (($q - 1) * 1000 | round / 10) end)}
        + (if $target then {target: "unprivileged hako start + stop -k at most 15 % slower than privileged (ratio <= 1.15) (issue 12)",
                            met: (if $q == null then null else $q <= 1.15 end)} else {} end);
    {
      start_stop: {hako: ($ss_h | slim), lxc: ($ss_l | slim), lxc_template_config: ($ss_t | slim),
                   runc: ($ss_r | slim), crun: ($ss_c | slim),
                   speedup_vs_lxc: ratio($ss_l; $ss_h), speedup_vs_lxc_template_config: ratio($ss_t; $ss_h),
                   speedup_vs_runc: ratio($ss_r; $ss_h), speedup_vs_crun: ratio($ss_c; $ss_h),
                   target: "hako at least 3x faster than LXC (speedup_vs_lxc >= 3)",
                   met: (if ratio($ss_l; $ss_h) == null then null else ratio($ss_l; $ss_h) >= 3 end)},
      start_stop_back_to_back: {hako: ($sw_h | slim), lxc: ($sw_l | slim), speedup_vs_lxc: ratio($sw_l; $sw_h),
                   target: "hako at least 2.5x faster than LXC back to back (issue 11)",
                   met: (if ratio($sw_l; $sw_h) == null then null else ratio($sw_l; $sw_h) >= 2.5 end)},
      attach_back_to_back: {hako: ($aw_h | slim), lxc: ($aw_l | slim), speedup_vs_lxc: ratio($aw_l; $aw_h)},
      start_only: {hako: ($so_h | slim), lxc: ($so_l | slim), floor: ($so_f | slim), speedup_vs_lxc: ratio($so_l; $so_h),
                   hako_over_floor: ratio($so_h; $so_f),
                   target: "a start within 2x of the floor (unshare of the same namespaces + exec of the same init) (issue 11)",
                   met: (if ratio($so_h; $so_f) == null then null else ratio($so_h; $so_f) <= 2 end)},
      stop_only: {hako: ($po_h | slim), lxc: ($po_l | slim), speedup_vs_lxc: ratio($po_l; $po_h)},
      userns_start_stop: userns($us_p; $us_u; true),
      userns_start_stop_back_to_back: userns($uw_p; $uw_u; true),
      userns_attach: userns($ua_p; $ua_u; false),
      userns_attach_back_to_back: userns($uaw_p; $uaw_u; false),
      attach: {hako: ($at_h | slim), lxc: ($at_l | slim), runc_exec: ($at_r | slim), crun_exec: ($at_c | slim),
               speedup_vs_lxc: ratio($at_l; $at_h),
               target: "hako no slower than lxc-attach (speedup_vs_lxc >= 1)",
               met: (if ratio($at_l; $at_h) == null then null else ratio($at_l; $at_h) >= 1 end)},
      monitor_memory: (
        [ "fresh", "after_attach" ] | map(. as $s | {key: $s, value: (
            ($mem[$s] // {}) as $m |
            {hako_pss_kib: $m.hako.pss_kib, lxc_pss_kib: $m.lxc.pss_kib,
             hako_pss_alone_kib: $m.hako.pss_alone_kib, lxc_pss_alone_kib: $m.lxc.pss_alone_kib,
             hako_rss_kib: $m.hako.rss_kib, lxc_rss_kib: $m.lxc.rss_kib,
             raw_pss_ratio_hako_over_lxc: (if ($m.hako.pss_kib != null and ($m.lxc.pss_kib // 0) > 0) then ($m.hako.pss_kib / $m.lxc.pss_kib * 100 | round / 100) else null end),
             pss_ratio_hako_over_lxc: (if ($m.hako.pss_alone_kib != null and ($m.lxc.pss_alone_kib // 0) > 0) then ($m.hako.pss_alone_kib / $m.lxc.pss_alone_kib * 100 | round / 100) else null end)})})
        | from_entries
        | . + {target: "hako monitor Pss at most half of LXC monitor Pss (ratio <= 0.5), each as if its tool ran this one container alone (pss_alone)",
               met: ([.fresh.pss_ratio_hako_over_lxc, .after_attach.pss_ratio_hako_over_lxc] | if any(. == null) then null else all(. <= 0.5) end)})
    }')"
jset .loops_ok "$(jq '[.loops // {} | .[] | .ok] | if length == 0 then null else all end' "$RJ")"
jset .failures "$(printf '%s\n' "${FAILURES[@]+"${FAILURES[@]}"}" | sed '/^$/d' | jq -R . | jq -s .)"
jset .notes "$(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}" | sed '/^$/d' | jq -R . | jq -s .)"

# Markdown (also printed)
render_md() {
    jq -r --arg c_hss "$C_HAKO_SS" --arg c_lss "$C_LXC_SS" --arg c_tss "$C_LXCT_SS" \
        --arg c_rss "$C_RUNC_SS" --arg c_css "$C_CRUN_SS" --arg c_hs "$C_HAKO_START" --arg c_ls "$C_LXC_START" \
        --arg c_hp "$C_HAKO_STOP" --arg c_lp "$C_LXC_STOP" --arg c_fl "$C_FLOOR" --arg c_sb "$C_STOP_BOTH" --arg c_stb "$C_START_BOTH" \
        --arg c_ha "$C_HAKO_ATT" --arg c_la "$C_LXC_ATT" --arg c_re "$C_RUNC_EXEC" --arg c_ce "$C_CRUN_EXEC" \
        --arg c_hus "$C_HAKOU_SS" --arg c_hua "$C_HAKOU_ATT" --arg nu "$NU" \
        --arg crunwrap "${CRUN_WRAP[*]:+yes}" --arg p "$P" --arg p2 "$P2" --arg n "$N" --arg nt "$NT" '
    def ms: if . == null then "–" else (.median_ms | tostring) + " ms" end;
    def x: if . == null then "–" else (tostring) + "×" end;
    def kib: if . == null then "–" else (tostring) + " KiB" end;
    def met: if . == null then "not measured" elif . then "**met**" else "**MISSED**" end;
    def sd: if . == null then "" else " ± " + (.stddev_ms | tostring) end;
    . as $r | $r.results as $x | $r.machine as $m | $r.settings as $s |
    "# hako vs LXC: benchmark results",
    "",
    "Date: \($m.date) · \($m.hako) (git \($m.git), binary sha256 \($m.hako_sha256_16)…) · \($m.lxc | "LXC " + .) · \($m.runc) · \($m.crun) · \($m.hyperfine)",
    "",
    "Machine: \($m.cpu), \($m.cpus) CPUs, \($m.memory), \($m.os), kernel \($m.kernel), cgroups: \($m.cgroups). Load average at start \($m.loadavg_start), at end \($m.loadavg_end).",
    "",
    "Medians of \($s.runs_per_command) timed runs per command (hyperfine, \($s.rounds) rounds with the command order rotated, \($s.warmup_per_round) warmup runs per round, an untimed pause of \($s.cooldown_ms) ms before each run except in the back-to-back rows). Speedup = other tool / hako (above 1: hako is faster). Targets are judged on the rows with the pause: a single start or attach, as a user runs it.",
    "",
    "hako'"'"'s container in this table is privileged (`hako create --privileged`), as LXC'"'"'s busybox container is (and runc'"'"'s and crun'"'"'s bundles, no user namespace): like for like. What hako'"'"'s default, unprivileged container costs is measured separately below (issue 12).",
    "",
    "| benchmark | hako | LXC | speedup vs LXC | target | runc (context) | crun (context) |",
    "|---|---|---|---|---|---|---|",
    "| start (to RUNNING) + stop -k, busybox, no network | \($x.start_stop.hako | ms) | \($x.start_stop.lxc | ms) | \($x.start_stop.speedup_vs_lxc | x) | ≥ 3×: \($x.start_stop.met | met) | \($x.start_stop.runc | ms) | \($x.start_stop.crun | ms) |",
    "| same, LXC with its busybox template config | \($x.start_stop.hako | ms) | \($x.start_stop.lxc_template_config | ms) | \($x.start_stop.speedup_vs_lxc_template_config | x) | | | |",
    "| same, back to back (no pause between runs) | \($x.start_stop_back_to_back.hako | ms) | \($x.start_stop_back_to_back.lxc | ms) | \($x.start_stop_back_to_back.speedup_vs_lxc | x) | ≥ 2.5×: \($x.start_stop_back_to_back.met | met) | | |",
    "| start alone | \($x.start_only.hako | ms) | \($x.start_only.lxc | ms) | \($x.start_only.speedup_vs_lxc | x) | | | |",
    "| the floor: unshare of the same namespaces + exec of the init program | \($x.start_only.floor | ms) | | start alone / floor = \($x.start_only.hako_over_floor // "–") | ≤ 2: \($x.start_only.met | met) | | |",
    "| stop -k alone | \($x.stop_only.hako | ms) | \($x.stop_only.lxc | ms) | \($x.stop_only.speedup_vs_lxc | x) | | | |",
    "| attach -- true (running container) | \($x.attach.hako | ms) | \($x.attach.lxc | ms) | \($x.attach.speedup_vs_lxc | x) | ≥ 1×: \($x.attach.met | met) | \($x.attach.runc_exec | ms) (exec) | \($x.attach.crun_exec | ms) (exec) |",
    "| attach, back to back (no pause between runs) | \($x.attach_back_to_back.hako | ms) | \($x.attach_back_to_back.lxc | ms) | \($x.attach_back_to_back.speedup_vs_lxc | x) | | | |",
    "| monitor Pss, just started | \($x.monitor_memory.fresh.hako_pss_alone_kib | kib) | \($x.monitor_memory.fresh.lxc_pss_alone_kib | kib) | hako/LXC = \($x.monitor_memory.fresh.pss_ratio_hako_over_lxc // "–") | ≤ 0.5: \($x.monitor_memory.met | met) | no monitor | no monitor |",
    "| monitor Pss, after the attach runs | \($x.monitor_memory.after_attach.hako_pss_alone_kib | kib) | \($x.monitor_memory.after_attach.lxc_pss_alone_kib | kib) | hako/LXC = \($x.monitor_memory.after_attach.pss_ratio_hako_over_lxc // "–") | | | |",
    "| monitor Rss, just started | \($x.monitor_memory.fresh.hako_rss_kib | kib) | \($x.monitor_memory.fresh.lxc_rss_kib | kib) | | | | |",
    "",
    "Spread (median ± standard deviation, ms): start+stop hako \($x.start_stop.hako | ms)\($x.start_stop.hako | sd), LXC \($x.start_stop.lxc | ms)\($x.start_stop.lxc | sd); attach hako \($x.attach.hako | ms)\($x.attach.hako | sd), LXC \($x.attach.lxc | ms)\($x.attach.lxc | sd).",
    "",
    "## hako unprivileged vs hako privileged (issue 12)",
    "",
    "The same busybox container without network, made by `hako create` (the default: a user namespace with an id range of its own, idmapped rootfs) and by `hako create --privileged`. The two alternate in every round (order rotated). *With a pause*: an untimed \($s.cooldown_ms) ms sleep before each timed run (commands typed with idle time between them); *back to back*: no pause (a script'"'"'s loop). Ratio = unprivileged / privileged (below 1.15: at most 15 % slower).",
    "",
    "| hako, busybox, no network | privileged | unprivileged | unprivileged / privileged | target (issue 12) |",
    "|---|---|---|---|---|",
    "| start (to RUNNING) + stop -k, with a pause | \($x.userns_start_stop.privileged | ms)\($x.userns_start_stop.privileged | sd) | \($x.userns_start_stop.unprivileged | ms)\($x.userns_start_stop.unprivileged | sd) | \($x.userns_start_stop.ratio_unprivileged_over_privileged // "–") | ≤ 1.15: \($x.userns_start_stop.met | met) |",
    "| start (to RUNNING) + stop -k, back to back | \($x.userns_start_stop_back_to_back.privileged | ms)\($x.userns_start_stop_back_to_back.privileged | sd) | \($x.userns_start_stop_back_to_back.unprivileged | ms)\($x.userns_start_stop_back_to_back.unprivileged | sd) | \($x.userns_start_stop_back_to_back.ratio_unprivileged_over_privileged // "–") | ≤ 1.15: \($x.userns_start_stop_back_to_back.met | met) |",
    "| attach -- true, with a pause | \($x.userns_attach.privileged | ms)\($x.userns_attach.privileged | sd) | \($x.userns_attach.unprivileged | ms)\($x.userns_attach.unprivileged | sd) | \($x.userns_attach.ratio_unprivileged_over_privileged // "–") | |",
    "| attach -- true, back to back | \($x.userns_attach_back_to_back.privileged | ms)\($x.userns_attach_back_to_back.privileged | sd) | \($x.userns_attach_back_to_back.unprivileged | ms)\($x.userns_attach_back_to_back.unprivileged | sd) | \($x.userns_attach_back_to_back.ratio_unprivileged_over_privileged // "–") | |",
    "",
    "## Monitor processes",
    "",
    "Pss (alone) counts the pages of the tool'"'"'s executable (and liblxc) in full, as if no other monitor of the same tool ran on the machine; it is what the main table shows. Pss is smaps_rollup'"'"'s figure, lower when other processes run the same executable (their number is in the last column but one).",
    "",
    "| | pid | Rss | Pss (alone) | Pss | Pss anon | Pss file | USS | fds | threads | processes running the same executable | command line |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ( ($r.memory // {}) | to_entries[] | .key as $st | .value | to_entries[] |
      "| \(.key), \($st) | \(.value.pid) | \(.value.rss_kib) KiB | \(.value.pss_alone_kib) KiB | \(.value.pss_kib) KiB | \(.value.pss_anon_kib) KiB | \(.value.pss_file_kib) KiB | \(.value.uss_kib) KiB | \(.value.fds) | \(.value.threads) | \(.value.same_exe_processes) | `\(.value.cmdline)` |" ),
    "",
    "## Leak loops (hako)",
    "",
    ( if $r.loops == null then "Not run (hako could not start its container)." else
      ( $r.loops.same_container | select(. != null) |
        "- \(.cycles) × start + stop -k of one container: \(.elapsed_ms) ms (\(.per_cycle_ms) ms per cycle), \(.errors) errors. Leaks: \(if .ok then "none" else (.leaks | join("; ")) end)." ),
      ( $r.loops.distinct_containers | select(. != null) |
        "- \(.containers) distinct containers: create \(.per_container_ms.create) ms, start \(.per_container_ms.start) ms, stop -k \(.per_container_ms.stop) ms, destroy \(.per_container_ms.destroy) ms per container; \(.running_at_once) RUNNING at once; their \(.monitors_measured) monitors together: Pss \(.monitors_pss_total_kib) KiB (\(.monitor_pss_avg_kib) KiB each), Rss \(.monitors_rss_total_kib) KiB. One refresh of `hako top -b -n 1` with all of them running: \(.top_refresh_ms // "–") ms (median of 15; target under 50 ms for 100, issue 14). Errors: \(.errors | to_entries | map("\(.key) \(.value)") | join(", ")). Leaks: \(if .ok then "none" else (.leaks | join("; ")) end)." ),
      "",
      "| counted (baseline → after) | \($r.loops | keys_unsorted | join(" | ")) |",
      "|---|\($r.loops | keys_unsorted | map("---") | join("|"))|",
      ( ["mounts_total", "mounts_ours", "hako_cgroups_total", "hako_cgroups_ours", "open_files_system", "processes_ours", "run_hako_entries_ours", "id_ranges_ours"][] as $k |
        "| \($k) | \([$r.loops[] | "\(.baseline[$k]) → \(.after[$k])"] | join(" | ")) |" ),
      "",
      ( [$r.loops[] | .notes[]?] | if length > 0 then "Notes (changes made by other users of the machine, not counted as leaks): " + join("; ") else empty end )
      end ),
    "",
    ( if ($r.failures | length) > 0 then "## Failures\n\n" + ($r.failures | map("- " + .) | join("\n")) + "\n" else empty end ),
    ( if ($r.notes | length) > 0 then "## Notes\n\n" + ($r.notes | map("- " + .) | join("\n")) + "\n" else empty end ),
    "## Exact commands",
    "",
    "hako is a copy of the binary under test (\($m.hako_binary)) at \($s.hako_copy), with hako-monitor beside it: \($m.hako_monitor); hako lxcpath \($p), LXC lxcpath \($p2). Container \($n): hako made it with `hako create \($n) -t busybox --privileged`; LXC with `lxc-create -P \($p2) -n \($n) -t busybox -f CFG` (CFG: `lxc.net.0.type = empty`), then given hako'"'"'s config in LXC syntax plus hako'"'"'s built-in defaults (capability drops, device allowlist) and a copy of hako'"'"'s rootfs, so both do the same work. Container \($nt): LXC'"'"'s busybox template config and rootfs, untouched. runc/crun: OCI bundles from bench/oci/prepare.sh (runc spec, same rootfs, /sbin/init); hako has no OCI front end yet, these columns are context only.\(if $crunwrap == "yes" then " crun runs in a private mount namespace with /sys/fs/cgroup/unified detached (crun 1.8 refuses a hybrid host whose cgroup2 has controllers), so it manages the v1 controllers only." else "" end)",
    "",
    "```",
    "# 1. start + stop -k (hyperfine, through sh; --prepare \"sleep \($s.cooldown_ms / 1000)\")",
    $c_hss, $c_lss, $c_tss, $c_rss, $c_css,
    "# 1b. start alone (--prepare: \($c_sb)) / stop -k alone (--prepare: \($c_stb))",
    $c_hs, $c_ls, $c_hp, $c_lp,
    "# 1b. the floor, in the start-alone group",
    $c_fl,
    "# 1c. the first two commands of 1 again, back to back (no --prepare)",
    "# 2. attach (hyperfine -N, both containers running; same --prepare as 1; hako and LXC also back to back)",
    $c_ha, $c_la, $c_re, $c_ce,
    "# 3. memory: /proc/$(ps -o ppid= -p INIT_PID)/smaps_rollup, INIT_PID from hako info -p / lxc-info -pH",
    "# 4. loops (\($n) is privileged; the distinct containers are made by the default create: unprivileged, each with an id range of its own, freed at destroy)",
    ($r.loops.same_container.command // ""), ($r.loops.distinct_containers.command // ""),
    "# 5. unprivileged (\($nu): hako create \($nu) -t busybox) vs privileged (\($n), the commands of 1 and 2): hyperfine, the two in one group; with --prepare \"sleep \($s.cooldown_ms / 1000)\" and without",
    $c_hus, $c_hss, $c_hua, $c_ha,
    "```"
    ' "$RJ"
}
mkdir -p "$RESULTS"
cp "$RJ" "$RESULTS/latest.json"
render_md >"$RESULTS/latest.md"
cp "$LOG_TMP" "$RESULTS/latest.log"

# The summary on the terminal: the main table and the verdicts
echo
sed -n '/^| benchmark/,/^$/p' "$RESULTS/latest.md"
sed -n '/^| hako, busybox, no network/,/^$/p' "$RESULTS/latest.md"
jq -r '.loops // {} | to_entries[] | "leak loop \(.key): \(if .value.ok then "no leaks" else "LEAKED: " + (.value.leaks | join("; ")) end)"' "$RESULTS/latest.json"
echo "results: $RESULTS/latest.md, $RESULTS/latest.json (hyperfine output: $RESULTS/latest.log)"

rc=0
if [ ${#FAILURES[@]} -gt 0 ]; then
    echo "bench: ${#FAILURES[@]} problem(s):" >&2
    printf '  - %s\n' "${FAILURES[@]}" >&2
    rc=1
fi
if [ "$ENFORCE" = 1 ]; then
    missed=$(jq -r '.results | [to_entries[] | select(.value.met == false) | .key] | join(", ")' "$RESULTS/latest.json")
    if [ -n "$missed" ]; then
        echo "bench: performance targets missed: $missed (BENCH_ENFORCE_TARGETS=1)" >&2
        rc=1
    fi
fi
exit $rc
