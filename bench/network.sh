#!/usr/bin/env bash
# bench/network.sh — issue 3's figures, hako next to LXC 5 on the same machine, one run: the
# network test's performance case (tests/network.rs, perf_start_stop_and_dhcp_vs_lxc) and the
# 100-container case (hundred_containers_started_concurrently_get_distinct_addresses):
#
#   - start + stop -k of a busybox container with one veth on a bridge: hako on a managed
#     network of the test's own, LXC on a bridge the test makes (same config otherwise);
#     medians of 15 runs each;
#   - from `start` returning to the container holding its DHCP address: hako with its managed
#     network's dnsmasq, LXC with a dnsmasq run as lxc-net runs it for lxcbr0; medians of 5;
#   - 100 containers on one managed network started concurrently: all get distinct addresses.
#
# The test builds its bridges, networks and containers itself and removes them (leak-checked).
# Writes bench/results/network.md. Run as root; `make bench-network` calls it.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results}
[ "$(id -u)" = 0 ] || { echo "bench/network: must run as root" >&2; exit 1; }
command -v lxc-start >/dev/null || { echo "bench/network: LXC is missing; apt-get install lxc (make bench-network does)" >&2; exit 1; }
mkdir -p "$RESULTS"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cd "$REPO"
HAKO_TESTS_REQUIRE_ROOT=1 cargo test --release -p hako --test network -- --nocapture --test-threads=1 \
    perf_start_stop_and_dhcp_vs_lxc hundred_containers_started_concurrently_get_distinct_addresses \
    >"$log" 2>&1 || { tail -n 40 "$log" >&2; echo "bench/network: the network test failed (above)" >&2; exit 1; }
{
    echo "# bench/network.sh: hako's networking next to LXC 5"
    echo
    echo "Date: $(date -u +%Y-%m-%dT%H:%MZ) · git $(git rev-parse --short HEAD) · LXC $(lxc-start --version) · $(nproc) CPUs · kernel $(uname -r)"
    echo
    grep -o 'PERF network: .*' "$log" | sed 's/^PERF network: /- /'
    echo
    echo "Reproduce: \`make bench-network\` (or \`sudo bench/network.sh\`)."
} >"$RESULTS/network.md"
cat "$RESULTS/network.md"
