#!/usr/bin/env bash
# Accuracy of loadplan's measurements, against `loadplan mock` in a separate process.
#
# (a) Latency: VUS VUs (default 10) in a closed loop on GET /?delay=20 (the mock answers
#     after 20 ms) for SECS seconds; loadplan's http_req_duration p50 (from --out json,
#     `metrics`, in ms) must be within 0.5 ms of 20 ms. wrk runs the same load in the
#     same run (alternating), as a reference for what the mock itself adds. Both tools
#     also run against bench/delay_server.py (a Python server that answers after a precise
#     20 ms clock_nanosleep, pinned to CPU 1), a truer "fixed 20 ms" server: the mock's
#     tokio sleep ends on a 1 ms timer tick. REF=0 skips it.
# (b) Arrival rate: an arrival stage at RATE iterations/s (default 1,000/s) held for
#     ARRIVAL_SECS seconds (default 20), each iteration one GET /?delay=20. Started
#     iterations per second = (iterations + dropped_iterations) / ARRIVAL_SECS must be
#     within 1 % of RATE; dropped_iterations is shown separately. oha's open-loop mode
#     (-q RATE) runs the same rate in the same run, as a reference.
# (c) WebSocket latency: one VU, ping/pong against the mock's /ws with a 10 ms sleep between
#     (an idle VU), for WS_SECS seconds (default 10); loadplan's ws_message_latency min, p1
#     and p50 beside those of bench/ws_ref_client.c (a C client, compiled here with cc -O2:
#     clock read just before write(), just after the read() that completes the pong) on the
#     same mock, alternating. The reference's min is the loopback + mock floor: a loadplan
#     min or p1 well under it would be a clock started late. Bar: loadplan min and p1 ≥
#     0.8 × the reference's (medians over REPS). The p50 gap (loadplan's own send and
#     receive path: framing, task wake-ups) is shown, not barred.
# Each part runs REPS times (default 3). Bars: |p50 − 20 ms| ≤ 0.5 ms; |rate − RATE| ≤ 1 %.
# PARTS (default abc) picks the parts to run.
#
# Usage: bench/accuracy.sh                (REPS=3 SECS=10 VUS=10 RATE=1000 ARRIVAL_SECS=20)
#        LOADPLAN=/path/to/loadplan bench/accuracy.sh
#        PARTS=c WS_SECS=10 bench/accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
SECS=${SECS:-10}
VUS=${VUS:-10}
RATE=${RATE:-1000}
ARRIVAL_SECS=${ARRIVAL_SECS:-20}
DELAY=${DELAY:-20}
REF=${REF:-1}
PARTS=${PARTS:-abc}
WS_SECS=${WS_SECS:-10}
export PATH="$HOME/.cargo/bin:$PATH"
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }

