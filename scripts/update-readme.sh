#!/usr/bin/env bash
# Regenerates what the README shows from the current build and model: every
# checked block (see tests/readme.rs) and the report screenshot. Run it after
# retraining models/default.model, then read `git diff README.md`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== README blocks (UPDATE_README=1 cargo test --test readme)"
UPDATE_README=1 cargo test --quiet --test readme

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "== docs/report.png left as it is: Chromium is not installed (apt-get install chromium)"
  exit 0
fi
echo "== docs/report.png (moderate report data/examples.csv, headless Chromium)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --quiet -- report data/examples.csv --out "$work/report.html"
"$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$work/profile" \
  --window-size=1280,1800 --screenshot="$work/report.png" \
  "file://$work/report.html" >/dev/null 2>&1 </dev/null
mv "$work/report.png" docs/report.png
echo "wrote docs/report.png"
