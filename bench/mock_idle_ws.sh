#!/usr/bin/env bash
# How many idle WebSocket connections one `loadplan mock` process holds, and its memory
# per connection. Not a test. Usage: bench/mock_idle_ws.sh [CONNECTIONS]  (default 15000)
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-15000}
ulimit -n 20000
cargo build --release --quiet
cargo bench --quiet --bench mock_idle_ws --no-run 2>/dev/null
client=$(ls -t target/release/deps/mock_idle_ws-* | grep -v '\.d$' | head -n 1)
port=$(( 20000 + RANDOM % 20000 ))
target/release/loadplan mock --port "$port" >/dev/null &
mock=$!
trap 'kill "$mock" 2>/dev/null || true; wait "$mock" 2>/dev/null || true' EXIT
sleep 0.5
timeout 120 "$client" "ws://127.0.0.1:$port/ws" "$mock" "$conns"
curl -s "http://127.0.0.1:$port/stats"; echo
