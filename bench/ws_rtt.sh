#!/usr/bin/env bash
# WebSocket CPU: CPU time per ping/pong round trip of loadplan and of Artillery's ws
# engine, side by side against the same `loadplan mock` (a separate process, pinned to
# CPU 1; the tool is pinned to CPU 0). VUS connections, each in a tight loop: send
# {"type":"ping","id":…}, wait for the matching {"type":"pong","id":…}, repeat — for SECS
# seconds. The tools alternate within each repetition (the order rotates).
#
#   loadplan:  connect, then repeat { for } [ send {type: ping, id: uuid()} as ping;
#              expect {type: pong, id: ping.id} ]
#   Artillery: 50 VUs arrive within 1 s; each loops send {type: ping, id: $loopCount}
#              with match $.type == pong, until SECS after the first VU started (the same
#              closed loop as /work/shared/peers/scenarios/artillery-ws.yml)
#
# CPU µs/round trip = user+sys CPU of the tool's whole process tree (start-up and exit
# included) × 10⁶ / round trips, where round trips = pongs the mock sent during the run
# (its mock_ws_messages_out_total counter); the tool's own count is shown beside it.
# Bar: loadplan ≤ 1/5 of Artillery's CPU per round trip (Artillery 39.4 µs on this machine).
#
# Usage: bench/ws_rtt.sh                    (REPS=3 SECS=15 VUS=50)
#        LOADPLAN=/path/to/loadplan REPS=5 bench/ws_rtt.sh
#        TOOLS=loadplan bench/ws_rtt.sh     (Artillery is skipped when not installed)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
SECS=${SECS:-15}
VUS=${VUS:-50}
TOOL_CPU=${TOOL_CPU:-0}
TARGET_CPU=${TARGET_CPU:-1}
TOOLS=${TOOLS:-loadplan artillery}
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }
tools=()
for t in $TOOLS; do
    if [ "$t" = loadplan ] || command -v "$t" >/dev/null; then tools+=("$t"); else echo "skipping $t: not installed"; fi
done

run=$(mktemp -d /tmp/ws_rtt.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
mock=""
cleanup() {
    [ -n "$mock" ] && { kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null; } || true
    rm -rf "$run"
}
trap cleanup EXIT
taskset -c "$TARGET_CPU" "$LOADPLAN" mock --port "$port" >"$run/mock.out" 2>&1 &
mock=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
metric() { curl -sf --max-time 2 "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

cat > "$run/plan.yaml" <<PLAN
name: ws-rtt
environments: { mock: { ws_url: "ws://127.0.0.1:$port/ws" } }
stages: { load: { vus: $VUS, duration: ${SECS}s, graceful_stop: 2s } }
scenarios:
  pingpong:
    steps:
      - connect: "{{ env.ws_url }}"
      - repeat: { for: ${SECS}s }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 5s }
PLAN

cat > "$run/processor.js" <<'JS'
'use strict';
const loopMs = Number(process.env.LOOP_SECONDS || 15) * 1000;
let deadline = 0;
function untilDeadline(context, next) {
  if (deadline === 0) deadline = Date.now() + loopMs;
  return next(Date.now() < deadline);
}
function startClock(context, events, done) {
  if (deadline === 0) deadline = Date.now() + loopMs;
  return done();
}
module.exports = { untilDeadline, startClock };
JS
cat > "$run/artillery.yml" <<YML
config:
  target: "ws://127.0.0.1:$port/ws"
  processor: "./processor.js"
  phases:
    - duration: 1
      arrivalCount: $VUS
  ws:
    perMessageDeflate: false
scenarios:
  - name: pingpong
    engine: ws
    flow:
      - function: startClock
      - loop:
          - send:
              payload:
                type: "ping"
                id: "{{ \$loopCount }}"
              match:
                json: "\$.type"
                value: "pong"
        whileTrue: untilDeadline
YML

busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
mock_ticks() { awk '{print $14 + $15}' "/proc/$mock/stat"; }
hz=$(getconf CLK_TCK)

run_tool() { # tool rep
    local tool=$1 label="$1.$2" b0 b1 m0 m1 o0 o1 own
    for _ in $(seq 50); do [ "$(metric mock_ws_connections_open)" = 0 ] && break; sleep 0.2; done
    b0=$(busy_jiffies); m0=$(mock_ticks); o0=$(metric mock_ws_messages_out_total)
    case $tool in
        loadplan)
            taskset -c "$TOOL_CPU" /usr/bin/time -f "%U %S %e %M" -o "$run/$label.time" timeout -k 5 $((SECS + 40)) \
                "$LOADPLAN" run "$run/plan.yaml" --quiet --out "json=$run/$label.json" >"$run/$label.out" 2>&1 &
            local tp=$! lpid=""
            # RSS of loadplan once a second (MiB), to tell a bounded backlog from growth
            while kill -0 "$tp" 2>/dev/null; do
                [ -z "$lpid" ] && lpid=$(pgrep -x loadplan -P "$(pgrep -P "$tp" | head -n 1)" 2>/dev/null | head -n 1 || true)
                [ -n "$lpid" ] && awk '/^VmRSS/ {printf "%d ", $2 / 1024}' "/proc/$lpid/status" 2>/dev/null >> "$run/$label.rss"
                sleep 1
            done
            wait "$tp" || true
            own=$(python3 -c "import json,sys; m={x['metric']: x for x in json.load(open(sys.argv[1]))['metrics']}; print(m['ws_message_latency']['count'], m['ws_message_latency']['trend']['med'])" "$run/$label.json" 2>/dev/null || echo "0 nan")
            ;;
        artillery)
            (cd "$run" && LOOP_SECONDS=$SECS taskset -c "$TOOL_CPU" /usr/bin/time -f "%U %S %e %M" -o "$run/$label.time" \
                timeout -k 5 $((SECS + 60)) artillery run --output "$run/$label.json" "$run/artillery.yml" >"$run/$label.out" 2>&1) || true
            own=$(python3 -c "import json,sys; a=json.load(open(sys.argv[1]))['aggregate']; print(a['counters'].get('websocket.messages_received', 0), 'nan')" "$run/$label.json" 2>/dev/null || echo "0 nan")
            ;;
    esac
    b1=$(busy_jiffies); m1=$(mock_ticks); o1=$(metric mock_ws_messages_out_total)
    awk -v l="$label" -v b=$((b1 - b0)) -v m=$((m1 - m0)) -v hz="$hz" -v rt=$((o1 - o0)) -v own="$own" \
        '{cpu = $1 + $2; printf "%s %.3f %.3f %.3f %d %d %s %.3f\n", l, cpu, $3, b / hz - cpu - m / hz, $4, rt, own, m / hz}' \
        "$run/$label.time" | tee -a "$run/cpu.txt" | awk '{print "  " $1 ": cpu " $2 " s, wall " $3 " s, other " $4 " s, round trips " $6}' >&2
}

