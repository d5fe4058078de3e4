#!/usr/bin/env python3
"""Runs the `moderate serve` benchmark (called by scripts/bench/serve.sh).

In one run on this machine, for `moderate serve` and for the peer (uvicorn,
2 workers, around alt-profanity-check's predict_prob), with oha:

1. throughput: single-comment analyze requests at a fixed concurrency;
2. latency at a fixed offered rate (1,000 req/s by default, with oha's
   latency correction, so a stall counts against the requests it delays);
3. a soak of `moderate serve` at the fixed rate, sampling its RSS.

Request bodies are Coral-style analyze requests, one distinct comment per
line (oha -Z), from ../shared/data/dev.csv. Both servers get the same
bodies, the same cores and no access log. Other jobs share the machine, so
every measurement records the load average before and after it and the CPU
that processes other than the server, oha and this script used meanwhile
("others' CPU", in percent of all cores): a measurement with a large share is
disturbed and should be re-run.
"""
import argparse
import csv
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """CPU seconds spent by the whole machine (all cores) since boot, not idle."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def cpu_seconds(pids):
    """user + system CPU seconds of these processes (and their waited children)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, ValueError, IndexError):
            pass
    return total / CLK_TCK


class OthersCpu:
    """The CPU used by everything but `server_pid`'s tree, oha and this script
    between start() and stop(), as a percentage of all cores."""

    def __init__(self, server_pid):
        self.server_pid = server_pid

    def start(self):
        self.t0 = time.monotonic()
        self.busy0 = busy_seconds()
        self.server0 = cpu_seconds(tree(self.server_pid))
        self.self0 = resource.getrusage(resource.RUSAGE_SELF)
        self.children0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def stop(self):
        wall = time.monotonic() - self.t0
        busy = busy_seconds() - self.busy0
        server = cpu_seconds(tree(self.server_pid)) - self.server0
        me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        mine = (me.ru_utime + me.ru_stime - self.self0.ru_utime - self.self0.ru_stime
                + ch.ru_utime + ch.ru_stime - self.children0.ru_utime - self.children0.ru_stime)
        others = max(0.0, busy - server - mine)
        cores = os.cpu_count()
        return {"others_cpu_pct": 100 * others / (wall * cores), "server_cpu_pct": 100 * server / (wall * cores),
                "oha_cpu_pct": 100 * mine / (wall * cores)}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree(pid):
    """pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def status_kb(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples the summed RSS of a process tree every `every` seconds."""

    def __init__(self, pid, every):
        self.pid, self.every = pid, every
        self.samples = []  # (seconds since start, bytes)
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            rss = sum(status_kb(p, "VmRSS") for p in tree(self.pid)) * 1024
            self.samples.append((time.monotonic() - self._start, rss))
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._t.join()

    def peak_hwm(self):
        """Summed VmHWM (each process's own peak) of the tree."""
        return sum(status_kb(p, "VmHWM") for p in tree(self.pid)) * 1024


def wait_ready(port, timeout=60):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not become ready")


