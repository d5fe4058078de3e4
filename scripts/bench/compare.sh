#!/usr/bin/env bash
# Reproducible speed and memory comparison of `moderate` against
# alt-profanity-check and a scikit-learn TF-IDF + logistic pipeline, all
# measured on this machine in one run.
#
# Usage (from anywhere; paths are relative to the repository root):
#   bash scripts/bench/compare.sh
#   RUNS=1 SKLEARN_SCORE=100k bash scripts/bench/compare.sh   # quicker
#
# Environment:
#   RUNS=3            rounds; every measurement runs once per round and the
#                     table shows medians
#   DATA_DIR=../shared/data   holds dev.csv (corpus texts) and train.csv
#   ROWS=1000000, SMALL_ROWS=100000   sizes of the two scoring corpora
#   SKLEARN_SCORE=1m  corpus for scikit-learn scoring: 1m, 100k or skip
#                     (1m took about 7 minutes per round on 2 cores)
#   SKIP_TRAIN=0      1 skips both training measurements
#   STARTUP_RUNS=50   runs of the start-up measurement
#   CARGO_TARGET_DIR  where `cargo build --release` puts the binary
#
# Needs: cargo, python3 >= 3.11 (with venv), GNU time at /usr/bin/time
# (`apt-get install -y time`), optionally hyperfine (`apt-get install -y
# hyperfine`; otherwise a Python loop times start-up). Network is needed only
# on the first run, for pip. Re-running reuses the venv and the corpora.
#
# Writes target/bench/: comments_1m.txt, comments_100k.txt, results.jsonl
# (one line per run), KEY.out (each measurement's stdout, last round),
# results.md (the table, also printed on stdout).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
DATA_DIR=${DATA_DIR:-../shared/data}
ROWS=${ROWS:-1000000}
SMALL_ROWS=${SMALL_ROWS:-100000}
SKLEARN_SCORE=${SKLEARN_SCORE:-1m}
SKIP_TRAIN=${SKIP_TRAIN:-0}
STARTUP_RUNS=${STARTUP_RUNS:-50}
APC_VERSION=1.9.1     # pins scikit-learn==1.9.1 and joblib==1.6.0 itself
SKLEARN_VERSION=1.9.1

OUT=target/bench
VENV=target/bench-venv
PY=$VENV/bin/python
HELPER=scripts/bench/compare.py
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/moderate
DEV=$DATA_DIR/dev.csv
TRAIN=$DATA_DIR/train.csv
BIG=$OUT/comments_1m.txt
SMALL=$OUT/comments_100k.txt
RESULTS=$OUT/results.jsonl

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'compare.sh: %s\n' "$*" >&2; exit 1; }

case $SKLEARN_SCORE in 1m | 100k | skip) ;; *) die "SKLEARN_SCORE must be 1m, 100k or skip" ;; esac
[[ -x /usr/bin/time ]] || die "GNU time is missing: apt-get install -y time"
[[ -f $DEV ]] || die "$DEV not found (set DATA_DIR)"
[[ $SKIP_TRAIN == 1 || -f $TRAIN ]] || die "$TRAIN not found (set DATA_DIR or SKIP_TRAIN=1)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    die "python3 >= 3.11 is needed (scikit-learn $SKLEARN_VERSION)"
mkdir -p "$OUT"

log "building moderate (release)"
cargo build --release --quiet
[[ -x $BIN ]] || die "$BIN not built"

if ! "$PY" -c 'import profanity_check, sklearn' 2>/dev/null; then
    log "creating $VENV (alt-profanity-check $APC_VERSION, scikit-learn $SKLEARN_VERSION)"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
    "$PY" -m pip install --quiet "alt-profanity-check==$APC_VERSION" "scikit-learn==$SKLEARN_VERSION"
fi

