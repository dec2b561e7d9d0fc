#!/usr/bin/env bash
# The README's picture, docs/report.png: the HTML report of the quickstart's run
# (examples/quickstart.yaml against the built-in mock), screenshotted whole at desktop
# width (1280 CSS px) in headless Chromium by the same CDP driver as tests/browser.rs,
# after the same checks (no console error, no request off the file, no overflow).
#
# The plan runs in a temporary copy of the committed tree (`git archive HEAD`), so no
# results land in the repository; the binary is this working tree's.
#
#   bench/report_screenshots.sh                 # smoke stage (10 s) -> docs/report.png
#   STAGE=ramp OUT=/tmp/ramp.png bench/report_screenshots.sh
#
# Knobs: LOADPLAN (a binary; default: `cargo build`, target/debug/loadplan), STAGE, HEIGHT
# (default smoke), OUT (default docs/report.png). Needs chromium (`apt-get install
# chromium`); emoji in the page need a colour emoji font (`apt-get install
# fonts-noto-color-emoji`), or they show as boxes in the picture.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
STAGE=${STAGE:-smoke}
OUT=${OUT:-$repo/docs/report.png}
# The top of the page (verdict, thresholds, charts over time, the first percentile
# curves); HEIGHT=100000 for the whole page.
HEIGHT=${HEIGHT:-1760}
if [ -z "${LOADPLAN:-}" ]; then
  cargo build -q
  LOADPLAN=$repo/target/debug/loadplan
fi
if ! fc-list 2>/dev/null | grep -qi emoji; then
  echo "note: no emoji font installed; emoji in the page will show as boxes" >&2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/repo"
git archive HEAD | tar -x -C "$tmp/repo"
page=$tmp/quickstart.html
# 99 is a run whose thresholds failed: its report is still the picture we want.
status=0
(cd "$tmp/repo" && timeout 300 "$LOADPLAN" run examples/quickstart.yaml --stage "$STAGE" \
  --quiet --out "html=$page") || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 99 ]; then
  echo "the quickstart's run failed (exit $status)" >&2
  exit 1
fi

LOADPLAN_PAGE=$page LOADPLAN_SCREENSHOTS=$tmp LOADPLAN_SCREENSHOT_HEIGHT=$HEIGHT \
  cargo test -q --test integration -- --ignored --exact browser::screenshot_a_named_page
cp "$tmp/report.png" "$OUT"
echo "wrote $OUT ($(wc -c <"$OUT") bytes)"
