#!/usr/bin/env bash
# Peer figure for bench/data_feeder.sh: what Artillery 2 spends holding a ROWS-row CSV
# `payload` (the same CSV data_feeder.sh generates: awk srand(16), header `id,token`,
# `user-%06d`, a 90-char lowercase token, ~100 bytes a row) while VUS virtual users do
# HTTP load against one `loadplan mock`, compared with the same script without the payload.
#
# Each virtual user arrives within RAMP seconds (arrivalCount VUS), then loops LOOPS times
# over GET /u/{{ id }}?t={{ token }} and a THINK-second think. The "without" script sends
# a fixed URL of the same length instead of the payload fields. Each variant runs REPEAT
# times under `/usr/bin/time -v timeout -k 5 TIMEOUT artillery run`. Printed per run:
#   - max RSS of the largest single process (/usr/bin/time "Maximum resident set size")
#   - peak of the summed RSS of the whole process tree under time (VmRSS from /proc,
#     sampled every 200 ms; Artillery 2 runs its VUs in worker threads of one process,
#     but any forked worker process would be summed here)
#   - http.requests / http.responses / vusers.completed from Artillery's JSON report,
#     the mock's request count delta (/stats), and wall time.
#
# Needs: artillery (npm install -g artillery@2), node, curl, python3, /usr/bin/time, a built
# target/release/loadplan (or LOADPLAN=...).
# Usage: bench/peer_artillery_payload.sh
#        ROWS=100000 VUS=1000 LOOPS=200 THINK=0.1 REPEAT=2 bench/peer_artillery_payload.sh
#        KEEP=1 ... keeps the run directory (scripts, reports, logs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
VUS=${VUS:-1000}
RAMP=${RAMP:-5}
LOOPS=${LOOPS:-200}
THINK=${THINK:-0.1}
REPEAT=${REPEAT:-2}
TIMEOUT=${TIMEOUT:-120}
LOADPLAN=${LOADPLAN:-$PWD/target/release/loadplan}
ARTILLERY=${ARTILLERY:-$(command -v artillery || true)}
export ARTILLERY_DISABLE_TELEMETRY=true
ulimit -n 8192
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN" >&2; exit 1; }
[ -n "$ARTILLERY" ] || { echo "artillery not on PATH (npm install -g artillery@2)" >&2; exit 1; }

run=$(mktemp -d /tmp/peer_artillery.XXXXXX)
mock=""
cleanup() {
    [ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $run" >&2 || rm -rf "$run"
}
trap cleanup EXIT

"$LOADPLAN" mock --port 0 --body-size 16 >"$run/mock.out" 2>&1 &
mock=$!
port=""
for _ in $(seq 100); do
    port=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$run/mock.out" 2>/dev/null | head -1 | sed 's/.*://' || true)
    [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break
    sleep 0.1
done
[ -n "$port" ] || { echo "mock did not start" >&2; cat "$run/mock.out" >&2; exit 1; }
mock_count() { curl -sf "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["http_requests_total"])'; }

# ~100 bytes a row: an id and a 90-character token (the same rows in both scripts).
bench/gen_users_csv.sh "$ROWS" >"$run/users.csv"

script() {  # $1: with or without
    local payload="" url
    if [ "$1" = with ]; then
        payload="  payload: { path: users.csv, fields: [id, token], skipHeader: true, order: sequence }"
        url="/u/{{ id }}?t={{ token }}"
    else
        # a fixed URL of the same length as a payload row's
        url="/u/user-000001?t=$(printf 'a%.0s' $(seq 90))"
    fi
    cat <<YML
config:
  target: "http://127.0.0.1:$port"
  phases:
    - { duration: $RAMP, arrivalCount: $VUS }
$payload
scenarios:
  - flow:
      - loop:
          - get: { url: "$url" }
          - think: $THINK
        count: $LOOPS
YML
}

tree_rss_kib() {  # summed VmRSS of $1 and all its descendants
    ps -e -o pid=,ppid=,rss= | awk -v root="$1" '
        { parent[$1] = $2; rss[$1] = $3 }
        END { for (p in parent) { q = p; while (q != "" && q != 0 && q != root) q = parent[q];
                                  if (q == root) s += rss[p] }
              print s + 0 }'
}

measure() {  # $1: with or without, $2: run number
    local name="$1-$2" pid peak=0 s before after t0 t1
    script "$1" >"$run/$1.yml"
    before=$(mock_count)
    t0=$(date +%s.%N)
    (cd "$run" && exec /usr/bin/time -v -o "$run/$name.time" timeout -k 5 "$TIMEOUT" \
        "$ARTILLERY" run --quiet --output "$run/$name.json" "$run/$1.yml") >"$run/$name.out" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        s=$(tree_rss_kib "$pid")
        [ "$s" -gt "$peak" ] && peak=$s
        sleep 0.2
    done
    wait "$pid" || echo "run $name exited non-zero (see $run/$name.out)" >&2
    t1=$(date +%s.%N)
    after=$(mock_count)
    local maxrss
    maxrss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$run/$name.time")
    python3 - "$run/$name.json" "$name" "$maxrss" "$peak" "$((after - before))" "$t0" "$t1" <<'PY'
import json, sys
path, name, maxrss, tree, mock, t0, t1 = sys.argv[1:]
try:
    c = json.load(open(path))["aggregate"]["counters"]
except Exception as e:
    c = {}
g = lambda k: c.get(k, 0)
print(f"{name:<10} {int(maxrss)/1024:9.1f} {int(tree)/1024:9.1f} {g('http.requests'):>9} {g('http.responses'):>9} "
      f"{g('vusers.completed'):>6} {g('vusers.failed'):>6} {int(mock):>9} {float(t1)-float(t0):7.1f}")
PY
}

csv_mib=$(awk -v b="$(stat -c %s "$run/users.csv")" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "peer_artillery_payload: $("$ARTILLERY" version 2>/dev/null | grep -E '^(Artillery|Node)' | tr -s ' ' | paste -sd' ')" >&2
echo "$ROWS rows ($csv_mib MiB CSV), $VUS VUs over ${RAMP}s, $LOOPS loops x think ${THINK}s, mock port $port" >&2
printf '%-10s %9s %9s %9s %9s %6s %6s %9s %7s\n' run "maxRSS" "treeRSS" requests responses vu_ok vu_err mock_reqs wall_s
printf '%-10s %9s %9s\n' "" "MiB" "MiB"
for i in $(seq "$REPEAT"); do
    measure without "$i"
    measure with "$i"
done
