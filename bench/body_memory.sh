#!/usr/bin/env bash
# Peak RSS of one VU against what a hostile server sends (issue 12, "bounded memory per VU"):
#   length   one 1 GiB Content-Length body that no check reads (discarded as it arrives)
#   endless  an endless chunked body for the request's `timeout: 4s` (nothing reads it)
#   kept     the endless body captured with `as:` (kept up to the default 10 MiB limit)
# Peak RSS is GNU time's "maximum resident set size" (the kernel's VmHWM) of the loadplan
# process. bench/body_server.py (Python, 127.0.0.1) is the server. Bar: peak RSS < 64 MiB
# in every case (the body is 1 GiB; before bodies were streamed it reached 1.8 GB).
#
#   LOADPLAN=target/release/loadplan BEFORE=/path/to/old/loadplan bench/body_memory.sh
# BEFORE (optional) runs the same plans with an older binary, for comparison; the plans use
# no `limits:` key so that it can read them. SIZE (bytes, default 1 GiB), TIMEOUT (4s).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${LOADPLAN:-}" ]]; then
  cargo build --release --quiet
  LOADPLAN=$PWD/target/release/loadplan
fi
SIZE=${SIZE:-1073741824}
TIMEOUT=${TIMEOUT:-4s}
BAR_KIB=$((64 * 1024))
PORT=${PORT:-18731}
work=$(mktemp -d)
python3 bench/body_server.py "$PORT" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  (echo > /dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
  sleep 0.1
done

plan() { # URL REQUEST_EXTRA STEP_EXTRA
  cat <<PLAN
name: body-memory
environments: { local: { base_url: "http://127.0.0.1:$PORT" } }
stages: { one: { vus: 1, duration: 10ms, graceful_stop: 5m } }
scenarios:
  big:
    backoff: off
    steps:
      - request:
          url: "$1"
          $2
        $3
PLAN
}

run_case() { # LABEL BINARY CASE
  local label=$1 bin=$2 case=$3 file="$work/$3.yaml" out="$work/$3-$1.json"
  case $case in
    length) plan "{{ env.base_url }}/length?bytes=$SIZE" "timeout: 5m" "" > "$file" ;;
    endless) plan "{{ env.base_url }}/endless" "timeout: $TIMEOUT" "" > "$file" ;;
    kept) plan "{{ env.base_url }}/endless" "timeout: $TIMEOUT" "as: page" > "$file" ;;
  esac
  rm -f "$out"
  timeout 600 /usr/bin/time -o "$work/time" -f "%M %e" "$bin" run "$file" --quiet \
    --out "json=$out" > /dev/null 2> "$work/stderr" || true
  local measured
  measured=$(tail -1 "$work/time")
  local kib=${measured%% *} secs=${measured##* }
  local summary
  summary=$(python3 - "$out" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("no results"); sys.exit()
recv = next((m.get("count", 0) for m in r["metrics"] if m["metric"] == "data_received"), 0)
reqs = next((m.get("count", 0) for m in r["metrics"] if m["metric"] == "http_reqs"), 0)
errs = ", ".join(f"{k}: {v}" for k, v in r.get("errors", {}).items()) or "none"
print(f"{reqs} reqs, data_received {recv / 2**20:.0f} MiB, errors {errs}")
PY
)
  local verdict=""
  if [[ $label == after ]]; then
    if (( kib < BAR_KIB )); then verdict=PASS; else verdict=FAIL; fi
  fi
  printf '| %-6s | %-7s | %8.1f MiB | %6s s | %s | %s |\n' \
    "$label" "$case" "$(echo "$kib / 1024" | bc -l)" "$secs" "$summary" "$verdict"
}

echo "| binary | case    | peak RSS     | wall     | run | bar < 64 MiB |"
echo "|---|---|---|---|---|---|"
for case in length endless kept; do
  if [[ -n "${BEFORE:-}" ]]; then run_case before "$BEFORE" "$case"; fi
  run_case after "$LOADPLAN" "$case"
done
