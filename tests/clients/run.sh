#!/usr/bin/env bash
# Real Perspective clients against the real `moderate serve`, on an
# ephemeral loopback port:
#   - PyPI `perspective` 1.0.3 (analyze_comment, score, suggest_score, errors)
#   - PyPI `perspectiveapi` 1.1.0 (typed httpx client, redirected by transport)
#   - npm `googleapis` 50.0.0 commentanalyzer (rootUrl pointed at the server;
#     later googleapis releases no longer ship commentanalyzer)
#   - a Coral-style signed phase request, signed with Python's hmac
# Packages are installed into target/serve-clients (reused by later runs).
# A client whose package cannot be installed (no network) is skipped with a
# message; a client that runs and fails makes the script exit 1.
#
#   bash tests/clients/run.sh              # uses target/release or target/debug
#   MODERATE_BIN=path/to/moderate bash tests/clients/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/tests/clients
CACHE=${CLIENTS_CACHE:-$ROOT/target/serve-clients}
mkdir -p "$CACHE"

BIN=${MODERATE_BIN:-}
if [ -z "$BIN" ]; then
  for b in target/release/moderate target/debug/moderate; do
    if [ -x "$b" ] && [ "$b" -nt src/serve/app.rs ]; then BIN=$b; break; fi
  done
fi
if [ -z "$BIN" ]; then
  echo "== building moderate (debug)"
  cargo build -q || exit 1
  BIN=target/debug/moderate
fi
# Absolute, and exported: the clients read the store with `moderate store export`.
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
export MODERATE_BIN=$BIN

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

KEY=client-test-key
SECRET=empsec_0123456789abcdef0123456789abcdef
# The Coral check sends a kind and an abusive comment; the abusive flag
# threshold is put between their scores (as `moderate score` gives them), so
# the check holds for any model that ranks them the right way round.
FLAG=$(printf '%s\n' "Thanks for the link, very helpful." "Shut your mouth, you stupid idiot." \
  | "$BIN" score - --input-format text --format csv \
  | python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); k,n=(float(x["abusive"]) for x in r); assert k<n, (k,n); print((k+n)/2)') \
  || { echo "the shipped model does not rank the Coral check's comments: cannot run it"; exit 1; }
MODERATE_API_KEYS=$KEY MODERATE_CORAL_SECRETS=$SECRET \
  "$BIN" serve --listen 127.0.0.1:0 --store "$WORK/moderate.db" --access-log off \
  --threshold "abusive=$FLAG" --threshold violent=1 \
  2> "$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do
  ADDR=$(sed -n 's#^moderate serve: listening on http://\([^ ]*\).*#\1#p' "$WORK/server.log")
  [ -n "$ADDR" ] && break
  sleep 0.05
done
if [ -z "${ADDR:-}" ]; then echo "the server did not start:"; cat "$WORK/server.log"; exit 1; fi
BASE=http://$ADDR
echo "== moderate serve at $BASE ($BIN)"

RESULTS=$WORK/results
: > "$RESULTS"
FAILED=0
# run NAME COMMAND...: runs a client, records its PASS/FAIL lines.
run() {
  local name=$1; shift
  local out
  out=$("$@" 2>&1); local code=$?
  echo "$out" | sed "s/^/  [$name] /"
  echo "$out" | grep -E '^(PASS|FAIL) ' | sed "s/^/$name|/" >> "$RESULTS"
  if [ $code -ne 0 ]; then FAILED=1; grep -q "^$name|FAIL" "$RESULTS" || echo "$name|FAIL exited $code" >> "$RESULTS"; fi
}
skip() { echo "  [$1] SKIPPED: $2"; echo "$1|SKIP $2" >> "$RESULTS"; }

# Python clients, in one virtual environment.
VENV=$CACHE/venv
PY=
if [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >/dev/null 2>&1; then
  PY=$VENV/bin/python
fi
pip_install() {
  [ -n "$PY" ] || return 1
  "$PY" -m pip show "${1%%==*}" >/dev/null 2>&1 && return 0
  timeout 180 "$PY" -m pip install -q --disable-pip-version-check --timeout 15 --retries 1 "$@" >/dev/null 2>&1
}
if pip_install perspective==1.0.3; then
  run perspective "$PY" "$HERE/perspective_client.py" "$BASE" "$KEY" "$WORK/moderate.db"
else
  skip perspective "pip could not install perspective==1.0.3 (no network or no venv)"
fi
# perspectiveapi installs a package also named `perspective`: its own venv.
VENV2=$CACHE/venv-perspectiveapi
PY2=
if [ -x "$VENV2/bin/python" ] || python3 -m venv "$VENV2" >/dev/null 2>&1; then PY2=$VENV2/bin/python; fi
if [ -n "$PY2" ] && { "$PY2" -m pip show perspectiveapi >/dev/null 2>&1 || timeout 180 "$PY2" -m pip install -q --disable-pip-version-check --timeout 15 --retries 1 perspectiveapi==1.1.0 >/dev/null 2>&1; }; then
  run perspectiveapi "$PY2" "$HERE/perspectiveapi_client.py" "$BASE" "$KEY"
else
  skip perspectiveapi "pip could not install perspectiveapi==1.1.0"
fi
# Coral's signature, computed by Python's standard library.
if command -v python3 >/dev/null 2>&1; then
  run coral-hmac python3 "$HERE/coral_signed.py" "$BASE" "$SECRET"
else
  skip coral-hmac "no python3"
fi
# npm googleapis.
NODE_DIR=$CACHE/node
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ -d "$NODE_DIR/node_modules/googleapis/build/src/apis/commentanalyzer" ] || \
     timeout 300 npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error \
       --fetch-timeout=15000 --fetch-retries=1 googleapis@50.0.0 >/dev/null 2>&1; then
    run googleapis env NODE_PATH="$NODE_DIR/node_modules" node "$HERE/googleapis_client.js" "$BASE" "$KEY" "$WORK/moderate.db"
  else
    skip googleapis "npm could not install googleapis@50.0.0"
  fi
else
  skip googleapis "no node/npm"
fi

echo
echo "| client | check | result |"
echo "|---|---|---|"
while IFS='|' read -r client line; do
  result=${line%% *}; check=${line#* }
  echo "| $client | $check | $result |"
done < "$RESULTS"
passes=$(grep -c '|PASS ' "$RESULTS"); fails=$(grep -c '|FAIL ' "$RESULTS"); skips=$(grep -c '|SKIP ' "$RESULTS")
echo
echo "clients: $passes checks passed, $fails failed, $skips clients skipped"
[ "$FAILED" = 0 ] && [ "$fails" = 0 ]
