#!/usr/bin/env bash
# Data feeders' memory: ROWS rows of CSV (id, token; ~100 bytes a row) read once and shared
# by VUS VUs. The same plan runs twice against one `loadplan mock` process for DURATION:
# with the data source (`order: ORDER`, every request's URL and header reading the row)
# and without it (the same request, the VU id in its place). Printed: each run's peak RSS
# (VmHWM of /proc/PID/status, read every 200 ms until the process ends), iterations, and
# the difference: what the rows cost, which must not grow with the VUs (a row handed to a
# VU is a reference count, never a copy).
#
# Usage: bench/data_feeder.sh                    (ROWS=100000 VUS=1000 DURATION=20s ORDER=per_vu)
#        LOADPLAN=/path/to/loadplan VUS=200 DURATION=5s bench/data_feeder.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
VUS=${VUS:-1000}
DURATION=${DURATION:-20s}
ORDER=${ORDER:-per_vu}
ulimit -n 8192

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }

run=$(mktemp -d /tmp/data_feeder.XXXXXX)
port=$(( 20000 + RANDOM % 12000 ))
mock=""
cleanup() {
    [ -n "$mock" ] && kill "$mock" 2>/dev/null && wait "$mock" 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $run" >&2 || rm -rf "$run"
}
trap cleanup EXIT

"$LOADPLAN" mock --port "$port" --body-size 16 >"$run/mock.out" 2>&1 &
mock=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done

# ~100 bytes a row: an id and a 90-character token (the same rows in both scripts).
bench/gen_users_csv.sh "$ROWS" >"$run/users.csv"

plan() {  # $1: with or without
    if [ "$1" = with ]; then
        data="data: { users: { csv: users.csv, order: $ORDER } }"
        id="{{ data.users.id }}"; token="{{ data.users.token }}"
    else
        data=""; id="user-{{ vu }}"; token="t{{ vu }}"
    fi
    cat <<PLAN
name: data-feeder-$1
stages: { main: { vus: $VUS, duration: $DURATION, graceful_stop: 2s } }
environments: { local: { base_url: "http://127.0.0.1:$port" } }
$data
scenarios:
  login:
    steps:
      - request: { url: "{{ env.base_url }}/login?user=$id", headers: { X-Token: "$token" } }
      - sleep: 100ms
PLAN
}

measure() {  # $1: with or without; prints "peak_kib iterations"
    plan "$1" >"$run/$1.yaml"
    "$LOADPLAN" run "$run/$1.yaml" --quiet --out "json=$run/$1.json" >"$run/$1.out" 2>&1 &
    local pid=$! peak=0 hwm
    while kill -0 "$pid" 2>/dev/null; do
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ] && peak=$hwm
        sleep 0.2
    done
    wait "$pid" || { echo "run $1 failed:"; cat "$run/$1.out"; exit 1; }
    local iterations
    iterations=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(next(m['count'] for m in d['metrics'] if m['metric']=='iterations'))" "$run/$1.json")
    echo "$peak $iterations"
}

csv_mib=$(awk -v b="$(stat -c %s "$run/users.csv")" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "data_feeder: $ROWS rows ($csv_mib MiB of CSV), $VUS VUs, $DURATION, order $ORDER; loadplan=$LOADPLAN" >&2
read -r without_kib without_iter < <(measure without)
read -r with_kib with_iter < <(measure with)
printf '%-22s %12s %12s\n' "" "peak RSS" "iterations"
printf '%-22s %9.1f MiB %12s\n' "without data" "$(echo "$without_kib / 1024" | bc -l)" "$without_iter"
printf '%-22s %9.1f MiB %12s\n' "with $ROWS rows" "$(echo "$with_kib / 1024" | bc -l)" "$with_iter"
printf '%-22s %9.1f MiB  (%.0f bytes a row)\n' "difference" "$(echo "($with_kib - $without_kib) / 1024" | bc -l)" \
    "$(echo "($with_kib - $without_kib) * 1024 / $ROWS" | bc -l)"
