#!/usr/bin/env bash
# Two nines builds, alternated on the same data: each answers the same
# queries through the peer harness's client (latency_probe); prints the
# medians and the server's CPU per request (user and system, from
# /proc/PID/stat) for each run.
#
#   benches/peers/ab-server.sh OLD_NINES NEW_NINES DATA_DIR AT [ROUNDS] -- [latency_probe flags] QUERY...
#
# DATA_DIR: a nines data directory (`peers --keep DIR` leaves DIR/nines);
# AT: the evaluation time in ms (a range's end with --range-days).
# Example (7-day panels on the small scale's kept data):
#
#   benches/peers/ab-server.sh /tmp/nines.old target/release/nines /tmp/pks/nines \
#       1770102423814 3 -- --range-days 7 --runs 2000 \
#       'sum by (service) (rate(http_requests_total[5m]))'
#
# Port 9090 must be free: the servers listen on their defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 6 ]; then
    sed -n '2,18p' "$0" >&2
    exit 2
fi
old=$1 new=$2 data=$3 at=$4
shift 4
rounds=3
if [ "$1" != "--" ]; then
    rounds=$1
    shift
fi
[ "$1" = "--" ] || { echo "ab-server.sh: expected -- before the probe's arguments" >&2; exit 2; }
shift
cargo build --release --locked -p nines-benches --example latency_probe >&2
probe=target/release/examples/latency_probe
if ss -ltn | grep -q '127.0.0.1:9090 '; then
    echo "ab-server.sh: something listens on 127.0.0.1:9090 already" >&2
    exit 1
fi
cpu() { awk '{print $14, $15}' "/proc/$1/stat"; }
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true' EXIT
for ((i = 1; i <= rounds; i++)); do
    for which in old new; do
        bin=$old
        [ "$which" = new ] && bin=$new
        "$bin" serve --data-dir "$data" >"/tmp/ab-server.$which.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do
            curl -sf -o /dev/null http://127.0.0.1:9090/-/ready && break
            sleep 0.2
        done
        read -r u1 s1 < <(cpu "$pid")
        out=$("$probe" --at "$at" "$@")
        read -r u2 s2 < <(cpu "$pid")
        # the probe's requests: its timed runs and 20 untimed per query
        n=$(grep -oE '\([0-9]+ runs' <<<"$out" | grep -oE '[0-9]+' | sed 's/$/+20/' | paste -sd+ | bc)
        tick=$(getconf CLK_TCK)
        echo "$which: $(grep -oE 'median [0-9]+ us' <<<"$out" | paste -sd' ') | server user $(((u2 - u1) * 1000000 / tick / n)) us, system $(((s2 - s1) * 1000000 / tick / n)) us per request"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        pid=""
    done
done
