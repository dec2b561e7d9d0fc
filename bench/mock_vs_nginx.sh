#!/usr/bin/env bash
# Throughput of `loadplan mock` (fixed mode, 256-byte body) against nginx serving the same
# body, both driven by wrk. Each server is pinned to CPU 1 and wrk to CPU 0, as the peer
# harness does. Not a test. Usage: bench/mock_vs_nginx.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-50}
ulimit -n 20000
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
command -v nginx >/dev/null || { echo "nginx is needed: apt-get install -y nginx-light"; exit 1; }
cargo build --release --quiet

run=$(mktemp -d)
mock_port=$(( 20000 + RANDOM % 20000 ))
cleanup() {
    [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
    [ -f "$run/nginx.pid" ] && kill "$(cat "$run/nginx.pid")" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() { # name url pid
    local name=$1 url=$2 pid=$3
    taskset -c 0 wrk -t1 -c"$conns" -d2s "$url" >/dev/null   # warm-up
    local before; before=$(cpu_ticks "$pid")
    local out; out=$(taskset -c 0 timeout $((secs + 10)) wrk -t1 -c"$conns" -d"${secs}s" --latency "$url")
    local after; after=$(cpu_ticks "$pid")
    local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    local p50; p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    local total; total=$(awk '/requests in/ {print $1}' <<<"$out")
    local hz; hz=$(getconf CLK_TCK)
    local us; us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    printf '%-14s %12s req/s   p50 %8s   server CPU %6s µs/request\n' "$name" "$rps" "$p50" "$us"
    eval "${name//[^a-z]/_}_rps=$rps"
}

taskset -c 1 target/release/loadplan mock --port "$mock_port" --body-size 256 >/dev/null &
mock=$!
mkdir -p "$run/tmp"
taskset -c 1 nginx -p "$run/" -c "$PWD/bench/nginx.conf" -e "$run/nginx-error.log"
sleep 0.5
curl -sf "http://127.0.0.1:$mock_port/" | wc -c | grep -qx 256
curl -sf "http://127.0.0.1:18081/" | wc -c | grep -qx 256

echo "wrk -t1 -c$conns -d${secs}s, 256-byte bodies, server on CPU 1, wrk on CPU 0"
measure "loadplan-mock" "http://127.0.0.1:$mock_port/" "$mock"
measure "nginx" "http://127.0.0.1:18081/" "$(cat "$run/nginx.pid" | xargs pgrep -P | head -n 1)"
awk -v m="$loadplan_mock_rps" -v n="$nginx_rps" 'BEGIN {printf "mock / nginx throughput: %.2f\n", m / n}'
