#!/usr/bin/env bash
# CPU time per HTTP request of `loadplan run` against wrk's, both driving the same nginx
# (256-byte body, keep-alive, 50 connections/VUs). The load generator is pinned to CPU 0,
# nginx to CPU 1, as the peer harness does. Not a test.
# Usage: bench/run_vs_wrk.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-50}
ulimit -n 20000
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
command -v nginx >/dev/null || { echo "nginx is needed: apt-get install -y nginx-light"; exit 1; }
cargo build --release --quiet
run=$(mktemp -d)
cleanup() {
    [ -f "$run/nginx.pid" ] && kill "$(cat "$run/nginx.pid")" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$run/tmp"
taskset -c 1 nginx -p "$run/" -c "$PWD/bench/nginx.conf" -e "$run/nginx-error.log"
sleep 0.3

cat > "$run/plan.yaml" <<PLAN
name: http-efficiency
environments: { nginx: { base_url: "http://127.0.0.1:18081" } }
stages: { load: { vus: $conns, duration: ${secs}s } }
scenarios:
  get: { steps: [ { request: { url: "{{ env.base_url }}/" } } ] }
PLAN

cpu() { # command... ; prints "cpu_seconds"
    /usr/bin/time -f "%U %S" -o "$run/time" "$@" >/dev/null 2>"$run/err" || true
    awk '{printf "%.3f", $1 + $2}' "$run/time"
}

wrk_out="$run/wrk.txt"
wrk_cpu=$(cpu sh -c "taskset -c 0 wrk -t1 -c$conns -d${secs}s http://127.0.0.1:18081/ > $wrk_out")
wrk_reqs=$(awk '/requests in/ {print $1}' "$wrk_out")
lp_cpu=$(cpu taskset -c 0 target/release/loadplan run "$run/plan.yaml" --quiet --out "json=$run/results.json")
lp_reqs=$(python3 -c "import json,sys; m=[x for x in json.load(open('$run/results.json'))['metrics'] if x['metric']=='http_reqs']; print(m[0]['count'])")
lp_p50=$(python3 -c "import json; m=[x for x in json.load(open('$run/results.json'))['metrics'] if x['metric']=='http_req_duration']; print(m[0]['trend']['med'])")

printf '%-10s %10s requests %8s CPU s %8s µs/request\n' wrk "$wrk_reqs" "$wrk_cpu" "$(awk -v c="$wrk_cpu" -v n="$wrk_reqs" 'BEGIN {printf "%.2f", c * 1e6 / n}')"
printf '%-10s %10s requests %8s CPU s %8s µs/request  (p50 %s ms)\n' loadplan "$lp_reqs" "$lp_cpu" "$(awk -v c="$lp_cpu" -v n="$lp_reqs" 'BEGIN {printf "%.2f", c * 1e6 / n}')" "$lp_p50"
awk -v a="$lp_cpu" -v n="$lp_reqs" -v b="$wrk_cpu" -v m="$wrk_reqs" 'BEGIN {printf "loadplan / wrk CPU per request: %.2f\n", (a / n) / (b / m)}'
