#!/usr/bin/env bash
# Wall time and peak RSS of the streaming learner (`train --learner ftrl`) on
# a corpus far larger than train.csv: its rows repeated, each copy with
# distinct ids, to ROWS rows. The target is a peak RSS of at most 2 GB.
#
# Usage (from anywhere; paths are relative to the repository root):
#   bash scripts/bench/streaming_rss.sh
#   ROWS=500000 bash scripts/bench/streaming_rss.sh     # quicker
#
# Environment:
#   ROWS=2000000            rows of the generated corpus
#   DATA_DIR=../shared/data holds train.csv (repeated) and dev.csv (evaluation)
#   TRAIN_ARGS=""           extra arguments for `moderate train`
#   NICE=10                 niceness of the measured run (the machine is shared)
#   EVAL=1                  0 skips `moderate eval` of the trained model on dev.csv
#   CARGO_TARGET_DIR        where `cargo build --release` puts the binary
#
# Needs: cargo, python3, GNU time at /usr/bin/time (`apt-get install -y time`).
# Writes target/bench/: big_ROWS.csv (reused by later runs; about 160 bytes a
# row, never committed), streaming_ROWS.model, streaming_ROWS.time (the
# /usr/bin/time -v output), streaming_ROWS.out (train's output) and
# streaming_ROWS.md (the summary, also printed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

ROWS=${ROWS:-2000000}
DATA_DIR=${DATA_DIR:-../shared/data}
TRAIN_ARGS=${TRAIN_ARGS:-}
NICE=${NICE:-10}
EVAL=${EVAL:-1}
TARGET=${CARGO_TARGET_DIR:-target}
OUT=target/bench
mkdir -p "$OUT"

[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time (apt-get install -y time)" >&2; exit 2; }
[ -f "$DATA_DIR/train.csv" ] || { echo "no $DATA_DIR/train.csv" >&2; exit 2; }

echo "== cargo build --release"
cargo build --release --quiet
BIN="$TARGET/release/moderate"

BIG="$OUT/big_${ROWS}.csv"
if [ ! -s "$BIG" ]; then
  echo "== writing $BIG: $DATA_DIR/train.csv repeated to $ROWS rows, ids suffixed ~copy"
  python3 - "$DATA_DIR/train.csv" "$BIG.tmp" "$ROWS" <<'PY'
import csv, sys
src, dst, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, newline="", encoding="utf-8") as f:
    reader = csv.reader(f)
    header = next(reader)
    records = list(reader)
id_col = header.index("id")
with open(dst, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(header)
    n = 0
    copy = 0
    while n < rows:
        for rec in records:
            if n >= rows:
                break
            if copy:
                rec = list(rec)
                rec[id_col] = f"{rec[id_col]}~{copy}"
            w.writerow(rec)
            n += 1
        copy += 1
PY
  mv "$BIG.tmp" "$BIG"
fi
SIZE=$(du -h "$BIG" | cut -f1)

MODEL="$OUT/streaming_${ROWS}.model"
echo "== nice -n $NICE /usr/bin/time -v $BIN train --learner ftrl --data $BIG --out $MODEL $TRAIN_ARGS"
# shellcheck disable=SC2086
nice -n "$NICE" /usr/bin/time -v -o "$OUT/streaming_${ROWS}.time" \
  "$BIN" train --learner ftrl --data "$BIG" --out "$MODEL" $TRAIN_ARGS \
  | tee "$OUT/streaming_${ROWS}.out"

WALL=$(grep "Elapsed (wall clock)" "$OUT/streaming_${ROWS}.time" | awk '{print $NF}')
CPU_USER=$(grep "User time" "$OUT/streaming_${ROWS}.time" | awk '{print $NF}')
CPU_SYS=$(grep "System time" "$OUT/streaming_${ROWS}.time" | awk '{print $NF}')
RSS_KB=$(grep "Maximum resident set size" "$OUT/streaming_${ROWS}.time" | awk '{print $NF}')
RSS_MB=$((RSS_KB / 1024))
VERDICT="PASS"
[ "$RSS_KB" -le $((2 * 1000 * 1000)) ] || VERDICT="FAIL"

AUC="(not evaluated)"
if [ "$EVAL" = 1 ] && [ -f "$DATA_DIR/dev.csv" ]; then
  AUC=$("$BIN" eval --model "$MODEL" --data "$DATA_DIR/dev.csv" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["labels"]
print(", ".join("%s %.4f" % (k, v["roc_auc"]) for k, v in d.items()))')
fi

{
  echo "## streaming learner, $ROWS rows ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m))"
  echo
  echo "| measurement | value |"
  echo "|---|---|"
  echo "| input | $BIG ($SIZE; train.csv repeated) |"
  echo "| command | \`$BIN train --learner ftrl --data $BIG --out $MODEL $TRAIN_ARGS\` |"
  echo "| wall time | $WALL |"
  echo "| CPU user / system s | $CPU_USER / $CPU_SYS |"
  echo "| peak RSS | $RSS_MB MB ($RSS_KB kB) |"
  echo "| target peak RSS <= 2 GB | $VERDICT |"
  echo "| dev ROC-AUC | $AUC |"
} | tee "$OUT/streaming_${ROWS}.md"
