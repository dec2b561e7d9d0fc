#!/usr/bin/env bash
# HTTP efficiency: CPU time per request of loadplan, wrk and oha, side by side against the
# same nginx (bench/nginx.conf: 256-byte body, keep-alive; started on a free port,
# NGINX_PORT, so it does not clash with another nginx on 18081). Closed loop, CONNS connections
# or VUs. Each tool runs pinned to CPU 0 (taskset), nginx to CPU 1. The tools alternate
# within each repetition (the order rotates), so machine noise hits all of them alike.
#
# CPU µs/request = (user+sys CPU of the tool's whole process tree, start-up and exit
# included, as /usr/bin/time reports it) × 10⁶ / requests completed.
# Bar: loadplan ≤ 1.5× wrk and below oha.
#
# Usage: bench/http_cpu.sh                     (REPS=3 SECS=10 CONNS=50)
#        LOADPLAN=/path/to/loadplan REPS=5 SECS=15 bench/http_cpu.sh
#        TOOLS="loadplan wrk" bench/http_cpu.sh   (oha is skipped when not installed)
# Needs: nginx, wrk, oha (see /work/shared/peers/install.sh), python3, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-50}
TOOL_CPU=${TOOL_CPU:-0}
TARGET_CPU=${TARGET_CPU:-1}
TOOLS=${TOOLS:-loadplan wrk oha}
export PATH="$HOME/.cargo/bin:$PATH"
ulimit -n 20000

if [ -z "${LOADPLAN:-}" ]; then
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} cargo build --release --quiet
    LOADPLAN=${CARGO_TARGET_DIR:-$PWD/target}/release/loadplan
fi
[ -x "$LOADPLAN" ] || { echo "no loadplan binary at $LOADPLAN"; exit 1; }
command -v nginx >/dev/null || { echo "nginx is needed: apt-get install -y nginx-light"; exit 1; }
tools=()
for t in $TOOLS; do
    if [ "$t" = loadplan ] || command -v "$t" >/dev/null; then tools+=("$t"); else echo "skipping $t: not installed"; fi
done

run=$(mktemp -d /tmp/http_cpu.XXXXXX)
cleanup() {
    [ -f "$run/nginx.pid" ] && kill "$(cat "$run/nginx.pid")" 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$run/tmp"
NGINX_PORT=${NGINX_PORT:-$(( 20000 + RANDOM % 20000 ))}
URL=http://127.0.0.1:$NGINX_PORT/
sed "s/127.0.0.1:18081/127.0.0.1:$NGINX_PORT/" bench/nginx.conf > "$run/nginx.conf"
taskset -c "$TARGET_CPU" nginx -p "$run/" -c "$run/nginx.conf" -e "$run/nginx-error.log"
sleep 0.3
curl -sf "$URL" >/dev/null || { echo "nginx did not answer on $URL"; exit 1; }

cat > "$run/plan.yaml" <<PLAN
name: http-efficiency
environments: { nginx: { base_url: "http://127.0.0.1:$NGINX_PORT" } }
stages: { load: { vus: $CONNS, duration: ${SECS}s, graceful_stop: 5s } }
scenarios:
  get: { steps: [ { request: { url: "{{ env.base_url }}/" } } ] }
PLAN

busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
nginx_ticks() { local w; w=$(pgrep -P "$(cat "$run/nginx.pid")" | head -n 1); awk '{print $14 + $15}' "/proc/$w/stat"; }
hz=$(getconf CLK_TCK)

# measure LABEL cmd... : runs cmd pinned to TOOL_CPU under /usr/bin/time and a timeout;
# appends "label cpu_s wall_s other_cpu_s maxrss_kb" to $run/cpu.txt
measure() {
    local label=$1; shift
    local b0 b1 n0 n1
    b0=$(busy_jiffies); n0=$(nginx_ticks)
    taskset -c "$TOOL_CPU" /usr/bin/time -f "%U %S %e %M" -o "$run/$label.time" \
        timeout -k 5 $((SECS + 40)) "$@" >"$run/$label.out" 2>"$run/$label.err" </dev/null || true
    b1=$(busy_jiffies); n1=$(nginx_ticks)
    awk -v l="$label" -v b=$((b1 - b0)) -v n=$((n1 - n0)) -v hz="$hz" \
        '{cpu = $1 + $2; printf "%s %.3f %.3f %.3f %d\n", l, cpu, $3, b / hz - cpu - n / hz, $4}' \
        "$run/$label.time" >> "$run/cpu.txt"
}

requests() { # tool label -> requests completed
    case $1 in
        wrk) awk '/requests in/ {print $1}' "$run/$2.out" ;;
        oha) python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(sum(j.get('statusCodeDistribution', {}).values()))" "$run/$2.out" ;;
        loadplan) python3 -c "import json,sys; m=[x for x in json.load(open(sys.argv[1]))['metrics'] if x['metric']=='http_reqs']; print(m[0]['count'])" "$run/$2.json" ;;
    esac
}
p50_ms() {
    case $1 in
        wrk) awk '$1 == "50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$run/$2.out" ;;
        oha) python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['latencyPercentiles']['p50']*1e3)" "$run/$2.out" ;;
        loadplan) python3 -c "import json,sys; m=[x for x in json.load(open(sys.argv[1]))['metrics'] if x['metric']=='http_req_duration']; print(m[0]['trend']['med'])" "$run/$2.json" ;;
    esac
}

