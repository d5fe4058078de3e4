#!/usr/bin/env python3
"""Fault battery for `moderate serve`: hostile and broken clients against the
real binary, one table of what was sent, what was expected and what came back.

    cargo build --release
    python3 scripts/serve/faults.py                 # prints the table
    python3 scripts/serve/faults.py --idle 5000     # idle connections to open

Standard library only. Starts its own servers on ephemeral loopback ports
(with --header-timeout 5 --body-timeout 5 so the slow-client checks take
seconds, not the default 30/10), kills them at the end.
"""
import argparse
import csv
import hashlib
import hmac
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "battery-key"
SECRET = "empsec_battery_0123456789abcdef"
ROWS = []


def record(fault, expected, observed, ok):
    ROWS.append((fault, expected, observed, "pass" if ok else "FAIL"))
    print(f"  {'ok  ' if ok else 'FAIL'} {fault}: {observed}", flush=True)


class Server:
    def __init__(self, binary, workdir, *args, env=None):
        e = dict(os.environ)
        e.pop("MODERATE_API_KEYS", None)
        e.pop("MODERATE_CORAL_SECRETS", None)
        e.update(env or {})
        self.log = open(os.path.join(workdir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--access-log", "off", *args],
            cwd=workdir, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = self.proc.stderr.readline().decode()
        if "listening on http://" not in line:
            raise SystemExit(f"server did not start: {line}{self.proc.stderr.read().decode()}")
        host, port = line.split("http://")[1].split()[0].rsplit(":", 1)
        self.addr = (host, int(port))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http(addr, method, path, body=b"", headers=None, timeout=30):
    """One request, Connection: close; returns (status, headers, body, seconds)."""
    start = time.monotonic()
    s = socket.create_connection(addr, timeout=timeout)
    h = {"host": "x", "connection": "close", "content-type": "application/json",
         "content-length": str(len(body))}
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    try:
        s.sendall(head.encode() + body)
    except OSError:
        pass
    raw = read_all(s)
    s.close()
    return parse(raw) + (time.monotonic() - start,)


def read_all(s):
    chunks = []
    while True:
        try:
            c = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not c:
            break
        chunks.append(c)
    return b"".join(chunks)


def parse(raw):
    if b"\r\n\r\n" not in raw:
        return (0, {}, raw)
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:] if ": " in l)}
    return (status, headers, body)


def error_of(body):
    try:
        e = json.loads(body)["error"]
        kind = (e.get("details") or [{}])[0]
        return f"{e['code']} {e['status']} {kind.get('errorType') or kind.get('reason') or ''}".strip()
    except Exception:
        return f"non-JSON body {body[:60]!r}"


