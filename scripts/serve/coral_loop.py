#!/usr/bin/env python3
"""The Coral loop, end to end, against the real binary: Coral's Perspective
integration scores comments on `moderate serve`, withholds those above its
threshold, a moderator approves or rejects them, Coral sends each decision
back as `comments:suggestscore`, the decisions file retrains the model, and
SIGHUP puts the retrained model in service without a restart.

    cargo build --release
    python3 scripts/serve/coral_loop.py            # a few minutes (the retrain, word model only)

The comments are the project's own `data/examples.csv`; its `abusive`
column stands in for the moderator. Coral's calls are the ones its code
makes (SERVER.md section 3): analyze with `{"TOXICITY": {}}`,
`doNotStore`, `languages: ["en"]`, withhold above the threshold set in
Coral's admin (Coral's default is 0.80; here 0.36, about the model's own
abusive flag threshold in `moderate info`, a site that wants to see more); on approve or reject,
suggestscore with `TOXICITY` 0 or 1, `clientToken` `comment:<id>` and
`communityId` `Coral:<tenant URL>`. The moderator sees the withheld comments
and, as readers report them, the abusive or violent comments that were
published; a comment labelled abusive or violent is rejected, any other
approved. Coral sends back only the attribute it is configured with, so a
rejection is recorded as `abusive=1` (TOXICITY's label) with `violent`
undecided, even when the comment was rejected for violence.

Writes target/coral-loop/ (moderate.db, the models, server.log, train.log)
and prints each step's output.
"""
import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "coral-loop-key"
TENANT = "Coral:https://news.example.org"


def post(base, path, body):
    req = urllib.request.Request(f"{base}{path}?key={KEY}", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def start(binary, work, model):
    log = open(os.path.join(work, "server.log"), "ab")
    env = dict(os.environ, MODERATE_API_KEYS=KEY)
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--model", model,
                          "--store", os.path.join(work, "moderate.db")],
                         cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = ""
    for _ in range(5):  # a warning (e.g. the open-file limit) may come first
        line = p.stderr.readline().decode()
        log.write(line.encode())
        if "listening on http://" in line or not line:
            break
    if "listening on http://" not in line:
        raise SystemExit(f"server did not start: {line}")
    print("$ moderate serve --model current.model --store moderate.db")
    print(line.rstrip())
    base = "http://" + line.split("http://")[1].split()[0]
    lines = []

    def drain():
        for raw in p.stderr:
            log.write(raw)
            log.flush()
            lines.append(raw.decode().rstrip())

    threading.Thread(target=drain, daemon=True).start()
    return p, base, lines