run=$(mktemp -d /tmp/accuracy.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
mock=""
ref=""
cleanup() {
    [ -n "$mock" ] && { kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null; } || true
    [ -n "$ref" ] && { kill "$ref" 2>/dev/null; wait "$ref" 2>/dev/null; } || true
    rm -rf "$run"
}
trap cleanup EXIT
"$LOADPLAN" mock --port "$port" >"$run/mock.out" 2>&1 &
mock=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$port/?delay=$DELAY"
targets=mock
if [ "$REF" = 1 ] && [[ $PARTS == *a* ]]; then
    ref_port=$((port + 1))
    taskset -c 1 python3 bench/delay_server.py "$ref_port" "$DELAY" 2>/dev/null &
    ref=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ref_port/" >/dev/null && break; sleep 0.1; done
    targets="mock ref"
fi
target_url() { if [ "$1" = mock ]; then echo "$URL"; else echo "http://127.0.0.1:$ref_port/"; fi; }

cat > "$run/latency.yaml" <<PLAN
name: accuracy-latency
environments:
  mock: { base_url: "http://127.0.0.1:$port/?delay=$DELAY" }
  ref: { base_url: "http://127.0.0.1:$((port + 1))/" }
stages: { load: { vus: $VUS, duration: ${SECS}s, graceful_stop: 5s } }
scenarios:
  get: { steps: [ { request: { url: "{{ env.base_url }}" } } ] }
PLAN
cat > "$run/ws.yaml" <<PLAN
name: accuracy-ws
environments: { mock: { ws_url: "ws://127.0.0.1:$port/ws" } }
stages: { idle: { vus: 1, duration: ${WS_SECS}s, graceful_stop: 5s } }
scenarios:
  pingpong:
    steps:
      - connect: "{{ env.ws_url }}"
      - repeat: { for: ${WS_SECS}s }
        steps:
          - send: { json: { type: ping, id: "{{ uuid() }}" } }
            as: ping
          - expect: { json: { type: pong, id: "{{ ping.id }}" }, within: 2s }
          - sleep: 10ms
thresholds:
  ws_message_latency: [ "min < 10s", "p1 < 10s", "p50 < 10s" ]
PLAN
[[ $PARTS == *c* ]] && cc -O2 -o "$run/ws_ref_client" bench/ws_ref_client.c
cat > "$run/arrival.yaml" <<PLAN
name: accuracy-arrival
environments: { mock: { base_url: "http://127.0.0.1:$port" } }
stages:
  rate:
    start_rate: $RATE/s
    arrival: [ { hold: ${ARRIVAL_SECS}s } ]
    max_vus: 500
    pre_allocated_vus: 100
    graceful_stop: 5s
scenarios:
  get: { steps: [ { request: { url: "{{ env.base_url }}/?delay=$DELAY" } } ] }
PLAN

fig() { # json-file metric field  (field: count | med | p99 | rate)
    python3 - "$@" <<'PY'
import json, sys
f, metric, field = sys.argv[1:4]
m = [x for x in json.load(open(f))["metrics"] if x["metric"] == metric]
if not m:
    print(0 if field == "count" else "nan")
elif field in ("count", "rate"):
    print(m[0][field] or 0)
else:
    print(m[0]["trend"][field])
PY
}
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }

echo "accuracy against loadplan mock on port $port, loadplan=$LOADPLAN" >&2
: > "$run/lat.txt"; : > "$run/arr.txt"; : > "$run/ws.txt"
for ((r = 1; r <= REPS; r++)); do
    # (a) latency, alternating loadplan and wrk, on each target
    [[ $PARTS == *a* ]] || targets=""
    for target in $targets; do
    for tool in $( ((r % 2)) && echo "loadplan wrk" || echo "wrk loadplan"); do
        f="$run/lat.$target.$r"
        if [ "$tool" = loadplan ]; then
            timeout -k 5 $((SECS + 40)) "$LOADPLAN" run "$run/latency.yaml" --env "$target" --quiet --out "json=$f.json" >/dev/null 2>"$f.err" || true
            echo "loadplan $target $r $(fig "$f.json" http_req_duration med) $(fig "$f.json" http_req_duration p99) $(fig "$f.json" http_reqs count)" >> "$run/lat.txt"
        elif command -v wrk >/dev/null; then
            timeout -k 5 $((SECS + 20)) wrk -t1 -c"$VUS" -d"${SECS}s" --latency "$(target_url "$target")" > "$f.wrk" 2>&1 || true
            echo "wrk $target $r $(awk '$1 == "50%" {print $2}' "$f.wrk" | to_ms) $(awk '$1 == "99%" {print $2}' "$f.wrk" | to_ms) $(awk '/requests in/ {print $1}' "$f.wrk")" >> "$run/lat.txt"
        fi
        grep "^$tool $target $r " "$run/lat.txt" | awk '{print "  latency " $1 " on " $2 " rep " $3 ": p50 " $4 " ms"}' >&2 || true
    done
    done
    # (b) arrival rate, alternating loadplan and oha
    for tool in $([[ $PARTS == *b* ]] || exit 0; ((r % 2)) && echo "loadplan oha" || echo "oha loadplan"); do
        if [ "$tool" = loadplan ]; then
            timeout -k 5 $((ARRIVAL_SECS + 40)) "$LOADPLAN" run "$run/arrival.yaml" --quiet --out "json=$run/arr.$r.json" >/dev/null 2>"$run/arr.$r.err" || true
            python3 - "$run/arr.$r.json" "$r" >> "$run/arr.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m = {x["metric"]: x for x in d["metrics"]}
