#!/usr/bin/env bash
# Error kinds against a hostile WebSocket target (status_text_server.py): `random` answers
# every handshake with a new status text, `echo` with the run's secret (value, base64,
# URL-encoded). Prints the distinct error kinds, the errors, the sizes of the summary,
# results JSON and Markdown, and how many lines of the outputs hold the secret in each
# form. Bar: at most 3 kinds (`ws handshake 403`, and the odd `ws connect reset` or
# `ws handshake closed` of an overloaded Python server), summary < 8 KiB, no secret in any
# form. KEEP=1 keeps the outputs.
# Knobs: LOADPLAN (default: cargo build --release), VUS (20), SECS (8), PORT (18555).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LOADPLAN:-}" ]; then
  cargo build --release --quiet
  LOADPLAN=$PWD/target/release/loadplan
fi
VUS=${VUS:-20} SECS=${SECS:-8} PORT=${PORT:-18555}
secret='tok-SECRET-123/+'
b64=$(printf %s "$secret" | base64 | tr -d '=')
url='tok-SECRET-123%2F%2B'
work=$(mktemp -d)
cat > "$work/plan.yaml" <<PLAN
name: hostile-errors
secrets: [API_TOKEN]
stages: { short: { vus: $VUS, duration: ${SECS}s } }
scenarios:
  ws:
    backoff: off
    steps:
      - connect: "ws://127.0.0.1:$PORT/ws?token={{ secrets.API_TOKEN }}"
outputs:
  - markdown: { file: out/report.md }
  - json: out/results.json
PLAN
printf '%-7s %6s %9s %10s %10s %10s %s\n' mode kinds errors summary json markdown "secret lines (value,b64,url)"
status=0
for mode in random echo; do
  API_TOKEN=$secret python3 bench/status_text_server.py "$PORT" "$mode" & server=$!
  sleep 0.5
  rm -rf "$work/out"
  (cd "$work" && API_TOKEN=$secret timeout $((SECS + 30)) "$LOADPLAN" run plan.yaml \
    > summary.txt 2> stderr.txt) || true
  kill "$server"
  wait "$server" 2>/dev/null || true
  read -r kinds errors < <(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['errors']), sum(d['errors'].values()))" "$work/out/results.json")
  all=$(cat "$work"/out/* "$work/summary.txt" "$work/stderr.txt")
  leaks="$(grep -cF "$secret" <<<"$all" || true),$(grep -cF "$b64" <<<"$all" || true),$(grep -cF "$url" <<<"$all" || true)"
  summary=$(wc -c < "$work/summary.txt")
  printf '%-7s %6s %9s %9sB %9sB %9sB %s\n' "$mode" "$kinds" "$errors" "$summary" \
    "$(wc -c < "$work/out/results.json")" "$(wc -c < "$work/out/report.md")" "$leaks"
  if [ "$kinds" -gt 3 ] || [ "$summary" -ge 8192 ] || [ "$leaks" != 0,0,0 ]; then status=1; fi
done
[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
if [ "$status" = 0 ]; then echo PASS; else echo FAIL; fi
exit "$status"
