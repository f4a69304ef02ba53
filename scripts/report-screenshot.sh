#!/usr/bin/env bash
# Regenerates the README's screenshot of the HTML report (make report-screenshot): runs
# process_data at 64 MiB under `memtrack --html`, then takes a headless Chromium screenshot.
# Usage: report-screenshot.sh BUILD_DIR OUT.png
set -euo pipefail
build=$1 out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env -u LD_PRELOAD MEMTRACK_OUTPUT="$work/process_data.%p.json" \
  "$build/bin/memtrack" --html -- "$build/bin/process_data" --size 64MiB >/dev/null
page=$(ls "$work"/process_data.*.html)
# The browser is not tracked (no LD_PRELOAD); --virtual-time-budget lets the page's script run.
env -u LD_PRELOAD chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --user-data-dir="$work/profile" --hide-scrollbars --window-size=1280,1150 \
  --virtual-time-budget=5000 --screenshot="$work/shot.png" "file://$page" 2>/dev/null
mv "$work/shot.png" "$out"
echo "memtrack: wrote $out from $page"