run_tool() { # tool rep
    local tool=$1 label="$1.$2"
    case $tool in
        wrk) measure "$label" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$URL" ;;
        oha) measure "$label" oha -c "$CONNS" -z "${SECS}s" --no-tui --output-format json "$URL" ;;
        loadplan) measure "$label" "$LOADPLAN" run "$run/plan.yaml" --quiet --out "json=$run/$label.json" ;;
    esac
    local n; n=$(requests "$tool" "$label" 2>/dev/null || echo 0)
    echo "$label ${n:-0} $(p50_ms "$tool" "$label" 2>/dev/null || echo nan)" >> "$run/reqs.txt"
    printf '  %-12s %s\n' "$label" "$(tail -n 1 "$run/cpu.txt" | awk '{print "cpu " $2 " s, wall " $3 " s, other " $4 " s"}'), $n requests" >&2
}

echo "HTTP CPU per request: ${#tools[@]} tools × $REPS reps, ${SECS}s each, $CONNS connections/VUs," \
     "tool on CPU $TOOL_CPU, nginx on CPU $TARGET_CPU, loadplan=$LOADPLAN" >&2
for ((r = 1; r <= REPS; r++)); do
    n=${#tools[@]}
    for ((i = 0; i < n; i++)); do
        run_tool "${tools[$(((i + r - 1) % n))]}" "$r"
    done
done

python3 - "$run" "${tools[@]}" <<'PY'
import sys, statistics as st
run, tools = sys.argv[1], sys.argv[2:]
cpu = {l.split()[0]: l.split()[1:] for l in open(f"{run}/cpu.txt")}
req = {l.split()[0]: l.split()[1:] for l in open(f"{run}/reqs.txt")}
rows, med = [], {}
print(f"\n{'tool':<10} {'rep':>3} {'requests':>10} {'req/s':>9} {'CPU s':>7} {'µs/req':>7} {'p50 ms':>7} {'RSS MiB':>8} {'other CPU s':>11}")
for t in tools:
    us = []
    for label in sorted(k for k in cpu if k.split(".")[0] == t):
        c, wall, other, rss = map(float, cpu[label])
        n, p50 = int(req[label][0]), req[label][1]
        u = c * 1e6 / n if n else float("nan")
        if n: us.append(u)
        print(f"{t:<10} {label.split('.')[1]:>3} {n:>10} {n / wall:>9.0f} {c:>7.2f} {u:>7.2f} {float(p50):>7.3f} {rss / 1024:>8.1f} {other:>11.2f}")
    med[t] = st.median(us) if us else float("nan")
print("\nmedian CPU µs/request:  " + "   ".join(f"{t} {med[t]:.2f}" for t in tools))
if "loadplan" in med:
    if "wrk" in med:
        r = med["loadplan"] / med["wrk"]
        print(f"loadplan / wrk  = {r:.2f}   (bar ≤ 1.50)  {'PASS' if r <= 1.5 else 'FAIL'}")
    if "oha" in med:
        r = med["loadplan"] / med["oha"]
        print(f"loadplan / oha  = {r:.2f}   (bar < 1.00)  {'PASS' if r < 1 else 'FAIL'}")
print("'other CPU s' = CPU used by other processes on the machine during the run (all busy − tool − nginx); large values mean a noisy run.")
PY
