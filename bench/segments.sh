#!/usr/bin/env bash
# Scale-out: VUS WebSocket VUs (default 100,000) run as SEGMENTS `loadplan run --segment
# I/N` processes (default 6) against as many `loadplan mock` processes, all on 127.0.0.1,
# started together through a `--barrier dir:`, then merged with `loadplan merge`.
#
# One process may open 20,000 files here, so neither one loadplan nor one mock can hold
# 100,000 sockets: segment I's VUs are the global VUs v with ((v − 1) mod N) + 1 = I, and
# the plan sends VU v to mock ((v − 1) mod N) + 1 (its URL is a template of `vu`), so each
# segment talks to its own mock and every mock holds one segment's connections. The plan
# text and selection are the same in every segment (one plan hash), as merge requires.
#
# Each VU connects (timeout 60 s) and then sleeps; the stage ramps to VUS over RAMP s and
# holds HOLD s. Sampled every second: every process's RSS and every mock's open WebSockets.
# Printed: the mocks' total open connections at the hold (bar: all VUS), RSS per VU of each
# segment process at the hold, the merged ws_connect_time p50/p95/p99 and its count, the
# merge's wall time, and the segments' own VU maxima.
#
# Usage: bench/segments.sh                      (VUS=100000 SEGMENTS=6 RAMP=60 HOLD=30)
#        LOADPLAN=/path/to/loadplan VUS=12000 SEGMENTS=3 RAMP=10 HOLD=5 bench/segments.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VUS=${VUS:-100000}
SEGMENTS=${SEGMENTS:-6}
RAMP=${RAMP:-60}
HOLD=${HOLD:-30}
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }

run=$(mktemp -d /tmp/segments.XXXXXX)
base=$(( 20000 + RANDOM % 20000 ))
mocks=()
segments=()
cleanup() {
    for pid in "${segments[@]}" "${mocks[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${segments[@]}" "${mocks[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "kept $run" >&2 || rm -rf "$run"
}
trap cleanup EXIT

for i in $(seq 0 $((SEGMENTS - 1))); do
    "$LOADPLAN" mock --port $((base + i)) >"$run/mock.$i.out" 2>&1 &
    mocks+=($!)
done
for i in $(seq 0 $((SEGMENTS - 1))); do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((base + i))/stats" >/dev/null && break; sleep 0.1; done
done
ws_open() { curl -sf --max-time 2 "http://127.0.0.1:$1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ws_connections_open"])' 2>/dev/null || echo 0; }

cat > "$run/plan.yaml" <<PLAN
name: segments-${VUS}
stages:
  hold:
    ramp: [ { to: $VUS, over: ${RAMP}s }, { hold: ${HOLD}s } ]
    graceful_stop: 1s
scenarios:
  idle:
    steps:
      - connect: { url: "ws://127.0.0.1:{{ $base + (vu - 1) % $SEGMENTS }}/ws", timeout: 60s }
      - sleep: 1h
PLAN

echo "segments: $VUS WebSocket VUs as $SEGMENTS segments against $SEGMENTS mocks (ports $base…), ramp ${RAMP}s, hold ${HOLD}s; loadplan=$LOADPLAN" >&2
mkdir -p "$run/barrier"
for i in $(seq 1 "$SEGMENTS"); do
    timeout -k 5 $((RAMP + HOLD + 180)) "$LOADPLAN" run "$run/plan.yaml" --quiet \
        --segment "$i/$SEGMENTS" --barrier "dir:$run/barrier" --barrier-timeout 2m \
        --out "json=$run/segment-$i.json" >"$run/seg.$i.out" 2>"$run/seg.$i.err" &
    segments+=($!)
done

# sample: t, then per segment its RSS (KiB), then per mock its open WebSockets
t0=$(date +%s.%N)
: > "$run/samples"
while :; do
    alive=0
    for pid in "${segments[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    line=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    for pid in "${segments[@]}"; do
        child=$(pgrep -P "$pid" | head -n 1 || true)
        rss=$( [ -n "$child" ] && awk '/^VmRSS/ {print $2}' "/proc/$child/status" 2>/dev/null || echo 0)
        line="$line ${rss:-0}"
    done
    for i in $(seq 0 $((SEGMENTS - 1))); do line="$line $(ws_open $((base + i)))"; done
    echo "$line" >> "$run/samples"
    sleep 1
done
for i in "${!segments[@]}"; do
    code=0; wait "${segments[$i]}" || code=$?
    echo "segment $((i + 1)) exit code $code" >> "$run/rc.txt"
done
segments=()

start=$(date +%s.%N)
code=0
"$LOADPLAN" merge "$run"/segment-*.json --plan "$run/plan.yaml" --quiet \
    --out "json=$run/merged.json" >"$run/merge.out" 2>"$run/merge.err" || code=$?
merge_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
echo "merge exit code $code in ${merge_s} s" >> "$run/rc.txt"
cat "$run/merge.err" >&2

python3 - "$run" "$VUS" "$SEGMENTS" <<'PY'
import json, os, sys, statistics as st
run, vus, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(open(f"{run}/rc.txt").read().strip())
rows = [list(map(float, l.split())) for l in open(f"{run}/samples") if len(l.split()) == 1 + 2 * n]
if not rows:
    sys.exit("no samples")
open_total = [sum(r[1 + n:]) for r in rows]
peak = max(open_total)
print(f"\n{vus} VUs over {n} segments: the mocks' open WebSockets, summed: peak {int(peak)} "
      f"({'all connected' if peak >= vus else f'{vus - int(peak)} missing'})")
full = [r for r, o in zip(rows, open_total) if o >= vus]
at_hold = full or [rows[open_total.index(peak)]]
for i in range(n):
    rss = st.median(r[1 + i] for r in at_hold)
    share = vus // n + (1 if i < vus % n else 0)
    print(f"  segment {i + 1}: {share} VUs, RSS at the hold {rss / 1024:.1f} MiB = {rss / share:.2f} KiB per VU")
for i in range(n):
    try:
        doc = json.load(open(f"{run}/segment-{i + 1}.json"))
        seg = doc.get("segment", {})
        print(f"  segment {i + 1}: vus_max {doc.get('vus_max')}, start {seg.get('start')}, errors {doc.get('errors')}")
    except Exception as e:
        print(f"  segment {i + 1}: no results ({e!r})")
try:
    merged = json.load(open(f"{run}/merged.json"))
    m = {x["metric"]: x for x in merged["metrics"]}
    t = m.get("ws_connect_time", {}).get("trend", {})
    print(f"\nmerged: vus_max {merged.get('vus_max')}, ws_connect_time count {m.get('ws_connect_time', {}).get('count')} "
          f"med {t.get('med')} ms, p95 {t.get('p95')} ms, p99 {t.get('p99')} ms; errors {merged.get('errors')}")
except Exception as e:
    print(f"\nno merged results ({e!r})")
PY