def wait_for(lines, word, timeout=10):
    """The first server message (not an access-log line) containing `word`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in lines:
            if line.startswith("moderate serve:") and word in line:
                return line
        time.sleep(0.05)
    return None


def coral_analyze(base, text):
    status, headers, body = post(base, "/v1alpha1/comments:analyze", {
        "comment": {"text": text}, "doNotStore": True,
        "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]})
    assert status == 200, (status, body)
    return body["attributeScores"]["TOXICITY"]["summaryScore"]["value"], headers.get("x-moderate-model-version")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "moderate"))
    ap.add_argument("--train", default=os.path.join(ROOT, "..", "shared", "data", "train.csv"))
    ap.add_argument("--comments", default=os.path.join(ROOT, "data", "examples.csv"))
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "coral-loop"))
    ap.add_argument("--coral-threshold", type=float, default=0.36,
                    help="Coral's toxicity threshold (its admin setting; Coral's default is 0.80)")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    current = os.path.join(args.work, "current.model")
    shutil.copy(os.path.join(ROOT, "models", "default.model"), current)
    with open(args.comments, newline="", encoding="utf-8") as f:
        comments = [r for r in csv.DictReader(f)]

    p, base, lines = start(args.bin, args.work, current)
    try:
        print(f"\n1. Coral scores {len(comments)} new comments (TOXICITY, withhold above {args.coral_threshold})")
        before, version0 = {}, None
        for c in comments:
            before[c["id"]], version0 = coral_analyze(base, c["text"])
        withheld = [c for c in comments if before[c["id"]] > args.coral_threshold]
        bad = lambda c: c["abusive"] == "1" or c["violent"] == "1"
        reported = [c for c in comments if before[c["id"]] <= args.coral_threshold and bad(c)]
        print(f"   withheld {len(withheld)}, published {len(comments) - len(withheld)} (model {version0})")

        print(f"\n2. The moderator decides the {len(withheld)} withheld comments and {len(reported)} "
              "reported ones; Coral sends each decision as comments:suggestscore")
        decided = withheld + reported
        for c in decided:
            verdict = 1 if bad(c) else 0  # reject = 1, approve = 0
            status, _, body = post(base, "/v1alpha1/comments:suggestscore", {
                "comment": {"text": c["text"]}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": verdict}}},
                "languages": ["en"], "communityId": TENANT, "clientToken": f"comment:{c['id']}"})
            assert status == 200 and body.get("clientToken") == f"comment:{c['id']}", (status, body)
        rows = subprocess.run([args.bin, "store", "export", "--store", "moderate.db"], cwd=args.work,
                              capture_output=True, text=True, check=True).stdout.splitlines()
        approved = sum(1 for c in decided if not bad(c))
        print(f"   {len(decided)} decisions ({len(decided) - approved} rejected, {approved} approved); "
              f"the store has {len(rows) - 1} (moderate store export):")
        for line in rows[:4]:
            print("   " + line)
        print("   ...")

        print("\n3. Retrain on the training data plus the decisions")
        # The word model alone: training the second stage takes most of an hour.
        cmd = [args.bin, "train", "--data", args.train, "--data", "moderate.db", "--no-encoder",
               "--out", "retrained.model"]
        print("$ moderate train --data ../shared/data/train.csv --data moderate.db --no-encoder "
              "--out retrained.model")
        t0 = time.monotonic()
        out = subprocess.run(cmd, cwd=args.work, capture_output=True, text=True)
        with open(os.path.join(args.work, "train.log"), "w") as f:
            f.write(out.stdout + out.stderr)
        if out.returncode != 0:
            raise SystemExit(f"train failed:\n{out.stderr}")
        print("\n".join("   " + l for l in out.stdout.strip().splitlines()))
        print(f"   ({time.monotonic() - t0:.0f} s wall)")

        print("\n4. Put it in service: replace the model file, SIGHUP")
        os.replace(os.path.join(args.work, "retrained.model"), current)
        print("$ mv retrained.model current.model && kill -HUP <pid>")
        p.send_signal(signal.SIGHUP)
        line = wait_for(lines, "reload")
        print("   " + (line or "(no reload line)"))
        after, version1 = {}, None
        for c in decided:
            after[c["id"]], version1 = coral_analyze(base, c["text"])
        print(f"   responses now carry x-moderate-model-version: {version1} (was {version0})")

        print(f"\n5. The decided comments, TOXICITY before and after (Coral withholds above {args.coral_threshold:.2f})")
        print("| id | moderator | before | after | text |")
        print("|---|---|---:|---:|---|")
        for c in decided:
            text = c["text"] if len(c["text"]) <= 60 else c["text"][:59] + "…"
            print(f"| {c['id']} | {'reject' if bad(c) else 'approve'} | {before[c['id']]:.3f} | "
                  f"{after[c['id']]:.3f} | {text} |")
        moved = sum(1 for c in decided if (after[c["id"]] > before[c["id"]]) == bad(c))
        print(f"\n{moved} of {len(decided)} decided comments moved towards the moderator's decision. "
              "They were trained on, so this shows the decisions were learned, not how well the model generalises.")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        print("\nThe access log never holds comment text; two of its lines:")
        for line in [l for l in lines if "path=/v1alpha1/comments:suggestscore" in l][:1] + \
                [l for l in lines if "path=/v1alpha1/comments:analyze" in l][-1:]:
            print("   " + line)


if __name__ == "__main__":
    main()
