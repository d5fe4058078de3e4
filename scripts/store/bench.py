#!/usr/bin/env python3
"""The store's benchmark (issue 25), in one run on this machine, with the
real binaries and examples/store_load.rs as the client:

1. `comments:suggestscore` throughput: distinct Coral-style decisions, each
   committed before its 200, from 32 keep-alive connections; with SQLite
   and with PostgreSQL, one instance and two instances sharing the store.
2. `comments:analyze` latency at a fixed offered rate (1,000 req/s, open
   loop: latency counts from when a request was due), for the binary
   before the store (`--base-bin`, built from the commit before it) and
   after (which also records what it flagged, for later decisions),
   alternating, `--rounds` each. Comments are dev.csv's, one per request.

Usage:
    python3 scripts/store/bench.py --base-bin /tmp/moderate-base
        [--bin target/release/moderate] [--load target/release/examples/store_load]
        [--dev ../shared/data/dev.csv] [--seconds 30] [--rounds 2] [--postgres URL]

Every measurement records the load average before and after it: other
jobs on the machine move these figures. Writes target/store-bench/results.json
and prints Markdown.
"""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shared_store import ROOT, Instance, fresh_postgres  # noqa: E402


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def load(args, *extra):
    out = subprocess.run([args.load, *extra], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"store_load failed: {out.stderr}")
    return json.loads(out.stdout)


def suggest(args, store, instances, work, name):
    # One instance: the default workers (all cores); two: one each.
    extra = ["--store", store] + (["--workers", "1", "--io-threads", "1"] if instances > 1 else [])
    servers = [Instance(args.bin, extra, work, f"{name}-{i}") for i in range(instances)]
    try:
        # Warm-up (connections, first transactions), then the measurement.
        load(args, "suggest", "--targets", ",".join(s.addr for s in servers), "--requests", "2000",
             "--connections", "32", "--prefix", f"{name}-warm")
        before = loadavg()
        r = load(args, "suggest", "--targets", ",".join(s.addr for s in servers), "--requests",
                 str(args.suggest_requests), "--connections", "32", "--prefix", name)
        r["load_before"], r["load_after"] = before, loadavg()
        return r
    finally:
        for s in servers:
            s.stop()


def analyze(args, binary, extra, texts, work, name):
    s = Instance(binary, extra, work, name)
    try:
        load(args, "analyze", "--targets", s.addr, "--texts", texts, "--rate", "1000", "--seconds", "3",
             "--connections", "64")
        before = loadavg()
        r = load(args, "analyze", "--targets", s.addr, "--texts", texts, "--rate", "1000",
                 "--seconds", str(args.seconds), "--connections", "64")
        r["load_before"], r["load_after"] = before, loadavg()
        return r
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "moderate"))
    ap.add_argument("--base-bin", required=True, help="moderate built from the commit before the store")
    ap.add_argument("--load", default=os.path.join(ROOT, "target", "release", "examples", "store_load"))
    ap.add_argument("--dev", default=os.path.join(ROOT, "..", "shared", "data", "dev.csv"))
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--suggest-requests", type=int, default=20_000)
    ap.add_argument("--postgres", help="base URL of a PostgreSQL server (default: start one)")
    args = ap.parse_args()
    args.bin, args.load = os.path.abspath(args.bin), os.path.abspath(args.load)
    args.base_bin = os.path.abspath(args.base_bin)
    out_dir = os.path.join(ROOT, "target", "store-bench")
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="moderate-store-bench.")
    texts = os.path.join(work, "texts.txt")
    with open(args.dev, newline="", encoding="utf-8") as f, open(texts, "w", encoding="utf-8") as out:
        n = 0
        for row in csv.DictReader(f):
            t = " ".join(row["text"].split())
            if t and len(t.encode()) <= 20_000:
                out.write(t + "\n")
                n += 1
            if n >= 5000:
                break
    pg_dir = None
    base = args.postgres
    if not base:
        pg_dir = tempfile.mkdtemp(prefix="moderate-bench-pg.")
        started = subprocess.run(["bash", os.path.join(ROOT, "scripts", "store", "postgres.sh"), "start",
                                  pg_dir, "55435"], capture_output=True, text=True)
        if started.returncode != 0:
            raise SystemExit(f"cannot start PostgreSQL: {started.stderr}")
        base = started.stdout.strip().split("=", 1)[1]
    results = {"suggest": [], "analyze": []}
    try:
        for kind in ("sqlite", "postgres"):
            for instances in (1, 2):
                name = f"{kind}-{instances}"
                store = (os.path.join(work, f"{name}.db") if kind == "sqlite"
                         else fresh_postgres(base, f"moderate_bench_{instances}"))
                r = suggest(args, store, instances, work, name)
                r.update(store=kind, instances=instances)
                results["suggest"].append(r)
                print(f"suggestscore {name}: {r['ok_per_second']:.0f} req/s", file=sys.stderr)
        for rnd in range(args.rounds):
            for label, binary, extra in (("before (decisions CSV)", args.base_bin, []),
                                         ("after (SQLite store)", args.bin, [])):
                r = analyze(args, binary, extra, texts, work, f"analyze-{rnd}-{label.split()[0]}")
                r.update(binary=label, round=rnd + 1)
                results["analyze"].append(r)
                print(f"analyze {label} round {rnd + 1}: p99 {r['p99_ms']:.2f} ms", file=sys.stderr)
    finally:
        if pg_dir:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "store", "postgres.sh"), "stop", pg_dir],
                           capture_output=True)
            shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    print(f"commit {commit}; {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print()
    print("comments:suggestscore, 32 connections, each decision committed before its 200:")
    print()
    print("| store | instances | decisions | req/s | p50 ms | p99 ms | non-200 | load avg before/after |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results["suggest"]:
        print(f"| {r['store']} | {r['instances']} | {r['requests']} | {r['ok_per_second']:.0f} | "
              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['failed'] + r['other_status']} | "
              f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    print()
    print(f"comments:analyze at 1,000 req/s offered for {args.seconds} s, 64 connections, one instance:")
    print()
    print("| binary | round | p50 ms | p90 ms | p99 ms | max ms | non-200 | load avg before/after |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results["analyze"]:
        print(f"| {r['binary']} | {r['round']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | "
              f"{r['max_ms']:.2f} | {r['failed'] + r['other_status']} | {r['load_before']:.1f} / {r['load_after']:.1f} |")
    before = statistics.median(r["p99_ms"] for r in results["analyze"] if r["binary"].startswith("before"))
    after = statistics.median(r["p99_ms"] for r in results["analyze"] if r["binary"].startswith("after"))
    print()
    print(f"analyze p99, median of rounds: before {before:.2f} ms, after {after:.2f} ms "
          f"({100 * (after - before) / before:+.1f}%)")


if __name__ == "__main__":
    main()