it = m.get("iterations", {}).get("count", 0)
dr = m.get("dropped_iterations", {}).get("count", 0)
req = m.get("http_reqs", {}).get("count", 0)
p50 = m.get("http_req_duration", {}).get("trend", {}).get("med", float("nan"))
print("loadplan", sys.argv[2], it, dr, req, d.get("duration_s"), p50)
PY
        elif command -v oha >/dev/null; then
            timeout -k 5 $((ARRIVAL_SECS + 20)) oha -q "$RATE" -z "${ARRIVAL_SECS}s" -c 100 --no-tui --output-format json "$URL" > "$run/oha.$r.out" 2>&1 || true
            python3 - "$run/oha.$r.out" "$r" >> "$run/arr.txt" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ok = sum(j.get("statusCodeDistribution", {}).values())
errs = sum(j.get("errorDistribution", {}).values())
print("oha", sys.argv[2], ok, errs, ok, j["summary"]["total"], j["latencyPercentiles"]["p50"] * 1e3)
PY
        fi
        grep "^$tool $r " "$run/arr.txt" | awk '{print "  arrival " $1 " rep " $2 ": " $3 " iterations, " $4 " dropped"}' >&2 || true
    done
    # (c) WebSocket latency, alternating loadplan and the C reference client
    for tool in $([[ $PARTS == *c* ]] || exit 0; ((r % 2)) && echo "loadplan ref" || echo "ref loadplan"); do
        if [ "$tool" = loadplan ]; then
            timeout -k 5 $((WS_SECS + 40)) "$LOADPLAN" run "$run/ws.yaml" --quiet --out "json=$run/ws.$r.json" >/dev/null 2>"$run/ws.$r.err" || true
            python3 - "$run/ws.$r.json" "$r" >> "$run/ws.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = {t["check"].split()[0]: t["value"] * 1000 for t in d["thresholds"] if t["key"] == "ws_message_latency"}
n = next(m["count"] for m in d["metrics"] if m["metric"] == "ws_message_latency")
print("loadplan", sys.argv[2], n, round(v["min"]), round(v["p1"]), round(v["p50"]))
PY
        else
            "$run/ws_ref_client" "$port" "$WS_SECS" 10 | awk -v r="$r" '{print "ref", r, $2, $4, $6, $8}' >> "$run/ws.txt" || true
        fi
        grep "^$tool $r " "$run/ws.txt" | awk '{print "  ws " $1 " rep " $2 ": min " $4 " p1 " $5 " p50 " $6 " µs"}' >&2 || true
    done
done

python3 - "$run" "$DELAY" "$RATE" "$ARRIVAL_SECS" <<'PY'
import sys, statistics as st
run, delay, rate, secs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"\n(a) latency, {delay:g} ms server delay, closed loop. mock = loadplan mock GET /?delay={delay:g}; "
      f"ref = bench/delay_server.py (precise sleep)")
print(f"{'tool':<10} {'target':<6} {'rep':>3} {'p50 ms':>8} {'p50 − delay':>11} {'p99 ms':>8} {'requests':>9}")
p50s = {}
for l in open(f"{run}/lat.txt"):
    t, target, r, p50, p99, n = l.split()
    p50s.setdefault((t, target), []).append(float(p50))
    print(f"{t:<10} {target:<6} {r:>3} {float(p50):>8.3f} {float(p50) - delay:>+11.3f} {float(p99):>8.3f} {n:>9}")
