#!/usr/bin/env bash
# Benchmark of `moderate serve` against the server a site would stand up
# today (uvicorn around alt-profanity-check's predict_prob), measured with
# oha on this machine in one run. See scripts/bench/serve_bench.py.
#
#   bash scripts/bench/serve.sh                     # 30 s per measurement + 10 min soak
#   DURATION=10s SOAK=0s bash scripts/bench/serve.sh   # quick, no soak
#
# Environment: DURATION (30s), CONCURRENCY (64), RATE (1000), SOAK (600s;
# 0s skips), DATA_DIR (../shared/data; its dev.csv gives the comments).
# Needs: cargo, python3 with venv, oha (`cargo install oha`). The first run
# needs network for pip (alt-profanity-check 1.9.1, scikit-learn 1.9.1,
# uvicorn[standard] 0.55.0, into target/serve-bench-venv).
# Writes target/bench/serve/: serve-results.json, serve-results.md, logs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
DATA_DIR=${DATA_DIR:-../shared/data}
OUT=target/bench/serve
VENV=target/serve-bench-venv
PY=$VENV/bin/python
command -v oha >/dev/null || { echo "oha is missing: cargo install oha" >&2; exit 1; }
[[ -f $DATA_DIR/dev.csv ]] || { echo "$DATA_DIR/dev.csv not found (set DATA_DIR)" >&2; exit 1; }
echo "== building moderate (release)" >&2
cargo build --release --quiet
if ! "$PY" -c 'import profanity_check, uvicorn, uvloop, httptools' 2>/dev/null; then
  echo "== creating $VENV" >&2
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check \
    "alt-profanity-check==1.9.1" "scikit-learn==1.9.1" "uvicorn[standard]==0.55.0"
fi
mkdir -p "$OUT"
{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $(uname -sr)"
  echo "software: $(rustc --version), $(oha --version), $("$PY" --version), uvicorn $("$PY" -c 'import uvicorn; print(uvicorn.__version__)'), alt-profanity-check $("$PY" -c 'import importlib.metadata as m; print(m.version("alt-profanity-check"))'); commit $(git rev-parse --short HEAD)"
  echo
  python3 scripts/bench/serve_bench.py --bin target/release/moderate --python "$PY" \
    --dev "$DATA_DIR/dev.csv" --out "$OUT" --duration "${DURATION:-30s}" \
    --concurrency "${CONCURRENCY:-64}" --rate "${RATE:-1000}" --soak "${SOAK:-600s}"
} | tee "$OUT/serve-results.md"
