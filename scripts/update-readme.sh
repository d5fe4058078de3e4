#!/usr/bin/env bash
# Regenerates what the README shows from the current build and model: every
# checked block (see tests/readme.rs) and the report screenshot. Run it after
# retraining models/default.model or changing an output, then read
# `git diff README.md`. Figures quoted in prose (`readme-figures`) are checked
# but never rewritten: the test lists each paragraph the new output no
# longer supports, to be corrected by hand.
#
# The `train` block marked `recorded` is too heavy for the tests, which only
# check its figures against the model. When they are stale, this script
# re-runs that block's command (release build; on train.csv about a minute
# and 6 GB) into a temporary file, checks that it reproduces the model byte
# for byte, and pastes its output.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== the recorded train block"
if cargo test --quiet --test readme recorded_blocks_hold_the_figures_of_their_model \
  >"$work/check.log" 2>&1; then
  echo "its figures are those of the model; not re-run"
else
  marker=$(sed -n 's/^<!-- readme-check: moderate \(train .*\) | recorded -->$/\1/p' README.md)
  if [ -z "$marker" ]; then
    cat "$work/check.log"
    echo "no recorded train block found, and the check failed (above)" >&2
    exit 1
  fi
  read -ra args <<<"$marker"
  model=""
  for i in "${!args[@]}"; do
    if [ "${args[$i]}" = --out ]; then
      model=${args[$((i + 1))]}
      args[$((i + 1))]="$work/$(basename "$model")"
    fi
  done
  if [ -z "$model" ]; then
    echo "the recorded command names no --out: moderate $marker" >&2
    exit 1
  fi
  echo "stale; re-running: moderate $marker"
  cargo run --release --quiet -- "${args[@]}" >"$work/train.out"
  if ! cmp -s "$work/$(basename "$model")" "$model"; then
    echo "moderate $marker does not reproduce $model byte for byte. Either the data it" >&2
    echo "reads has changed since $model was trained (retrain it with this command), or" >&2
    echo "another command trained it (put that one in the README's recorded marker)." >&2
    echo "The two model cards differ as follows (< this run, > $model):" >&2
    diff <(cargo run --release --quiet -- info --model "$work/$(basename "$model")") \
      <(cargo run --release --quiet -- info --model "$model") | head -20 >&2 || true
    exit 1
  fi
  sed -i "s|^wrote $work/$(basename "$model") |wrote $model |" "$work/train.out"
  export README_TRAIN_OUTPUT="$work/train.out"
fi

echo "== README blocks (UPDATE_README=1 cargo test --test readme)"
status=0
UPDATE_README=1 cargo test --quiet --test readme || status=$?

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "== docs/report.png left as it is: Chromium is not installed (apt-get install chromium)"
else
  echo "== docs/report.png (moderate report data/examples.csv, headless Chromium)"
  cargo run --quiet -- report data/examples.csv --out "$work/report.html"
  "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size=1280,1800 --screenshot="$work/report.png" \
    "file://$work/report.html" >/dev/null 2>&1 </dev/null
  mv "$work/report.png" docs/report.png
  echo "wrote docs/report.png"
fi

if [ "$status" != 0 ]; then
  echo "README.md was rewritten, but some blocks or prose figures need a person (see the test output above)" >&2
fi
exit "$status"