for (t, target), v in p50s.items():
    m = st.median(v)
    bar = f"   bar |Δ| ≤ 0.5 ms  {'PASS' if abs(m - delay) <= 0.5 else 'FAIL'}" if t == "loadplan" else ""
    print(f"  median p50 {t} on {target}: {m:.3f} ms (Δ {m - delay:+.3f} ms){bar}")
for target in ("mock", "ref"):
    if ("loadplan", target) in p50s and ("wrk", target) in p50s:
        d = st.median(p50s[("loadplan", target)]) - st.median(p50s[("wrk", target)])
        print(f"  loadplan p50 − wrk p50 on {target}: {d:+.3f} ms (wrk's Δ is what the server and loopback add)")
print(f"\n(b) arrival rate {rate:g}/s for {secs:g} s, each iteration GET /?delay={delay:g}")
print(f"{'tool':<10} {'rep':>3} {'iterations':>10} {'dropped':>8} {'started/s':>9} {'Δ %':>7} {'completed/s':>11} {'reported s':>10} {'p50 ms':>7}")
rates = {}
for l in open(f"{run}/arr.txt"):
    t, r, it, dr, req, dur, p50 = l.split()
    it, dr = int(it), int(dr)
    # loadplan: iterations started = iterations + dropped_iterations (the brief's figure);
    # oha: requests completed + errors, over its own measured duration is not comparable —
    # it is shown over the asked duration too
    started = (it + dr) / secs
    rates.setdefault(t, []).append(started)
    print(f"{t:<10} {r:>3} {it:>10} {dr:>8} {started:>9.1f} {100 * (started - rate) / rate:>+7.2f} {it / secs:>11.1f} {float(dur):>10.2f} {float(p50):>7.2f}")
for t, v in rates.items():
    m = st.median(v)
    bar = f"   bar |Δ| ≤ 1 %  {'PASS' if abs(m - rate) <= 0.01 * rate else 'FAIL'}" if t == "loadplan" else ""
    print(f"  median started/s {t}: {m:.1f} ({100 * (m - rate) / rate:+.2f} %){bar}")
print("loadplan's 'iterations' = completed iterations; 'dropped' = dropped_iterations. For oha, iterations = "
      "responses and dropped = errors (incl. requests cut at the deadline); 'reported s' = the tool's own run duration.")
ws = {}
for l in open(f"{run}/ws.txt"):
    t, r, n, lo, p1, p50 = l.split()
    ws.setdefault(t, []).append((float(lo), float(p1), float(p50)))
    if len(ws) == 1 and len(ws[t]) == 1:
        print("\n(c) WebSocket ping/pong, 1 idle VU (10 ms between), loadplan ws_message_latency vs bench/ws_ref_client.c")
        print(f"{'tool':<10} {'rep':>3} {'messages':>8} {'min µs':>7} {'p1 µs':>6} {'p50 µs':>7}")
    print(f"{t:<10} {r:>3} {n:>8} {lo:>7} {p1:>6} {p50:>7}")
if "loadplan" in ws and "ref" in ws:
    med = {t: [st.median(x[i] for x in v) for i in range(3)] for t, v in ws.items()}
    (lo, p1, p50), (rlo, rp1, rp50) = med["loadplan"], med["ref"]
    ok = lo >= 0.8 * rlo and p1 >= 0.8 * rp1
    print(f"  medians loadplan min/p1/p50 {lo:.0f}/{p1:.0f}/{p50:.0f} µs, reference {rlo:.0f}/{rp1:.0f}/{rp50:.0f} µs"
          f" (p50 {p50 - rp50:+.0f} µs)   bar min, p1 ≥ 0.8 × ref's  {'PASS' if ok else 'FAIL'}")
PY