echo "WS round trips: ${#tools[@]} tools × $REPS reps, ${SECS}s, $VUS VUs, tool on CPU $TOOL_CPU," \
     "loadplan mock on CPU $TARGET_CPU (port $port), loadplan=$LOADPLAN" >&2
for ((r = 1; r <= REPS; r++)); do
    n=${#tools[@]}
    for ((i = 0; i < n; i++)); do
        run_tool "${tools[$(((i + r - 1) % n))]}" "$r"
    done
done

python3 - "$run" "${tools[@]}" <<'PY'
import sys, statistics as st
run, tools = sys.argv[1], sys.argv[2:]
rows = [l.split() for l in open(f"{run}/cpu.txt")]
print(f"\n{'tool':<10} {'rep':>3} {'round trips':>11} {'(own count)':>11} {'rt/s':>7} {'CPU s':>7} {'µs/rt':>7} {'p50 ms':>7} {'RSS MiB':>8} {'mock CPU s':>10} {'other CPU s':>11}")
med = {}
for t in tools:
    us = []
    for r in sorted((r for r in rows if r[0].split(".")[0] == t), key=lambda r: r[0]):
        label, cpu, wall, other, rss, rt, own, p50, mcpu = r
        cpu, wall, rt = float(cpu), float(wall), int(rt)
        u = cpu * 1e6 / rt if rt else float("nan")
        if rt: us.append(u)
        print(f"{t:<10} {label.split('.')[1]:>3} {rt:>11} {own:>11} {rt / wall:>7.0f} {cpu:>7.2f} {u:>7.2f} {p50:>7} {int(rss) / 1024:>8.1f} {float(mcpu):>10.2f} {float(other):>11.2f}")
    med[t] = st.median(us) if us else float("nan")
import glob, os
for f in sorted(glob.glob(f"{run}/loadplan.*.rss")):
    print(f"loadplan RSS MiB, once a second, rep {f.split('.')[-2]}: {open(f).read().strip()}")
print("\nmedian CPU µs/round trip:  " + "   ".join(f"{t} {med[t]:.2f}" for t in tools))
if "loadplan" in med and "artillery" in med:
    r = med["loadplan"] / med["artillery"]
    print(f"loadplan / artillery = {r:.3f}  (bar ≤ 0.200)  {'PASS' if r <= 0.2 else 'FAIL'}")
print("round trips = pongs the mock sent during the run; 'own count' = loadplan's ws_message_latency count / "
      "Artillery's websocket.messages_received. 'other CPU s' = CPU of other processes during the run.")
PY
