#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback for tests and benchmarks:
# Debian's `postgresql` package, `initdb` in a temporary folder.
#
#   eval "$(bash scripts/store/postgres.sh start DIR [PORT])"   # exports MODERATE_TEST_POSTGRES
#   bash scripts/store/postgres.sh stop DIR
#
# `start` installs the package when it is missing and apt-get can (as root),
# and prints `export MODERATE_TEST_POSTGRES=postgres://moderate@127.0.0.1:PORT/postgres`
# on stdout (everything else goes to stderr). As root, the server runs as the
# package's `postgres` user (PostgreSQL refuses to run as root). It exits
# non-zero, saying why, when no server can be started.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop DIR [PORT]}
dir=${2:?usage: postgres.sh start|stop DIR [PORT]}
port=${3:-55432}

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if ! bin=$(bindir); then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing Debian's postgresql package" >&2
        (timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq postgresql) >&2
        # The package starts a cluster of its own on port 5432: not ours, stop it.
        for v in /etc/postgresql/*; do
          [ -d "$v/main" ] && { pg_ctlcluster "$(basename "$v")" main stop 2>/dev/null || true; }
        done
      fi
      bin=$(bindir) || { echo "postgres.sh: PostgreSQL is not installed and cannot be (apt-get install postgresql as root)" >&2; exit 1; }
    fi
    mkdir -p "$dir"
    data="$dir/data"
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
      as_owner "$bin/initdb" -D "$data" -A trust -U moderate -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on -c synchronous_commit=on" \
      start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    echo "export MODERATE_TEST_POSTGRES=postgres://moderate@127.0.0.1:$port/postgres"
    ;;
  stop)
    bin=$(bindir) || exit 0
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR [PORT]" >&2; exit 2 ;;
esac
