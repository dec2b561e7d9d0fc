#!/usr/bin/env bash
# WebSocket memory: loadplan's RSS per idle WebSocket VU. VUS VUs (default 10,000) each
# `connect` to `/ws` of a `loadplan mock` running in a separate process (so loadplan's RSS
# is only the load generator) and then sleep; the stage ramps them up over RAMP seconds
# after a 3 s hold at 0 VUs, and holds them HOLD seconds. RSS (VmRSS) of the loadplan
# process and the mock's count of open WebSockets are sampled every 0.5 s.
#
#   KiB/VU (tiny-run baseline) = (median RSS over the plateau − the same figure of an
#                                 identical run with 1 VU) / (VUS − 1)    ← the peers' method
#   KiB/VU (in-run baseline)   = (median RSS over the plateau − median RSS during the 0-VU
#                                 hold at the start of the same run) / VUS
# The plateau is the last half of the hold, and only samples where the mock holds ≥ 99 %
# of VUS connections. RSS growth over the hold is printed too (idle VUs should not grow).
# Bar: ≤ 8 KiB per VU (Tsung 8.9 KiB, Artillery 15.0 KiB on this machine).
#
# Split (SPLIT=1, the default): the same number of VUs that only `sleep`, no connection,
# to tell what a VU costs from what its WebSocket costs.
#
# Optional peer in the same run (PEER=artillery, the default; PEER= skips it): Artillery's
# ws engine holding PEER_CONNS idle connections against the same mock, peak RSS (N − 1) as
# the peer harness measures it (/work/shared/peers/scenarios/artillery-ws-idle.yml).
#
# Usage: bench/ws_idle_vus.sh                 (VUS=10000 RAMP=20 HOLD=20)
#        LOADPLAN=/path/to/loadplan VUS=15000 bench/ws_idle_vus.sh
# The open-files limit is 20,000 per process here: VUS above ~19,000 cannot work.
set -euo pipefail
cd "$(dirname "$0")/.."
VUS=${VUS:-10000}
RAMP=${RAMP:-20}
HOLD=${HOLD:-20}
PEER=${PEER-artillery}
PEER_CONNS=${PEER_CONNS:-1000}
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }

run=$(mktemp -d /tmp/ws_idle.XXXXXX)
port=$(( 20000 + RANDOM % 20000 ))
mock=""
lp=""
cleanup() {
    [ -n "$lp" ] && kill "$lp" 2>/dev/null || true
    [ -n "$mock" ] && { kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null; } || true
    rm -rf "$run"
}
trap cleanup EXIT
"$LOADPLAN" mock --port "$port" >"$run/mock.out" 2>&1 &
mock=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
ws_open() { curl -sf --max-time 2 "http://127.0.0.1:$port/metrics" | awk '$1 == "mock_ws_connections_open" {print $2}'; }

plan() { # vus [sleep] -> plan file ("sleep": VUs that only sleep, no connection)
    if [ "${2:-}" = sleep ]; then
        cat > "$run/plan.$1.yaml" <<PLAN
name: vus-sleeping
stages:
  idle:
    ramp: [ { hold: 3s }, { to: $1, over: ${RAMP}s }, { hold: ${HOLD}s } ]
    graceful_stop: 1s
scenarios:
  idle: { steps: [ { sleep: 1h } ] }
PLAN
        return
    fi
    cat > "$run/plan.$1.yaml" <<PLAN
name: ws-idle-vus
environments: { mock: { ws_url: "ws://127.0.0.1:$port/ws" } }
stages:
  idle:
    ramp: [ { hold: 3s }, { to: $1, over: ${RAMP}s }, { hold: ${HOLD}s } ]
    graceful_stop: 1s
scenarios:
  idle:
    steps:
      - connect: { url: "{{ env.ws_url }}", timeout: 30s }
      - sleep: 1h
PLAN
}

# run_lp VUS [sleep] : runs loadplan with VUS idle VUs, sampling "t rss_kb mock_open" into
# samples.VUS (samples.VUS.sleep for VUs without a connection)
run_lp() {
    local n=$1 kind=${2:-} t0 t
    plan "$n" "$kind"
    n=$n${kind:+.$kind}
    [ -n "$kind" ] && mv "$run/plan.$1.yaml" "$run/plan.$n.yaml"
    # wait for the mock to have closed the previous run's connections
    for _ in $(seq 100); do [ "$(ws_open)" = 0 ] && break; sleep 0.2; done
    t0=$(date +%s.%N)
    timeout -k 5 $((RAMP + HOLD + 60)) "$LOADPLAN" run "$run/plan.$n.yaml" --quiet \
        --out "json=$run/result.$n.json" >"$run/lp.$n.out" 2>"$run/lp.$n.err" &
    lp=$!
    : > "$run/samples.$n"
    while kill -0 "$lp" 2>/dev/null; do
        # the timeout process's child is loadplan
        local pid; pid=$(pgrep -P "$lp" | head -n 1 || true)
        if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
            t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
            echo "$t $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) $(ws_open || echo 0)" >> "$run/samples.$n"
        fi
        sleep 0.5
    done
    wait "$lp"; echo "loadplan ($n VUs) exit code $?" >> "$run/rc.txt"
    lp=""
}

echo "ws idle VUs: $VUS VUs (ramp ${RAMP}s, hold ${HOLD}s) against loadplan mock on port $port; loadplan=$LOADPLAN" >&2
run_lp 1
run_lp "$VUS"
# the same number of VUs that only sleep: what a VU costs without its WebSocket
[ "${SPLIT:-1}" = 1 ] && run_lp "$VUS" sleep

if [ -n "$PEER" ] && command -v artillery >/dev/null; then
    cat > "$run/artillery-idle.yml" <<YML
