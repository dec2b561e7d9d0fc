#!/usr/bin/env bash
# Cost of a live `prometheus` output to the load generator: one closed-loop HTTP stage
# against `loadplan mock` (another process), run without the output, with
# `--out prometheus=URL` to a real Prometheus (remote-write receiver, native histograms)
# sending every second, and with the output pointed at a port nothing listens on (every
# request fails and is retried; the final flush gives up after 2 s). Alternated ROUNDS
# times. Prints requests/s and loadplan's CPU per request of each, and the means. Not a
# test. Needs /usr/bin/prometheus (Debian's package).
# Usage: bench/remote_write_overhead.sh [SECONDS] [VUS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
vus=${2:-20}
rounds=${3:-3}
bin=${LOADPLAN:-target/release/loadplan}
prometheus=${PROMETHEUS:-/usr/bin/prometheus}
[ -x "$bin" ] || cargo build --release --quiet

run=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
prom_port=$(free_port)
down_port=$(free_port) # nothing listens there
cleanup() {
    [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null
    [ -n "${prom:-}" ] && kill "$prom" 2>/dev/null && wait "$prom" 2>/dev/null
    rm -rf "$run"
}
trap cleanup EXIT
wait_port() { # port
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}
"$bin" mock --port "$port" >/dev/null &
mock=$!
"$prometheus" --web.enable-remote-write-receiver --enable-feature=native-histograms \
    --storage.tsdb.path="$run/tsdb" --web.listen-address="127.0.0.1:$prom_port" \
    --config.file=/dev/null >"$run/prometheus.log" 2>&1 &
prom=$!
wait_port "$port"
wait_port "$prom_port"

cat >"$run/plan.yaml" <<EOF
name: remote-write-overhead
environments: { bench: { base_url: "http://127.0.0.1:$port" } }
stages: { load: { vus: $vus, duration: ${secs}s } }
scenarios:
  get: { steps: [ { request: { url: "{{ env.base_url }}/x" } } ] }
EOF
cat >"$run/live.yaml" <<EOF
$(cat "$run/plan.yaml")
outputs:
  - prometheus: { url: "http://127.0.0.1:$prom_port/api/v1/write", every: 1s }
EOF
cat >"$run/down.yaml" <<EOF
$(cat "$run/plan.yaml")
outputs:
  - prometheus: { url: "http://127.0.0.1:$down_port/api/v1/write", every: 1s }
EOF

rps() { # plan → requests/s, loadplan's CPU µs per request, wall seconds, samples dropped, requests delivered
    rm -f "$run/out.json" # a results file is never replaced: a second run would write out-2.json
    /usr/bin/time -o "$run/cpu" -f '%U %S %e' "$bin" run "$1" --quiet --out "json=$run/out.json" >/dev/null 2>"$run/stderr"
    python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
reqs = next(m for m in d['metrics'] if m['metric'] == 'http_reqs')
user, system, wall = map(float, open(sys.argv[2]).read().split()[-3:])
dropped = next((s['count'] for s in d['series'] if s['metric'] == 'output_dropped'), 0)
sent = sum(x['requests'] for x in d.get('deliveries', []))
print('%.0f %.2f %.1f %d %d' % (reqs['rate'], (user + system) * 1e6 / reqs['count'], wall, dropped, sent))
" "$run/out.json" "$run/cpu"
}

declare -A rate cpu
for kind in plan live down; do rate[$kind]=""; cpu[$kind]=""; done
for round in $(seq "$rounds"); do
    line="round $round:"
    for kind in plan live down; do
        read -r r c w d s <<<"$(rps "$run/$kind.yaml")"
        rate[$kind]+=" $r"
        cpu[$kind]+=" $c"
        line+=$(printf '  %s %7s req/s %5s µs CPU/req %5ss (%s sent, %s dropped)' "$kind" "$r" "$c" "$w" "$s" "$d")
    done
    echo "$line"
done
mean() { printf '%s\n' $1 | awk '{ s += $1 } END { printf "%.2f", s / NR }'; }
a=$(mean "${rate[plan]}"); ac=$(mean "${cpu[plan]}")
for kind in live down; do
    b=$(mean "${rate[$kind]}"); bc=$(mean "${cpu[$kind]}")
    awk -v k="$kind" -v a="$a" -v b="$b" -v c="$ac" -v d="$bc" 'BEGIN {
        printf "mean: without %d req/s, %.2f µs CPU/req; %s %d req/s (%+.1f%%), %.2f µs CPU/req (%+.1f%%)\n",
            a, c, k, b, (b - a) / a * 100, d, (d - c) / c * 100 }'
done
