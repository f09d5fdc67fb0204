#!/usr/bin/env bash
# bench/ab.sh OLD_HAKO NEW_HAKO — two builds of hako side by side on the same busybox
# container setup, interleaved, to measure what a change costs (issue 10's budget: seccomp
# and the inner cgroup may cost a start+stop and an attach at most 5 %).
#
# Each binary needs its hako-monitor next to it (cargo's target/release has both). Both
# builds run the same commands in the same rounds; the order of the two is swapped every
# round so drift of the machine's speed hits both alike. Two modes, as a user meets them:
#   typed  — an untimed pause (BENCH_COOLDOWN_MS, 50 ms) before each timed run: commands
#            typed with idle time between them;
#   loop   — no pause: a script's back-to-back loop.
# Measures: start (daemon, to RUNNING) + stop -k of a busybox container without network,
# and attach -- true on a running one. Medians over all rounds; ratio = new / old.
#
# Knobs: BENCH_RUNS (30 per command per mode, split over the rounds), BENCH_ROUNDS (3),
# BENCH_WARMUP (3 per round), BENCH_COOLDOWN_MS (50). Writes bench/results/ab.{md,json}.
set -euo pipefail

die() { echo "bench/ab.sh: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: $0 OLD_HAKO NEW_HAKO (each with hako-monitor in the same directory)"
[ "$(id -u)" = 0 ] || die "run as root"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install hyperfine"
command -v jq >/dev/null || die "jq is missing: apt-get install jq"
OLD=$(realpath "$1")
NEW=$(realpath "$2")
for b in "$OLD" "$NEW"; do
    [ -x "$b" ] || die "$b is not an executable"
    [ -x "$(dirname "$b")/hako-monitor" ] || die "no hako-monitor next to $b"
done

RUNS=${BENCH_RUNS:-30}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3}
COOL=${BENCH_COOLDOWN_MS:-50}
PER_ROUND=$(((RUNS + ROUNDS - 1) / ROUNDS))
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${BENCH_RESULTS:-$HERE/results}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/hako-ab.XXXXXX)
export HAKO_SYSCONFDIR=$WORK/etc
mkdir -p "$HAKO_SYSCONFDIR"
cleanup() {
    for b in "$OLD" "$NEW"; do
        for lp in "$WORK"/lp-*; do
            [ -d "$lp" ] || continue
            "$b" -P "$lp" stop -k abc >/dev/null 2>&1 || true
        done
    done
    for lp in "$WORK"/lp-*; do
        [ -d "$lp" ] || continue
        "$NEW" -P "$lp" destroy -f abc >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# one container per build (each build's own lxcpath: names of runtime state differ)
prep() { # BIN LXCPATH
    mkdir -p "$2"
    "$1" -P "$2" create abc -t busybox >/dev/null 2>&1
    printf 'lxc.net.0.type = empty\n' >>"$2/abc/config"
    sed -i '/^lxc.net.0.\(link\|flags\|hwaddr\)/d; /^lxc.net.0.type = veth/d' "$2/abc/config"
}
prep "$OLD" "$WORK/lp-old"
prep "$NEW" "$WORK/lp-new"

JSON=()
run_mode() { # MODE
    local mode=$1 prepare=()
    if [ "$mode" = typed ]; then
        prepare=(--prepare "sleep $(awk "BEGIN{print $COOL/1000}")")
    fi
    for ((r = 0; r < ROUNDS; r++)); do
        local order=(old new)
        [ $((r % 2)) = 1 ] && order=(new old)
        for who in "${order[@]}"; do
            local bin=$OLD lp=$WORK/lp-old
            [ "$who" = new ] && bin=$NEW lp=$WORK/lp-new
            local f=$WORK/$mode-startstop-$who-$r.json
            # through sh, as bench/run.sh measures it (hyperfine subtracts the shell)
            hyperfine -w "$WARMUP" -r "$PER_ROUND" "${prepare[@]}" --export-json "$f" \
                "$bin -P $lp start abc && $bin -P $lp stop -k abc" \
                >/dev/null 2>&1 || { echo "hyperfine failed for $who" >&2; exit 1; }
            JSON+=("$f")
        done
        "$OLD" -P "$WORK/lp-old" start abc
        "$NEW" -P "$WORK/lp-new" start abc
        for who in "${order[@]}"; do
            local bin=$OLD lp=$WORK/lp-old
            [ "$who" = new ] && bin=$NEW lp=$WORK/lp-new
            local f=$WORK/$mode-attach-$who-$r.json
            hyperfine -N -w "$WARMUP" -r "$PER_ROUND" "${prepare[@]}" --export-json "$f" \
                "$bin -P $lp attach abc -- true" >/dev/null 2>&1 || { echo "hyperfine failed" >&2; exit 1; }
            JSON+=("$f")
        done
        "$OLD" -P "$WORK/lp-old" stop -k abc
        "$NEW" -P "$WORK/lp-new" stop -k abc
    done
}
run_mode typed
run_mode loop

# medians over every timed run of a (mode, measure, build)
median() { # MODE MEASURE WHO
    cat "$WORK"/"$1"-"$2"-"$3"-*.json | jq -s '[.[].results[0].times[]] | sort | .[(length/2|floor)] * 1000'
}
{
    echo "# hako A/B: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "old: $OLD"
    echo "new: $NEW"
    echo
    echo "| mode | measure | old (ms) | new (ms) | new/old |"
    echo "|---|---|---|---|---|"
    for mode in typed loop; do
        for m in startstop attach; do
            o=$(median $mode $m old)
            n=$(median $mode $m new)
            ratio=$(awk "BEGIN{printf \"%.3f\", $n/$o}")
            label=$m
            [ $m = startstop ] && label="start + stop -k"
            [ $m = attach ] && label="attach -- true"
            printf '| %s | %s | %.2f | %.2f | %s |\n' "$mode" "$label" "$o" "$n" "$ratio"
        done
    done
} | tee "$OUT/ab.md"
