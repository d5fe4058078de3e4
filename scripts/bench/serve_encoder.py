#!/usr/bin/env python3
"""Latency of `moderate serve` with both readers at a modest, steady rate.

Starts the given binary's `serve` (shipped model, both stages) on loopback,
sends Perspective `comments:analyze` requests for dev comments at a fixed
rate (open loop: a request is due every 1/rate seconds whether or not the
last has been answered), and prints p50/p90/p99/max latency, errors and the
server's peak RSS (VmHWM).

    python3 scripts/bench/serve_encoder.py --bin target/release/moderate \
        --dev ../shared/data/dev.csv --rate 20 --seconds 60
"""
import argparse, csv, json, os, random, socket, subprocess, tempfile, threading, time, urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    texts = [r["text"] for r in csv.DictReader(open(args.dev, newline=""))]
    random.Random(args.seed).shuffle(texts)
    port = free_port()
    store = os.path.join(tempfile.mkdtemp(), "moderate.db")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--access-log", "off",
         "--store", store],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            break
        except Exception:
            time.sleep(0.1)
    latencies, errors, lock = [], [0], threading.Lock()

    def send(text):
        body = json.dumps({"comment": {"text": text},
                           "requestedAttributes": {"TOXICITY": {}, "THREAT": {}}}).encode()
        req = urllib.request.Request(url + "/v1alpha1/comments:analyze", data=body,
                                     headers={"content-type": "application/json"})
        t0 = time.perf_counter()
        try:
            urllib.request.urlopen(req, timeout=30).read()
            ok = True
        except Exception:
            ok = False
        dt = (time.perf_counter() - t0) * 1000
        with lock:
            if ok:
                latencies.append(dt)
            else:
                errors[0] += 1

    n = int(args.rate * args.seconds)
    start = time.perf_counter()
    threads = []
    for i in range(n):
        due = start + i / args.rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        t = threading.Thread(target=send, args=(texts[i % len(texts)],))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    hwm = "?"
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith("VmHWM"):
            hwm = line.split(":")[1].strip()
    server.terminate()
    server.wait()
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))]
    print(f"{n} analyze requests at {args.rate:g}/s for {args.seconds:g} s: "
          f"p50 {q(0.5):.1f} ms, p90 {q(0.9):.1f} ms, p99 {q(0.99):.1f} ms, "
          f"max {latencies[-1]:.1f} ms, {errors[0]} errors; server peak RSS {hwm}")


if __name__ == "__main__":
    main()
