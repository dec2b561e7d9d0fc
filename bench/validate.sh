#!/usr/bin/env bash
# How long `loadplan validate` takes on a realistic ~2,000-line plan (budget: under 100 ms),
# against the process start cost (`loadplan --version`) and a small plan
# (examples/quickstart.yaml, the fixed cost of validating anything). Not a test.
#
# Then the hostile inputs of issue 12 (bench/gen_hostile.py): plans whose validation time or
# memory would grow faster than their size if a pass were quadratic or recursive. Each is
# run once under `timeout`, with its wall time, peak RSS, exit code and last line printed.
#
# Usage: bench/validate.sh [LINES]   (default 2000)
#   RUNS=30 WARMUP=3 bench/validate.sh
#   LOADPLAN=path/to/loadplan      use this binary instead of building target/release
#   BEFORE=path/to/old/loadplan    also run the hostile inputs on an older binary
#   HOSTILE=only | skip            only the hostile inputs, or none of them
#   HOSTILE_TIMEOUT=20             seconds before a hostile input counts as "did not finish"
#
# Needs python3 and hyperfine (`apt-get install -y hyperfine`); uses `perf stat` when it is
# available. Apart from the release build, it runs in a few seconds (plus up to
# HOSTILE_TIMEOUT per hostile input on a binary that does not finish them).
set -euo pipefail
cd "$(dirname "$0")/.."

lines=${1:-2000}
runs=${RUNS:-30}
warmup=${WARMUP:-3}
budget_ms=100
hostile=${HOSTILE:-run}
hostile_timeout=${HOSTILE_TIMEOUT:-20}
bin=${LOADPLAN:-target/release/loadplan}

if [ "$hostile" != only ] && ! command -v hyperfine >/dev/null 2>&1; then
    echo "error: hyperfine is not installed; install it with: apt-get install -y hyperfine" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: python3 is needed to generate the plan" >&2
    exit 1
fi

if [ -z "${LOADPLAN:-}" ]; then
    echo "==> cargo build --release"
    cargo build --release --quiet
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One hostile input on one binary: wall seconds, peak RSS, exit code, the last line it printed.
run_hostile() {
    local binary=$1 name=$2 file=$3 status=0
    timeout "$hostile_timeout" /usr/bin/time -f "%e %M" -o "$tmp/time.out" \
        "$binary" validate "$file" >"$tmp/hostile.out" 2>&1 || status=$?
    local last secs=- rss_kb=0
    last=$({ grep -v "^Command exited\|^Command terminated" "$tmp/hostile.out" || true; } |
        tail -n 1 | sed "s|$tmp/hostile/||" | cut -c 1-70)
    if [ "$status" -eq 124 ]; then
        printf "%-22s %-8s %10s %10s %5s  %s\n" "$name" "$4" ">${hostile_timeout}" "-" "-" "(did not finish)"
        return
    fi
    read -r secs rss_kb < <(grep -E "^[0-9.]+ [0-9]+$" "$tmp/time.out" | tail -n 1) || true
    printf "%-22s %-8s %10s %10s %5s  %s\n" "$name" "$4" "$secs" "$((rss_kb / 1024))" "$status" "$last"
}

hostile_inputs() {
    local dir=$tmp/hostile
    mkdir -p "$dir"
    # name, generator arguments (or a file for /dev/zero)
    local cases=(
        "unknown-keys-16k:unknown-keys 16000"
        "unknown-keys-100k:unknown-keys 100000"
        "scenarios-20k:scenarios 20000"
        "scenarios-100k:scenarios 100000"
        "scenarios-1vu-20k:scenarios-1vu 20000"
        "scenarios-1vu-100k:scenarios-1vu 100000"
        "bad-scenarios-50k:bad-scenarios 50000"
        "complex-keys-12k:complex-keys 12000"
        "block-seq-6k:block-seq 6000"
        "flow-seq-100k:flow-seq 100000"
        "deep-json-5k:deep-json 5000"
        "long-line-1M:long-line 1000000"
        "over-8MiB:big 9000000"
    )
    for entry in "${cases[@]}"; do
        local name=${entry%%:*} args=${entry#*:}
        # shellcheck disable=SC2086
        python3 bench/gen_hostile.py $args >"$dir/$name.yaml"
    done
    echo
    echo "==> hostile inputs (timeout ${hostile_timeout} s each; RSS is the peak)"
    for binary in ${BEFORE:+"$BEFORE"} "$bin"; do
        echo
        echo "binary: $binary"
        printf "%-22s %-8s %10s %10s %5s  %s\n" input size "wall s" "RSS MiB" exit "last line"
        for entry in "${cases[@]}"; do
            local name=${entry%%:*}
            local size
            size=$(du -k "$dir/$name.yaml" | cut -f1)
            run_hostile "$binary" "$name" "$dir/$name.yaml" "${size}K"
        done
        run_hostile "$binary" "/dev/zero" /dev/zero "-"
    done
}

if [ "$hostile" = only ]; then
    hostile_inputs
    exit 0
fi
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

if [ "$hostile" != skip ]; then
    hostile_inputs
fi
