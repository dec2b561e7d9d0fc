#!/usr/bin/env bash
# Soak: VUS WebSocket VUs (default 10,000) doing ping/pong for HOLD seconds (default 300)
# against a `loadplan mock` in a separate process; loadplan's RSS sampled every second.
#
# Each VU connects, then loops: send {"type":"ping","id":uuid()}, expect the matching pong
# (within 10 s), sleep EVERY. The stage ramps to VUS over RAMP s, then holds HOLD s.
#
#   growth = (median RSS over the last 30 s − median RSS over the 30 s after warm-up)
#            / the latter, warm-up being the ramp and the first WARM s of the hold
# Bar: growth < 5 %. Also printed: round trips (the mock's pongs) per second, loadplan's
# CPU, its own message count and errors, and the RSS per VU at the hold.
#
# Usage: bench/soak.sh                          (VUS=10000 RAMP=30 HOLD=300 WARM=60 EVERY=1s)
#        LOADPLAN=/path/to/loadplan VUS=2000 HOLD=60 WARM=15 bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VUS=${VUS:-10000}
RAMP=${RAMP:-30}
HOLD=${HOLD:-300}
WARM=${WARM:-60}
EVERY=${EVERY:-1s}
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }

run=$(mktemp -d /tmp/soak.XXXXXX)
port=$(( 20000 + RANDOM % 12000 ))  # below the ephemeral ports (32768–60999) earlier runs may hold in TIME_WAIT
mock=""
lp=""
cleanup() {
    [ -n "$lp" ] && kill "$lp" 2>/dev/null || true
    [ -n "$mock" ] && { kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null; } || true
    [ -n "${KEEP:-}" ] && echo "kept $run" >&2 || rm -rf "$run"
}
trap cleanup EXIT
"$LOADPLAN" mock --port "$port" >"$run/mock.out" 2>&1 &
mock=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/stats" >/dev/null && break; sleep 0.1; done
stats() { curl -sf --max-time 2 "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["ws_connections_open"], s.get("ws_messages_out_total", 0))' 2>/dev/null || echo "0 0"; }

cat > "$run/plan.yaml" <<PLAN
name: soak-${VUS}
stages:
  soak:
    ramp: [ { to: $VUS, over: ${RAMP}s }, { hold: ${HOLD}s } ]
    graceful_stop: 2s
scenarios:
  pingpong:
    steps:
      - connect: { url: "ws://127.0.0.1:$port/ws", timeout: 60s }
      - repeat: { for: $((RAMP + HOLD + 60))s }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 10s }
          - sleep: $EVERY
PLAN

echo "soak: $VUS VUs ping/pong every $EVERY, ramp ${RAMP}s, hold ${HOLD}s, against loadplan mock on port $port; loadplan=$LOADPLAN" >&2
t0=$(date +%s.%N)
timeout -k 5 $((RAMP + HOLD + 120)) "$LOADPLAN" run "$run/plan.yaml" --quiet \
    --out "json=$run/result.json" >"$run/lp.out" 2>"$run/lp.err" &
lp=$!
: > "$run/samples"
while kill -0 "$lp" 2>/dev/null; do
    pid=$(pgrep -P "$lp" | head -n 1 || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
        t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        echo "$t ${rss:-0} $cpu $(stats)" >> "$run/samples"
    fi
    sleep 1
done
code=0; wait "$lp" || code=$?
lp=""
echo "loadplan exit code $code" >&2

python3 - "$run" "$VUS" "$RAMP" "$HOLD" "$WARM" <<'PY'
import json, sys, statistics as st, os
run, vus, ramp, hold, warm = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
rows = [list(map(float, l.split())) for l in open(f"{run}/samples") if len(l.split()) == 5]
tick = os.sysconf("SC_CLK_TCK")
full = [r for r in rows if r[3] >= 0.99 * vus]
if not full:
    sys.exit(f"the mock never held 99 % of {vus} connections; peak {max(r[3] for r in rows)}")
t_full = full[0][0]
after = [r for r in full if t_full + warm <= r[0] <= t_full + warm + 30]
last_t = full[-1][0]
last = [r for r in full if r[0] >= last_t - 30]
a, b = st.median(r[1] for r in after), st.median(r[1] for r in last)
growth = (b - a) / a * 100
span = last[-1][0] - after[0][0]
pongs = (last[-1][4] - after[0][4]) / span if span > 0 else float("nan")
cpu = (last[-1][2] - after[0][2]) / tick / span if span > 0 else float("nan")
print(f"\nsoak: {vus} VUs, all connected at {t_full:.0f} s; samples {len(rows)}")
print(f"  RSS 30 s after warm-up ({warm:.0f} s) {a / 1024:.1f} MiB = {a / vus:.2f} KiB per VU; last 30 s {b / 1024:.1f} MiB")
print(f"  growth {growth:+.2f} %   bar < 5 %  {'PASS' if growth < 5 else 'FAIL'}")
print(f"  round trips (mock pongs) {pongs:.0f}/s; loadplan CPU {cpu * 100:.0f} % of a core over the hold")
try:
    doc = json.load(open(f"{run}/result.json"))
    m = {x["metric"]: x for x in doc["metrics"]}
    lat = m.get("ws_message_latency", {}).get("trend", {})
    print(f"  loadplan: vus_max {doc.get('vus_max')}, errors {doc.get('errors')}, "
          f"ws_message_latency med {lat.get('med')} ms p95 {lat.get('p95')} ms p99 {lat.get('p99')} ms")
except Exception as e:
    print(f"  no results ({e!r})")
PY
