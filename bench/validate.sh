#!/usr/bin/env bash
# How long `loadplan validate` takes on a realistic ~2,000-line plan (budget: under 100 ms),
# against the process start cost (`loadplan --version`) and a small plan
# (examples/quickstart.yaml, the fixed cost of validating anything). Not a test.
#
# Usage: bench/validate.sh [LINES]   (default 2000)
#   RUNS=30 WARMUP=3 bench/validate.sh
#
# Needs python3 and hyperfine (`apt-get install -y hyperfine`); uses `perf stat` when it is
# available. Apart from the release build, it runs in a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

lines=${1:-2000}
runs=${RUNS:-30}
warmup=${WARMUP:-3}
budget_ms=100
bin=target/release/loadplan

if ! command -v hyperfine >/dev/null 2>&1; then
    echo "error: hyperfine is not installed; install it with: apt-get install -y hyperfine" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is needed to generate the plan" >&2
    exit 1
fi

echo "==> cargo build --release"
cargo build --release --quiet

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plan=$tmp/plan.yaml
python3 bench/gen_plan.py "$lines" >"$plan"
plan_lines=$(wc -l <"$plan")
echo "==> generated plan: $plan_lines lines ($plan)"

# The plan must be valid, or the benchmark would time the error path.
status=0
"$bin" validate "$plan" >"$tmp/validate.out" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    echo "error: the generated plan does not validate (exit $status); this is a bug in bench/gen_plan.py or in loadplan:" >&2
    cat "$tmp/validate.out" >&2
    exit 1
fi
echo "    $(tail -n 1 "$tmp/validate.out")"
if grep -q "warning:" "$tmp/validate.out"; then
    echo "    (note: the plan has warnings; bench/gen_plan.py should produce a clean plan)"
fi

echo "==> hyperfine (warmup $warmup, runs $runs, no shell)"
hyperfine --shell=none --warmup "$warmup" --runs "$runs" --style basic \
    --export-json "$tmp/hyperfine.json" \
    -n "version" "$bin --version" \
    -n "validate-quickstart" "$bin validate examples/quickstart.yaml" \
    -n "validate-$plan_lines-lines" "$bin validate $plan" >"$tmp/hyperfine.out" 2>&1 || {
    cat "$tmp/hyperfine.out" >&2
    exit 1
}

python3 - "$tmp/hyperfine.json" "$plan_lines" "$budget_ms" <<'EOF'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
lines, budget = int(sys.argv[2]), float(sys.argv[3])
ms = lambda s: s * 1000.0
print()
print(f"{'command':<26} {'mean':>8} {'median':>8} {'stddev':>8} {'min':>8} {'max':>8}  (ms)")
by_name = {}
for r in results:
    by_name[r["command"]] = r
    print(f"{r['command']:<26} {ms(r['mean']):8.2f} {ms(r['median']):8.2f} "
          f"{ms(r['stddev'] or 0):8.2f} {ms(r['min']):8.2f} {ms(r['max']):8.2f}")
version = by_name["version"]
big = by_name[f"validate-{lines}-lines"]
small = by_name["validate-quickstart"]
print()
print(f"plan: {lines} lines")
print(f"validate median {ms(big['median']):.2f} ms; process start (--version) median "
      f"{ms(version['median']):.2f} ms; validate minus start {ms(big['median'] - version['median']):.2f} ms")
print(f"fixed cost of any validate (quickstart minus start): "
      f"{ms(small['median'] - version['median']):.2f} ms; "
      f"cost of the plan's size (big minus quickstart): {ms(big['median'] - small['median']):.2f} ms")
verdict = "PASS" if ms(big["median"]) < budget else "OVER BUDGET"
print(f"budget {budget:.0f} ms: {verdict} (median {ms(big['median']):.2f} ms, max {ms(big['max']):.2f} ms)")
EOF

echo
if command -v perf >/dev/null 2>&1 && perf stat -e task-clock true >/dev/null 2>&1; then
    echo "==> perf stat -r 10 $bin validate PLAN (software events; hardware counters are often missing in VMs)"
    perf stat -r 10 -e task-clock,context-switches,cpu-migrations,page-faults,cycles,instructions \
        "$bin" validate "$plan" 2>&1 >/dev/null | sed -n '/Performance counter stats/,$p'
    echo "==> one run, user vs system time"
    perf stat -e task-clock,page-faults "$bin" validate "$plan" 2>&1 >/dev/null |
        grep -E "seconds (user|sys|time elapsed)|task-clock|page-faults"
else
    echo "==> perf is not available (or not permitted); skipping perf stat"
fi
