#!/usr/bin/env bash
# Checks that the current build scores exactly like an earlier one on the
# shared corpus: dev.csv, train.csv and four perturbed copies of dev.csv
# (every trick, two tricks per word; spacing; separators; masks), about
# 200,000 comments, with `score --exact-scores` (unrounded probabilities).
# Any differing line is a failure.
#
# Usage (from anywhere):
#   bash scripts/bench/scores_unchanged.sh [BASE]
# BASE is a commit (default e606f83, the last build without the chunk
# cache); it is built in a temporary worktree under target/. Needs cargo, git
# and ../shared/data (DATA_DIR to change). Takes about 5 minutes, most of it
# building BASE.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BASE=${1:-e606f83}
DATA_DIR=${DATA_DIR:-../shared/data}
OUT=target/scores-unchanged
WT=$OUT/base-src
mkdir -p "$OUT"

echo "== building the current tree" >&2
cargo build --release --quiet
NEW=target/release/moderate

echo "== building $BASE" >&2
rm -rf "$WT"
git worktree prune
git worktree add --detach --quiet "$WT" "$BASE"
trap 'git worktree remove --force "$WT" 2>/dev/null || true' EXIT
CARGO_TARGET_DIR="$ROOT/$OUT/base-target" cargo build --release --quiet --manifest-path "$WT/Cargo.toml"
OLD=$OUT/base-target/release/moderate

inputs=("$DATA_DIR/dev.csv" "$DATA_DIR/train.csv")
"$OLD" perturb "$DATA_DIR/dev.csv" --tricks-per-word 2 -o "$OUT/dev_all.csv" 2>/dev/null
for t in spacing separators mask; do
    "$OLD" perturb "$DATA_DIR/dev.csv" --tricks "$t" --seed 7 -o "$OUT/dev_$t.csv" 2>/dev/null
done
inputs+=("$OUT/dev_all.csv" "$OUT/dev_spacing.csv" "$OUT/dev_separators.csv" "$OUT/dev_mask.csv")

failed=0
for input in "${inputs[@]}"; do
    name=$(basename "$input" .csv)
    "$OLD" score "$input" --format csv --exact-scores -o "$OUT/$name.base.csv"
    "$NEW" score "$input" --format csv --exact-scores -o "$OUT/$name.new.csv"
    rows=$(($(wc -l <"$OUT/$name.new.csv") - 1))
    if cmp -s "$OUT/$name.base.csv" "$OUT/$name.new.csv"; then
        echo "$name: $rows comments, every score identical to $BASE"
    else
        differ=$(diff "$OUT/$name.base.csv" "$OUT/$name.new.csv" | grep -c '^>' || true)
        echo "$name: $rows comments, $differ lines DIFFER from $BASE"
        failed=1
    fi
done
exit "$failed"