def analyze(text, **extra):
    return json.dumps({"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, **extra}).encode()


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bad_requests(srv):
    a = srv.addr
    path = f"/v1alpha1/comments:analyze?key={KEY}"
    cases = [
        ("malformed JSON", b'{"comment": {"text": "hi"', "400 INVALID_ARGUMENT INVALID_REQUEST"),
        ("wrong field type (text is a number)", b'{"comment": {"text": 5}, "requestedAttributes": {"TOXICITY": {}}}', "400 INVALID_ARGUMENT INVALID_REQUEST"),
        ("wrong field type (requestedAttributes is a list)", b'{"comment": {"text": "hi"}, "requestedAttributes": ["TOXICITY"]}', "400 INVALID_ARGUMENT INVALID_REQUEST"),
        ("empty text", analyze(""), "400 INVALID_ARGUMENT COMMENT_EMPTY"),
        ("text of 20,481 bytes (limit 20,480)", analyze("a" * 20481), "400 INVALID_ARGUMENT COMMENT_TOO_LONG"),
        ("invalid UTF-8 in the text", b'{"comment": {"text": "caf\xc3\x28 \xff"}, "requestedAttributes": {"TOXICITY": {}}}', "400 INVALID_ARGUMENT INVALID_REQUEST"),
        ("unknown attribute (FLIRTATION)", json.dumps({"comment": {"text": "hi"}, "requestedAttributes": {"FLIRTATION": {}}}).encode(), "400 INVALID_ARGUMENT UNKNOWN_ATTRIBUTE"),
        ("no requested attributes", json.dumps({"comment": {"text": "hi"}}).encode(), "400 INVALID_ARGUMENT NO_REQUESTED_ATTRIBUTES"),
        ("unsupported language (es)", analyze("hola idiota", languages=["es"]), "400 INVALID_ARGUMENT LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"),
        ("score type RAW", json.dumps({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}}).encode(), "400 INVALID_ARGUMENT INVALID_REQUEST"),
    ]
    for name, body, expected in cases:
        status, _, out, _ = http(a, "POST", path, body)
        got = error_of(out)
        record(name, expected, got, got == expected)
    status, _, out, _ = http(a, "POST", "/v1alpha1/comments:analyze?key=not-a-key", analyze("hi"))
    got = error_of(out)
    record("bad API key", "400 INVALID_ARGUMENT API_KEY_INVALID", got, got == "400 INVALID_ARGUMENT API_KEY_INVALID")
    status, _, out, _ = http(a, "POST", "/v1alpha1/comments:analyze", analyze("hi"))
    got = error_of(out)
    record("missing API key", "403 PERMISSION_DENIED API_KEY_MISSING", got, got == "403 PERMISSION_DENIED API_KEY_MISSING")
    phase = json.dumps({"action": "NEW", "comment": {"body": "<p>you idiot</p>", "parentID": None}}, indent=2).encode()
    for name, sig in [("Coral: bad signature", sign(phase, "empsec_wrong")), ("Coral: missing signature", None),
                      ("Coral: malformed signature header", "sha256=nothex")]:
        headers = {"x-coral-signature": sig} if sig else {}
        status, _, out, _ = http(a, "POST", "/coral/phase", phase, headers)
        got = error_of(out)
        record(name, "403 PERMISSION_DENIED", got, got == "403 PERMISSION_DENIED")
    status, _, out, _ = http(a, "POST", "/coral/phase", phase, {"x-coral-signature": sign(phase)})
    record("Coral: good signature (control)", "200 or 204", str(status), status in (200, 204))


def big_bodies(srv):
    a = srv.addr
    path = f"/v1alpha1/comments:analyze?key={KEY}"
    # 50 MB announced by Content-Length: refused before it is read.
    s = socket.create_connection(a, timeout=30)
    start = time.monotonic()
    s.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {50 << 20}\r\n\r\n".encode())
    sent = 0
    chunk = b"a" * (1 << 16)
    try:
        s.settimeout(0.5)
        while sent < (50 << 20):
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    s.settimeout(10)
    status, headers, out = parse(read_all(s))
    took = time.monotonic() - start
    record("50 MB body (Content-Length)", "413, connection closed",
           f"{status} {headers.get('connection', '')} after {sent >> 20} MB sent, {took:.2f} s",
           status == 413 and headers.get("connection") == "close")
    # 50 MB chunked: counted while read, refused at the limit (1 MiB).
    s = socket.create_connection(a, timeout=30)
    start = time.monotonic()
    s.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".encode())
    sent = 0
    piece = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    try:
        s.settimeout(0.5)
        while sent < (50 << 20):
            s.sendall(piece)
            sent += len(chunk)
    except OSError:
        pass
    s.settimeout(10)
    status, headers, out = parse(read_all(s))
    took = time.monotonic() - start
    record("50 MB body (chunked, no length)", "413 at the 1 MiB limit",
           f"{status} after {sent >> 20} MB sent, {took:.2f} s", status == 413)
    status, _, _, _ = http(a, "POST", path, analyze("still serving?"))
    record("normal request after the big bodies", "200", str(status), status == 200)


def idle_connections(srv, n):
    a = srv.addr
    socks = []
    start = time.monotonic()
    for _ in range(n):
        try:
            socks.append(socket.create_connection(a, timeout=5))
        except OSError as e:
            break
    opened = time.monotonic() - start
    lat = []
    for _ in range(20):
        status, _, _, t = http(a, "POST", f"/v1alpha1/comments:analyze?key={KEY}", analyze("hello there"))
        lat.append((status, t))
    ok = all(s == 200 for s, _ in lat)
    worst = max(t for _, t in lat) * 1000
    _, _, metrics, _ = http(a, "GET", f"/metrics?key={KEY}")
    conns = [l for l in metrics.decode().splitlines() if l.startswith("moderate_open_connections")]
    record(f"{len(socks)} idle connections open", "others still served",
           f"opened in {opened:.1f} s; 20 requests meanwhile: all 200={ok}, slowest {worst:.1f} ms; {conns[0] if conns else '?'}",
           ok and len(socks) == n)
    # After the header timeout (5 s here) the server closes them.
    time.sleep(6.5)
    closed = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
        s.close()
    record("idle connections after --header-timeout 5", "closed by the server",
           f"{closed} of {len(socks)} closed", closed == len(socks))


def slow_clients(srv):
    a = srv.addr
    results = {}

    def slow_headers():
        s = socket.create_connection(a, timeout=30)
        start = time.monotonic()
        req = f"POST /v1alpha1/comments:analyze?key={KEY} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{{}}".encode()
        sent = 0
        try:
            for b in req:
                s.send(bytes([b]))
                sent += 1
                time.sleep(1)
        except OSError:
            pass
        results["headers"] = (sent, time.monotonic() - start, parse(read_all(s))[0])

    def slow_body():
        s = socket.create_connection(a, timeout=30)
        body = analyze("one byte per second")
        s.sendall(f"POST /v1alpha1/comments:analyze?key={KEY} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode())
        start = time.monotonic()
        sent = 0
        s.settimeout(1.0)
        raw = b""
        for b in body:
            try:
                s.send(bytes([b]))
                sent += 1
                raw = s.recv(65536)
                if raw:
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        s.settimeout(10)
        raw += read_all(s)
        results["body"] = (sent, time.monotonic() - start, parse(raw)[0])

    threads = [threading.Thread(target=slow_headers), threading.Thread(target=slow_body)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    meanwhile = [http(a, "POST", f"/v1alpha1/comments:analyze?key={KEY}", analyze("hi"))[0] for _ in range(10)]
    for t in threads:
        t.join()
    sent, took, status = results["headers"]
    record("1 byte/s through the headers", "connection closed at --header-timeout 5",
           f"cut after {sent} bytes, {took:.1f} s (status {status or 'none'})", took < 8)
    sent, took, status = results["body"]
    record("1 byte/s through the body", "408 at --body-timeout 5",
           f"{status} after {sent} bytes, {took:.1f} s", status == 408 and took < 8)
    record("requests while the slow clients dribble", "200", f"{meanwhile.count(200)}/10 200", meanwhile.count(200) == 10)


def over_capacity(binary, workdir):
    srv = Server(binary, workdir, "--max-in-flight", "2", "--workers", "1")
    try:
        batch = "".join(f"comment {i} about the shelling of the town\n" for i in range(3000)).encode()
        statuses = []
        lock = threading.Lock()

        def one():
            st, h, out, _ = http(srv.addr, "POST", "/v1/score", batch, {"content-type": "text/plain"})
            with lock:
                statuses.append((st, h.get("retry-after"), error_of(out) if st != 200 else ""))

        threads = [threading.Thread(target=one) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = sum(1 for s, _, _ in statuses if s == 200)
        busy = [x for x in statuses if x[0] == 429]
        other = [x for x in statuses if x[0] not in (200, 429)]
        good_429 = all(r == "1" and e == "429 RESOURCE_EXHAUSTED CONCURRENCY_LIMIT" for _, r, e in busy)
        record("16 concurrent batches, --max-in-flight 2", "200s and 429 RESOURCE_EXHAUSTED (Retry-After), nothing else",
               f"{ok} x 200, {len(busy)} x 429, {len(other)} other", busy and good_429 and not other and ok >= 2)
    finally:
        srv.stop()


def kill_during_feedback(binary, workdir, seconds):
    store = os.path.join(workdir, "kill9-store.db")
    srv = Server(binary, workdir, "--store", store)
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        i = 0
        while not stop.is_set():
            token = f"comment:w{w}-{i}"
            body = json.dumps({
                "comment": {"text": f"Feedback {i} from writer {w}, with a comma, a \"quote\"\nand a line break."},
                "attributeScores": {"TOXICITY": {"summaryScore": {"value": i % 2}}},
                "communityId": "Coral:https://battery.example", "clientToken": token}).encode()
            try:
                st, _, _, _ = http(srv.addr, "POST", "/v1alpha1/comments:suggestscore", body, timeout=5)
            except OSError:
                st = 0
            if st == 200:
                with lock:
                    acked.append(token)
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    srv.proc.kill()  # SIGKILL, mid-stream
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    # The store after the kill: every acknowledged decision is in it, once.
    exported = subprocess.run([binary, "store", "export", "--store", store, "--labels", "abusive,violent"],
                              capture_output=True, text=True)
    rows = list(csv.reader(io.StringIO(exported.stdout, newline="")))
    header, data = (rows[0], rows[1:]) if rows else ([], [])
    ids = [r[0] for r in data]
    missing = [t for t in acked if t not in set(ids)]
    duplicated = len(ids) - len(set(ids))
    record(f"kill -9 during {len(threads)} streams of suggestscore",
           "the store opens; every acknowledged decision is in it, once",
           f"{len(acked)} acknowledged, {len(data)} rows, {len(missing)} missing, {duplicated} duplicated",
           exported.returncode == 0 and header == ["id", "text", "abusive", "violent", "reviewer", "decided_at"]
           and not missing and not duplicated)
    # The server restarts on that store, and `moderate score` reads every
    # exported row as a labelled CSV.
    srv2 = Server(binary, workdir, "--store", store)
    srv2.stop()
    exported_csv = os.path.join(workdir, "kill9-export.csv")
    with open(exported_csv, "w", encoding="utf-8", newline="") as f:
        f.write(exported.stdout)
    out = subprocess.run([binary, "score", exported_csv, "--format", "csv", "-o", os.devnull, "--skip-bad"],
                         capture_output=True, text=True)
    summary = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ""
    record("restart on that store, then `moderate score` reads its export", "restarts; 0 rejected",
           summary.replace("moderate: ", ""), out.returncode == 0 and " 0 rejected" in summary and str(len(data)) in summary)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "moderate"))
    ap.add_argument("--idle", type=int, default=3000, help="idle connections to open")
    ap.add_argument("--kill-after", type=float, default=3.0, help="seconds of feedback before kill -9")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        raise SystemExit(f"{args.bin} not found: cargo build --release")
    with tempfile.TemporaryDirectory() as work:
        srv = Server(args.bin, work, "--header-timeout", "5", "--body-timeout", "5",
                     env={"MODERATE_API_KEYS": KEY, "MODERATE_CORAL_SECRETS": SECRET})
        try:
            print("bad requests:")
            bad_requests(srv)
            print("big bodies:")
            big_bodies(srv)
            print("idle connections:")
            idle_connections(srv, args.idle)
            print("slow clients:")
            slow_clients(srv)
            status, _, _, _ = http(srv.addr, "GET", "/healthz")
            record("server alive after the battery", "200 /healthz", str(status), status == 200)
        finally:
            srv.stop()
        print("over capacity:")
        over_capacity(args.bin, work)
        print("kill -9:")
        kill_during_feedback(args.bin, work, args.kill_after)
    print()
    print("| fault | expected | observed | result |")
    print("|---|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |")
    failed = sum(1 for r in ROWS if r[3] != "pass")
    print(f"\n{len(ROWS) - failed} of {len(ROWS)} passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
