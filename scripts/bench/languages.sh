#!/usr/bin/env bash
# Scoring throughput of the shipped model on an English stream with its five
# languages (each comment's language detected, then routed) against English
# only (`--language en`: no detection, every comment to the English model, the
# path of a model without languages), in the same run, alternating, for the
# word model alone and for both readers.
#
# Usage (from the repository root, after `cargo build --release`):
#   bash scripts/bench/languages.sh [ROWS] [RUNS]
# ROWS comments of ../shared/data/dev.csv (default 4000; DEV=FILE for another
# file with id and text columns), RUNS runs each (default 3); READERS="words"
# or "both" for one of the two (default: both, in turn). Prints the median
# wall seconds and comments per second. On a small stream the model's
# loading (about 0.1 s) is much of each run: use ROWS of 20,000 or more to
# compare scoring.
set -euo pipefail
ROWS=${1:-4000}
RUNS=${2:-3}
BIN=${MODERATE_BIN:-target/release/moderate}
DEV=${DEV:-../shared/data/dev.csv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A CSV of the first ROWS records (the reader handles quoted newlines).
python3 - "$DEV" "$ROWS" "$tmp/stream.csv" <<'PY'
import csv, sys
csv.field_size_limit(10**9)
src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(src, newline="", encoding="utf-8") as f, open(out, "w", newline="", encoding="utf-8") as g:
    r = csv.DictReader(f)
    w = csv.writer(g)
    w.writerow(["id", "text"])
    for i, row in enumerate(r):
        if i >= n:
            break
        w.writerow([row["id"], row["text"]])
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # args: label extra-args...
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" score "$tmp/stream.csv" --format csv "$@" > /dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
echo "rows: $ROWS of $DEV; runs: $RUNS; binary: $BIN; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %-26s %10s %14s\n' readers mode "median s" "comments/s"
for readers in ${READERS:-words both}; do
  extra=()
  [ "$readers" = words ] && extra=(--word-only)
  : > "$tmp/five"; : > "$tmp/en"
  for _ in $(seq "$RUNS"); do
    run five "${extra[@]}" >> "$tmp/five"
    run en "${extra[@]}" --language en >> "$tmp/en"
  done
  for mode in five en; do
    m=$(median < "$tmp/$mode")
    name=$([ "$mode" = five ] && echo "five languages (detected)" || echo "English only (--language en)")
    printf '%-12s %-26s %10.3f %14.0f\n' "$readers" "$name" "$m" "$(echo "$ROWS / $m" | bc -l)"
  done
done
