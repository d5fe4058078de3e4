#!/usr/bin/env python3
"""Two `moderate serve` instances on loopback sharing one store, once with
SQLite and once with PostgreSQL (issue 25):

1. a round-robin client (examples/store_load.rs) sends 10,000 distinct
   Coral-style `comments:suggestscore` decisions across the two instances,
   and every 10th one a second time through the other instance (a client
   retrying through a load balancer). The store must then hold exactly one
   row per decision: none lost, none duplicated.
2. the same with `kill -9` of one instance mid-run: every decision that was
   acknowledged (200, either instance) must be in the store, once.

Usage:
    python3 scripts/store/shared_store.py [--bin target/release/moderate]
        [--load target/release/examples/store_load] [--requests 10000]
        [--postgres postgres://user@127.0.0.1:PORT/postgres]

Without --postgres a throw-away PostgreSQL is started with
scripts/store/postgres.sh (Debian's package, initdb in a temporary folder)
and stopped at the end. Writes target/store-check/results.json and prints a
Markdown table; exits 1 when a check fails.
"""
import argparse
import csv
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Instance:
    """One `moderate serve` on an ephemeral loopback port."""

    def __init__(self, binary, extra, workdir, name):
        self.log = open(os.path.join(workdir, f"{name}.log"), "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATE_")}
        self.p = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--access-log", "off", *extra],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addr = None
        for _ in range(10):
            line = self.p.stderr.readline().decode()
            self.log.write(line.encode())
            if "listening on http://" in line:
                self.addr = line.split("http://")[1].split()[0]
                break
            if not line:
                break
        if not self.addr:
            raise SystemExit(f"{name} did not start; see {self.log.name}")
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.p.stderr:
            self.log.write(line)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def export(binary, store):
    out = subprocess.run([binary, "store", "export", "--store", store, "--labels", "abusive,violent"],
                         capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                             if not k.startswith("MODERATE_")})
    if out.returncode != 0:
        raise SystemExit(f"store export failed: {out.stderr}")
    rows = list(csv.reader(io.StringIO(out.stdout, newline="")))
    return rows[1:]


def fresh_postgres(base_url, name):
    """Creates database `name` on the server at base_url; returns its URL."""
    psql = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)), None)
    if not psql:
        raise SystemExit("psql not found (Debian's postgresql-client)")
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run([psql, base_url, "-q", "-c", sql], check=True, capture_output=True)
    return base_url.rsplit("/", 1)[0] + "/" + name


def run_case(args, kind, store, workdir, kill_after):
    prefix = f"{kind}{'-kill' if kill_after else ''}"
    # Two instances on 2 cores: one scoring worker and one I/O thread each.
    extra = ["--store", store, "--workers", "1", "--io-threads", "1"]
    a = Instance(args.bin, extra, workdir, f"{prefix}-a")
    b = Instance(args.bin, extra, workdir, f"{prefix}-b")
    acked_file = os.path.join(workdir, f"{prefix}-acked.txt")
    killed = {}
    if kill_after:
        def kill():
            time.sleep(kill_after)
            a.p.kill()  # SIGKILL, mid-run
            killed["t"] = time.monotonic()
            a.p.wait()
        threading.Thread(target=kill, daemon=True).start()
    t0 = time.monotonic()
    out = subprocess.run([args.load, "suggest", "--targets", f"{a.addr},{b.addr}",
                          "--requests", str(args.requests), "--connections", str(args.connections),
                          "--retry-every", "10", "--prefix", prefix, "--acked", acked_file],
                         capture_output=True, text=True)
    t_end = time.monotonic()
    wall = t_end - t0
    if out.returncode != 0:
        raise SystemExit(f"store_load failed: {out.stderr}")
    load = json.loads(out.stdout)
    a.stop()
    b.stop()
    acked = set(open(acked_file).read().split())
    rows = [r for r in export(args.bin, store) if r[0].startswith(prefix + "-")]
    ids = [r[0] for r in rows]
    distinct = set(ids)
    lost = sorted(acked - distinct)
    duplicated = len(ids) - len(distinct)
    if kill_after:
        # The kill must have happened while the client was still sending.
        ok = not lost and not duplicated and killed.get("t", float("inf")) < t_end
        expected = "every acknowledged decision in the store, once"
    else:
        ok = len(rows) == args.requests and not lost and not duplicated and len(acked) == args.requests
        expected = f"{args.requests} rows, none lost or duplicated"
    return {
        "store": kind, "kill_9": bool(kill_after), "requests": args.requests,
        "retries_sent": args.requests // 10 + (1 if args.requests % 10 else 0),
        "acknowledged": len(acked), "rows": len(rows), "lost": len(lost), "duplicated": duplicated,
        "not_acknowledged_but_stored": len(distinct - acked),
        "failed_requests": load["failed"] + load["other_status"], "reasons": load["reasons"],
        "seconds": round(wall, 2), "expected": expected, "ok": ok,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "moderate"))
    ap.add_argument("--load", default=os.path.join(ROOT, "target", "release", "examples", "store_load"))
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--kill-after", type=float, default=1.5, help="seconds into the run")
    ap.add_argument("--postgres", help="base URL of a PostgreSQL server (default: start one)")
    args = ap.parse_args()
    args.bin, args.load = os.path.abspath(args.bin), os.path.abspath(args.load)
    for p in (args.bin, args.load):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"{p} not found: cargo build --release --example store_load")
    out_dir = os.path.join(ROOT, "target", "store-check")
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="moderate-shared-store.")
    pg_dir = None
    base = args.postgres
    if not base:
        pg_dir = tempfile.mkdtemp(prefix="moderate-shared-pg.")
        started = subprocess.run(["bash", os.path.join(ROOT, "scripts", "store", "postgres.sh"), "start",
                                  pg_dir, "55434"], capture_output=True, text=True)
        if started.returncode != 0:
            raise SystemExit(f"cannot start PostgreSQL: {started.stderr}")
        base = started.stdout.strip().split("=", 1)[1]
    results = []
    try:
        for kill_after in (0, args.kill_after):
            suffix = "kill" if kill_after else "run"
            sqlite = os.path.join(work, f"shared-{suffix}.db")
            results.append(run_case(args, "sqlite", sqlite, work, kill_after))
            pg = fresh_postgres(base, f"moderate_shared_{suffix}")
            results.append(run_case(args, "postgres", pg, work, kill_after))
    finally:
        if pg_dir:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "store", "postgres.sh"), "stop", pg_dir],
                           capture_output=True)
            shutil.rmtree(pg_dir, ignore_errors=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"commit {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}; "
          f"two instances (1 scoring worker, 1 I/O thread each) on loopback, one store; "
          f"{args.requests} decisions round-robin, every 10th sent again through the other instance; "
          f"{args.connections} client connections")
    print()
    print("| store | kill -9 of one instance | requests (+ retries) | acknowledged | rows | lost | duplicated | stored, not acknowledged | failed requests | s | result |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        print(f"| {r['store']} | {'yes, at ' + str(args.kill_after) + ' s' if r['kill_9'] else 'no'} | "
              f"{r['requests']} (+{r['retries_sent']}) | {r['acknowledged']} | {r['rows']} | {r['lost']} | "
              f"{r['duplicated']} | {r['not_acknowledged_but_stored']} | {r['failed_requests']} | {r['seconds']} | "
              f"{'PASS' if r['ok'] else 'FAIL'} ({r['expected']}) |")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