def oha(url, bodies, duration, concurrency, rate=None, server_pid=None):
    cmd = ["oha", "-z", duration, "-c", str(concurrency), "-m", "POST", "-T", "application/json",
           "-Z", bodies, "--no-tui", "--output-format", "json", "-w"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    before = loadavg()
    cpu = OthersCpu(server_pid) if server_pid else None
    if cpu:
        cpu.start()
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    shares = cpu.stop() if cpu else {}
    after = loadavg()
    d = json.loads(out)
    codes = d.get("statusCodeDistribution") or {}
    errors = d.get("errorDistribution") or {}
    total = sum(codes.values()) + sum(errors.values())
    return {
        "rps": d["summary"]["requestsPerSec"],
        "p50_ms": d["latencyPercentiles"]["p50"] * 1e3,
        "p99_ms": d["latencyPercentiles"]["p99"] * 1e3,
        "p999_ms": (d["latencyPercentiles"].get("p99.9") or 0) * 1e3,
        "requests": total,
        "non_200": total - codes.get("200", 0),
        "errors": errors,
        "load": f"{before} -> {after}",
        **shares,
    }


class Proc:
    def __init__(self, cmd, log, env=None, cwd=None):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def make_bodies(path, dev, n):
    texts = []
    seen = set()
    with open(dev, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            t = row["text"]
            if t.strip() and len(t.encode()) <= 20480 and t not in seen:
                seen.add(t)
                texts.append(t)
            if len(texts) >= n:
                break
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            # The body Coral sends (perspective.ts formatBody).
            f.write(json.dumps({"comment": {"text": t}, "doNotStore": True,
                                "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]}) + "\n")
    return len(texts)


def measure(name, start, args, out, results):
    port = free_port()
    proc = start(port)
    try:
        wait_ready(port)
        url = f"http://127.0.0.1:{port}/v1alpha1/comments:analyze"
        oha(url, args.bodies, "3s", args.concurrency)  # warm-up
        sampler = RssSampler(proc.p.pid, 0.5)
        print(f"== {name}: {args.duration} at concurrency {args.concurrency}", file=sys.stderr, flush=True)
        r = oha(url, args.bodies, args.duration, args.concurrency, server_pid=proc.p.pid)
        print(f"== {name}: {args.duration} at {args.rate} req/s offered", file=sys.stderr, flush=True)
        q = oha(url, args.bodies, args.duration, args.concurrency, rate=args.rate, server_pid=proc.p.pid)
        sampler.stop()
        r["peak_rss"] = sampler.peak_hwm()
        results[name] = {"throughput": r, "rate": q}
        print(f"   {name}: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms; "
              f"at {args.rate}/s p99 {q['p99_ms']:.2f} ms; peak RSS {r['peak_rss'] / 2**20:.0f} MiB; "
              f"load {r['load']}, others' CPU {r['others_cpu_pct']:.0f}% / {q['others_cpu_pct']:.0f}%",
              file=sys.stderr, flush=True)
    finally:
        proc.stop()


def soak(args, start, results):
    port = free_port()
    proc = start(port)
    try:
        wait_ready(port)
        url = f"http://127.0.0.1:{port}/v1alpha1/comments:analyze"
        # The same warm-up as the other measurements (every worker has built
        # its Scorer, allocator arenas are in use), then the soak, with RSS
        # sampled from its first second to its last.
        rss_cold = sum(status_kb(p, "VmRSS") for p in tree(proc.p.pid)) * 1024
        oha(url, args.bodies, "3s", args.concurrency)
        sampler = RssSampler(proc.p.pid, 5)
        print(f"== soak: moderate serve at {args.rate} req/s for {args.soak}", file=sys.stderr, flush=True)
        q = oha(url, args.bodies, args.soak, args.concurrency, rate=args.rate, server_pid=proc.p.pid)
        sampler.stop()
        s = [b for _, b in sampler.samples]
        q.update({
            "rss_cold": rss_cold, "rss_start": s[0], "rss_end": s[-1], "rss_min": min(s), "rss_max": max(s),
            "samples": len(s), "peak_rss": sampler.peak_hwm(),
            # Flat: every sample within 20% of the first (after warm-up).
            "rss_spread": (max(s) - min(s)) / s[0],
            "rss_growth": s[-1] / s[0] - 1,
            # Every sample, so the trend (plateau or steady growth) can be read.
            "rss_samples": [[round(t, 1), b] for t, b in sampler.samples],
        })
        results["soak"] = q
    finally:
        proc.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--python", required=True, help="the venv's python (alt-profanity-check, uvicorn)")
    ap.add_argument("--dev", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--duration", default="30s")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--soak", default="600s", help="`0s` skips the soak")
    ap.add_argument("--peer-workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    args.bodies = os.path.join(args.out, "analyze_bodies.jsonl")
    n = make_bodies(args.bodies, args.dev, 5000)
    print(f"== {n} distinct analyze bodies from {args.dev}", file=sys.stderr)
    results = {"bodies": n, "nproc": os.cpu_count(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "load_at_start": open("/proc/loadavg").read().split()[:3]}

    def start_moderate(port, log_mode="off"):
        return Proc([args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--access-log", log_mode,
                     "--store", os.path.join(args.out, "bench-store.db")],
                    os.path.join(args.out, f"moderate-{port}.log"))

    def start_peer(port):
        # One BLAS/OpenMP thread per worker: 2 workers on 2 cores, no
        # oversubscription (the peer's best setting).
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        return Proc([args.python, "-m", "uvicorn", "--app-dir", os.path.join(ROOT, "scripts", "bench"),
                     "peer_server:app", "--host", "127.0.0.1", "--port", str(port), "--workers",
                     str(args.peer_workers), "--no-access-log", "--log-level", "warning",
                     "--loop", "uvloop", "--http", "httptools"],
                    os.path.join(args.out, f"peer-{port}.log"), env=env)

    measure("moderate", start_moderate, args, args.out, results)
    measure("moderate, access log on", lambda p: start_moderate(p, "text"), args, args.out, results)
    measure("peer", start_peer, args, args.out, results)
    if args.soak not in ("0", "0s"):
        soak(args, start_moderate, results)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(os.path.join(args.out, "serve-results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(table(results, args))


def table(res, args):
    mib = lambda b: f"{b / 2**20:.0f} MiB"
    lines = [f"`moderate serve` vs the peer (uvicorn {args.peer_workers} workers + alt-profanity-check), "
             f"{res['bodies']} distinct analyze bodies, {res['nproc']} cores, {res['started']} .. {res['finished']}, "
             f"load average at start {' '.join(res['load_at_start'])}", "",
             f"Throughput: {args.duration} at concurrency {args.concurrency}; rate: {args.duration} at {args.rate} req/s offered "
             "(oha --latency-correction). Peak RSS: summed VmHWM of the server's processes. "
             "Others' CPU: what other jobs on the machine used meanwhile, % of all cores.", "",
             f"| server | req/s at c={args.concurrency} | p50 | p99 | non-200 | achieved at {args.rate}/s | p50 at {args.rate}/s | p99 at {args.rate}/s | non-200 at {args.rate}/s | peak RSS | load avg | others' CPU |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name in ("moderate", "moderate, access log on", "peer"):
        r, q = res[name]["throughput"], res[name]["rate"]
        lines.append(f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {r['non_200']} | "
                     f"{q['rps']:,.0f}/s | {q['p50_ms']:.2f} ms | {q['p99_ms']:.2f} ms | {q['non_200']} | {mib(r['peak_rss'])} | "
                     f"{r['load']}; {q['load']} | {r['others_cpu_pct']:.0f}%; {q['others_cpu_pct']:.0f}% |")
    m, p = res["moderate"], res["peer"]
    ratio = m["throughput"]["rps"] / p["throughput"]["rps"]
    lines += ["", "| target | measured | met? |", "|---|---:|---|",
              f"| req/s >= 10x the peer's | {ratio:.1f}x | {'yes' if ratio >= 10 else 'no'} |",
              f"| p99 <= 10 ms at {args.rate} req/s offered | {m['rate']['p99_ms']:.2f} ms | {'yes' if m['rate']['p99_ms'] <= 10 else 'no'} |",
              f"| zero errors | {m['throughput']['non_200'] + m['rate']['non_200']} non-200 | {'yes' if m['throughput']['non_200'] + m['rate']['non_200'] == 0 else 'no'} |"]
    if "soak" in res:
        s = res["soak"]
        lines.append(f"| RSS flat (within 20%) over the {args.soak} soak at {args.rate} req/s | "
                     f"{mib(s['rss_start'])} after warm-up, {mib(s['rss_min'])}..{mib(s['rss_max'])} over {s['samples']} samples, "
                     f"{mib(s['rss_end'])} at the end (spread {s['rss_spread'] * 100:.1f}%, growth {s['rss_growth'] * 100:+.1f}%); "
                     f"{s['rps']:,.0f} req/s achieved, p99 {s['p99_ms']:.2f} ms, {s['non_200']} non-200 of {s['requests']:,}; "
                     f"load {s['load']}, others' CPU {s['others_cpu_pct']:.0f}% | "
                     f"{'yes' if s['rss_spread'] <= 0.2 and s['non_200'] == 0 else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