config:
  target: "ws://127.0.0.1:$port/ws"
  phases:
    - duration: 5
      arrivalCount: "{{ \$env.ARRIVALS }}"
  ws:
    perMessageDeflate: false
scenarios:
  - name: idle
    engine: ws
    flow:
      - think: 20
YML
    for n in 1 "$PEER_CONNS"; do
        for _ in $(seq 100); do [ "$(ws_open)" = 0 ] && break; sleep 0.2; done
        ARRIVALS=$n /usr/bin/time -f "%M" -o "$run/art.$n.time" timeout -k 5 90 \
            artillery run --output "$run/art.$n.json" "$run/artillery-idle.yml" >"$run/art.$n.out" 2>&1 &
        a=$!
        peak=0
        while kill -0 "$a" 2>/dev/null; do o=$(ws_open || echo 0); [ "${o:-0}" -gt "$peak" ] && peak=$o; sleep 0.5; done
        wait "$a" || true
        echo "$n $(cat "$run/art.$n.time" | tail -n 1) $peak" >> "$run/artillery.txt"
    done
fi

python3 - "$run" "$VUS" "$HOLD" "$PEER_CONNS" "$RAMP" <<'PY'
import json, os, sys, statistics as st
run, n, hold, peer_n, ramp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

def load(k):
    if not os.path.exists(f"{run}/samples.{k}"):
        return []
    rows = [tuple(map(float, l.split())) for l in open(f"{run}/samples.{k}") if len(l.split()) == 3]
    return rows

def plateau(rows, k):
    full = [r for r in rows if r[2] >= 0.99 * k]
    if not full:
        return None, None, None, None
    t_full = full[0][0]
    t_end = full[-1][0]
    late = [r for r in full if r[0] >= t_full + (t_end - t_full) / 2]
    return st.median(r[1] for r in late), max(r[1] for r in rows), full[0][1], full[-1][1]

def figures(k):
    try:
        doc = json.load(open(f"{run}/result.{k}.json"))
    except Exception as e:
        return {"error": repr(e)}
    m = {x["metric"]: x for x in doc["metrics"]}
    g = m.get("ws_connections_active", {}).get("gauge")
    v = m.get("vus", {}).get("gauge")
    return {"connect_errors": m.get("ws_connect_errors", {}).get("count", 0),
            "ws_connections_active_max": g[2] if g else "not reported",
            "vus_max": v[2] if v else None,
            "ws_connects": m.get("ws_connect_time", {}).get("count"),
            "connect_p95_ms": m.get("ws_connect_time", {}).get("trend", {}).get("p95"),
            "errors": doc.get("errors")}

big, tiny = load(n), load(1)
base_in = [r[1] for r in big if 1.0 <= r[0] <= 2.8 and r[2] == 0]
p_big, max_big, first_full, last_full = plateau(big, n)
p_tiny, max_tiny, _, _ = plateau(tiny, 1)
print(open(f"{run}/rc.txt").read().strip())
print(f"\nloadplan, {n} idle WebSocket VUs against loadplan mock (separate process)")
print(f"  mock's peak open connections       {max(int(r[2]) for r in big)}")
print(f"  loadplan's own figures             {figures(n)}")
print(f"  RSS at 0 VUs (in-run, 1–2.8 s)     {st.median(base_in) / 1024 if base_in else float('nan'):.1f} MiB")
print(f"  RSS plateau, 1-VU run              {p_tiny / 1024 if p_tiny else float('nan'):.1f} MiB")
if p_big:
    print(f"  RSS plateau, {n}-VU run        {p_big / 1024:.1f} MiB  (max {max_big / 1024:.1f} MiB; "
          f"first/last sample at full count {first_full / 1024:.1f} → {last_full / 1024:.1f} MiB)")
    kib_tiny = (p_big - p_tiny) / (n - 1) if p_tiny else float("nan")
    kib_in = (p_big - st.median(base_in)) / n if base_in else float("nan")
    print(f"\n  KiB per idle VU (tiny-run baseline) {kib_tiny:6.2f}   bar ≤ 8.0  {'PASS' if kib_tiny <= 8 else 'FAIL'}")
    print(f"  KiB per idle VU (in-run baseline)   {kib_in:6.2f}")
    print(f"  RSS growth over the plateau          {(last_full - first_full) / 1024:+.1f} MiB")
else:
    print(f"  the mock never held ≥ 99 % of {n} connections: no plateau (see samples below)")
    for r in big[::4]:
        print("   ", r)
sl = load(f"{n}.sleep")
if sl and p_big:
    # plateau of the sleep-only run: the last half of its hold (the mock sees no connection)
    tail = [r[1] for r in sl if 3 + ramp + hold / 2 <= r[0] <= 3 + ramp + hold] or [sl[-1][1]]
    p_sl = st.median(tail)
    kib_sl = (p_sl - p_tiny) / (n - 1)
    print(f"\n  split: {n} VUs that only sleep (no connect): plateau RSS {p_sl / 1024:.1f} MiB → {kib_sl:.2f} KiB per VU;"
          f" so the WebSocket connection adds {kib_tiny - kib_sl:.2f} KiB per VU")
p = f"{run}/artillery.txt"
if os.path.exists(p):
    a = {int(l.split()[0]): (float(l.split()[1]), int(l.split()[2])) for l in open(p)}
    if 1 in a and peer_n in a:
        kib = (a[peer_n][0] - a[1][0]) / (peer_n - 1)
        print(f"\nArtillery (same mock), {peer_n} idle connections: peak RSS {a[peer_n][0] / 1024:.1f} MiB, "
              f"1 connection {a[1][0] / 1024:.1f} MiB, mock's peak open {a[peer_n][1]} → {kib:.2f} KiB per connection")
PY
