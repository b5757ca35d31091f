#!/usr/bin/env bash
# nines beside Prometheus and VictoriaMetrics on this machine: bulk load,
# ingest, queries, memory, disk and correctness on the same seeded data.
#
#   benches/peers/run.sh [--scale small|medium] [any flag of `peers --help`]
#
# Installs the Debian packages `prometheus` and `victoria-metrics` when
# they are missing, builds nines and the harness in release mode, runs
# the three databases one after another on loopback with their data in a
# temporary directory, prints one table and writes target/peers.json.
# The small scale takes under 10 minutes on a 2-core machine
# (docs/BENCHMARKS.md, "Peers").
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
if ((${#need[@]})); then
    echo "installing ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # the packages' services are not wanted running: the harness starts
    # its own copies on free ports
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
    for s in prometheus victoria-metrics; do
        $sudo systemctl stop "$s" 2>/dev/null || true
    done
fi

cargo build --release --locked -p nines --bin nines
cargo build --release --locked -p nines-benches --bin peers --bin ingest-load
exec target/release/peers "$@"
