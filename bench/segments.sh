#!/usr/bin/env bash
# Scale-out: VUS WebSocket VUs (default 100,000) run as SEGMENTS `loadplan run --segment
# I/N` processes (default 6) against MOCKS `loadplan mock` processes (default twice as
# many), all on 127.0.0.1, started together through a `--barrier dir:`, then merged with
# `loadplan merge`.
#
# One process may open 20,000 files here, so neither one loadplan nor one mock can hold
# 100,000 sockets: segment I's VUs are the global VUs v with ((v − 1) mod N) + 1 = I, and
# the plan sends VU v to mock ((v − 1) mod MOCKS) + 1 (its URL is a template of `vu`), so
# each segment talks to its own MOCKS / N mocks. The plan text and selection are the same
# in every segment (one plan hash), as merge requires.
#
# Why two mocks per segment: on loopback every connection to one mock port needs its own
# local port, and Linux's connect() takes ephemeral ports of one parity first (half of
# 32768–60999: 14,116); past them each connect() searches the port table, and the
# handshakes of a 16,667-connection mock slowed to seconds at ~14,100 connections (p95
# ws_connect_time 9.6 s on 2026-12-02, with no SYN retransmitted). Two ports per segment
# keep each under 8,400.
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
MOCKS=${MOCKS:-$((2 * SEGMENTS))}
RAMP=${RAMP:-60}
HOLD=${HOLD:-30}
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }

run=$(mktemp -d /tmp/segments.XXXXXX)
base=$(( 20000 + RANDOM % 12000 ))  # below the ephemeral ports (32768–60999) earlier runs may hold in TIME_WAIT
mocks=()
segments=()
cleanup() {
    for pid in "${segments[@]}" "${mocks[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${segments[@]}" "${mocks[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -n "${KEEP:-}" ] && echo "kept $run" >&2 || rm -rf "$run"
}
trap cleanup EXIT

for i in $(seq 0 $((MOCKS - 1))); do
    "$LOADPLAN" mock --port $((base + i)) >"$run/mock.$i.out" 2>&1 &
    mocks+=($!)
done
for i in $(seq 0 $((MOCKS - 1))); do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((base + i))/stats" >/dev/null && break; sleep 0.1; done
    curl -sf "http://127.0.0.1:$((base + i))/stats" >/dev/null || { echo "mock $i did not start:"; cat "$run/mock.$i.out"; exit 1; }
done
# (grep, not a Python per read: six reads a second on 2 cores would take CPU from the run)
ws_open() { curl -sf --max-time 2 "http://127.0.0.1:$1/stats" | grep -o '"ws_connections_open":[0-9]*' | cut -d: -f2 || echo 0; }

cat > "$run/plan.yaml" <<PLAN
name: segments-${VUS}
stages:
  hold:
    ramp: [ { to: $VUS, over: ${RAMP}s }, { hold: ${HOLD}s } ]
    graceful_stop: 1s
scenarios:
  idle:
    steps:
      - connect: { url: "ws://127.0.0.1:{{ $base + (vu - 1) % $MOCKS }}/ws", timeout: 60s }
      - sleep: 1h
PLAN

echo "segments: $VUS WebSocket VUs as $SEGMENTS segments against $MOCKS mocks (ports $base…), ramp ${RAMP}s, hold ${HOLD}s; loadplan=$LOADPLAN" >&2
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
    for i in $(seq 0 $((MOCKS - 1))); do line="$line $(ws_open $((base + i)))"; done
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

python3 - "$run" "$VUS" "$SEGMENTS" "$MOCKS" <<'PY'
import json, os, sys, statistics as st
run, vus, n, mocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(open(f"{run}/rc.txt").read().strip())
rows = [list(map(float, l.split())) for l in open(f"{run}/samples") if len(l.split()) == 1 + n + mocks]
if not rows:
    sys.exit("no samples")
open_total = [sum(r[1 + n:]) for r in rows]
peak = max(open_total)
print(f"\n{vus} VUs over {n} segments: the mocks' open WebSockets, summed: peak {int(peak)} "
      f"({'all connected' if peak >= vus else f'{vus - int(peak)} missing'})")
full = [r for r, o in zip(rows, open_total) if o >= vus]
at_hold = full or [rows[open_total.index(peak)]]
# each process's RSS before its first connection (waiting at the barrier): its baseline
idle = [r for r, o in zip(rows, open_total) if o == 0]
for i in range(n):
    rss = st.median(r[1 + i] for r in at_hold)
    base = [r[1 + i] for r in idle if r[1 + i] > 0]
    base = st.median(base) if base else 0
    share = vus // n + (1 if i < vus % n else 0)
    print(f"  segment {i + 1}: {share} VUs, RSS at the hold {rss / 1024:.1f} MiB = {rss / share:.2f} KiB per VU; "
          f"above its {base / 1024:.1f} MiB before the first connection: {(rss - base) / share:.2f} KiB per VU")
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
