#!/usr/bin/env bash
# Cost of `collect:` sampling to the load generator: one closed-loop HTTP stage against
# `loadplan mock` (another process), run without collectors and with four sources sampled
# every second (Prometheus /metrics, JSON /stats, the mock's /proc, a command), alternated
# ROUNDS times. Prints requests/s of each run and the means. Not a test.
# Usage: bench/collect_overhead.sh [SECONDS] [VUS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
vus=${2:-20}
rounds=${3:-3}
bin=${LOADPLAN:-target/release/loadplan}
[ -x "$bin" ] || cargo build --release --quiet

run=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 ))
cleanup() {
    [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT
"$bin" mock --port "$port" >/dev/null &
mock=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

plan() { # file collect-block
    cat >"$1" <<EOF
name: collect-overhead
environments: { bench: { base_url: "http://127.0.0.1:$port" } }
stages: { load: { vus: $vus, duration: ${secs}s } }
scenarios:
  get: { steps: [ { request: { url: "{{ env.base_url }}/x" } } ] }
$2
EOF
}
plan "$run/none.yaml" ""
plan "$run/collect.yaml" "collect:
  - prometheus: { name: prom, url: \"{{ env.base_url }}/metrics\", every: 1s }
  - json: { name: stats, url: \"{{ env.base_url }}/stats\", every: 1s, kind: counter, fields: { reqs: /http_requests_total } }
  - process: { name: mock, pid: $mock, every: 1s }
  - command: { name: host, run: \"awk '{ print \\\"load1\\\", \$1 }' /proc/loadavg\", parse: prometheus, every: 1s }"

rps() { # plan → requests/s, loadplan's CPU µs per request, server metrics
    rm -f "$run/out.json" # a results file is never replaced: a second run would write out-2.json
    /usr/bin/time -o "$run/cpu" -f '%U %S' "$bin" run "$1" --quiet --out "json=$run/out.json" >/dev/null
    python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
reqs = next(m for m in d['metrics'] if m['metric'] == 'http_reqs')
user, system = map(float, open(sys.argv[2]).read().split()[-2:])
print('%.0f %.2f %d' % (reqs['rate'], (user + system) * 1e6 / reqs['count'], len(d.get('server', {}))))
" "$run/out.json" "$run/cpu"
}

none=()
with=()
none_cpu=()
with_cpu=()
for round in $(seq "$rounds"); do
    read -r a ac _ <<<"$(rps "$run/none.yaml")"
    read -r b bc n <<<"$(rps "$run/collect.yaml")"
    none+=("$a")
    with+=("$b")
    none_cpu+=("$ac")
    with_cpu+=("$bc")
    printf 'round %d: without %7s req/s %6s µs CPU/req   with %7s req/s %6s µs CPU/req (%d server metrics)\n' \
        "$round" "$a" "$ac" "$b" "$bc" "$n"
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
awk -v a="$(mean "${none[@]}")" -v b="$(mean "${with[@]}")" \
    -v c="$(mean "${none_cpu[@]}")" -v d="$(mean "${with_cpu[@]}")" 'BEGIN {
    printf "mean: without %d req/s, %.2f µs CPU/req; with %d req/s (%+.1f%%), %.2f µs CPU/req (%+.1f%%)\n",
        a, c, b, (b - a) / a * 100, d, (d - c) / c * 100 }'