# The corpora: regenerated only when missing or of the wrong length.
for spec in "$BIG:$ROWS" "$SMALL:$SMALL_ROWS"; do
    file=${spec%%:*} rows=${spec##*:}
    if [[ ! -f $file || $(wc -l <"$file") -ne $rows ]]; then
        log "writing $file ($rows comments from $DEV)"
        "$PY" "$HELPER" corpus --dev "$DEV" --rows "$rows" --out "$file" >/dev/null
    fi
done

# Every scored comment must be counted: one untimed check on the small corpus.
"$BIN" score "$SMALL" --input-format text --format csv -o "$OUT/check.csv"
[[ $(($(wc -l <"$OUT/check.csv") - 1)) -eq $SMALL_ROWS ]] ||
    die "moderate scored $(($(wc -l <"$OUT/check.csv") - 1)) of $SMALL_ROWS comments"
rm -f "$OUT/check.csv"

# measure KEY LABEL ROWS CMD...: one run under /usr/bin/time -v, appended to
# results.jsonl. The command's stdout (a helper's JSON) is merged in.
measure() {
    local key=$1 label=$2 rows=$3
    shift 3
    log "$label (round $round of $RUNS)"
    /usr/bin/time -v -o "$OUT/time.txt" "$@" >"$OUT/stdout.txt" 2>"$OUT/stderr.txt" ||
        { cat "$OUT/stderr.txt" >&2; die "$label failed"; }
    cp "$OUT/stdout.txt" "$OUT/$key.out" # e.g. train's own timing breakdown
    local rows_arg=()
    [[ -n $rows ]] && rows_arg=(--rows "$rows")
    "$PY" "$HELPER" record --key "$key" --label "$label" "${rows_arg[@]}" \
        --timev "$OUT/time.txt" --json "$OUT/stdout.txt" >>"$RESULTS"
}

: >"$RESULTS"
# Captured first so that a failing probe stops the script (set -e).
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
pyver=$("$PY" -c 'import platform; print(platform.python_version())')
pyversions=$("$PY" -c 'from importlib.metadata import version as v
print(", ".join(f"{p} {v(p)}" for p in ("scikit-learn", "numpy", "scipy", "alt-profanity-check")))')
"$PY" "$HELPER" record --key env \
    --set "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
    --set "nproc=$(nproc)" \
    --set "cpu=$cpu" \
    --set "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)" \
    --set "kernel=$(uname -sr)" \
    --set "rustc=$(rustc -V)" \
    --set "python=Python $pyver" \
    --set "pyversions=$pyversions" \
    --set "load_before=$(cut -d' ' -f1-3 /proc/loadavg)" \
    --set "runs=$RUNS" --set "dev=$DEV" --set "train=$TRAIN" >>"$RESULTS"

log "start-up"
if command -v hyperfine >/dev/null; then
    hyperfine --style none --warmup 5 --runs "$STARTUP_RUNS" \
        --export-json "$OUT/startup.json" \
        "echo hello | $BIN score - --input-format text" >/dev/null
    "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(json.dumps({"key": "startup", "median_ms": r["median"] * 1000, "min_ms": r["min"] * 1000,
                  "runs": len(r["times"]), "tool": "hyperfine"}))' "$OUT/startup.json" >>"$RESULTS"
else
    "$PY" "$HELPER" startup --runs "$STARTUP_RUNS" -- "$BIN" score - --input-format text |
        sed 's/^{/{"key": "startup", /' >>"$RESULTS"
fi

SK_FILE=$BIG SK_ROWS=$ROWS
[[ $SKLEARN_SCORE == 100k ]] && SK_FILE=$SMALL SK_ROWS=$SMALL_ROWS
for ((round = 1; round <= RUNS; round++)); do
    measure moderate_1m "moderate score, $ROWS comments" "$ROWS" \
        "$BIN" score "$BIG" --input-format text --format csv -o /dev/null
    measure moderate_100k "moderate score, $SMALL_ROWS comments" "$SMALL_ROWS" \
        "$BIN" score "$SMALL" --input-format text --format csv -o /dev/null
    measure moderate_1m_1t "moderate score --threads 1, $ROWS comments" "$ROWS" \
        "$BIN" score "$BIG" --input-format text --format csv -o /dev/null --threads 1
    measure apc_1m "alt-profanity-check predict_prob, $ROWS comments" "$ROWS" \
        "$PY" "$HELPER" apc "$BIG" --batch 10000
    if [[ $SKIP_TRAIN != 1 ]]; then
        measure moderate_train "moderate train (3-fold CV over 4 alphas, default)" "" \
            "$BIN" train --data "$TRAIN" --out "$OUT/m.model"
        measure moderate_train_nocv "moderate train --cv 0 (one fit per label)" "" \
            "$BIN" train --data "$TRAIN" --out "$OUT/m_nocv.model" --cv 0
        measure sklearn_train "scikit-learn TF-IDF word+char_wb + LogisticRegression train" "" \
            "$PY" "$HELPER" sk-train --train "$TRAIN" --out "$OUT/sklearn.pkl"
    fi
    if [[ $SKLEARN_SCORE != skip ]]; then
        [[ -f $OUT/sklearn.pkl ]] ||
            "$PY" "$HELPER" sk-train --train "$TRAIN" --out "$OUT/sklearn.pkl" >/dev/null
        measure sklearn_score "scikit-learn pipeline predict_proba (both labels), $SK_ROWS comments" \
            "$SK_ROWS" "$PY" "$HELPER" sk-score "$SK_FILE" --model "$OUT/sklearn.pkl" --batch 10000
    fi
done

"$PY" - "$RESULTS" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import json, sys
path, load = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
env = json.loads(lines[0])
env["load_after"] = load
lines[0] = json.dumps(env)
open(path, "w").write("\n".join(lines) + "\n")
EOF
rm -f "$OUT/time.txt" "$OUT/stdout.txt" "$OUT/stderr.txt"
"$PY" "$HELPER" table "$RESULTS" | tee "$OUT/results.md"
