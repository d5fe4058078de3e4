"""Drives `moderate serve` with PyPI's `perspective` client (1.0.3, the
Perspective API wrapper by Jake Conway: standard library only), pointed at
the server by replacing the client's URL template.

Usage: perspective_client.py BASE_URL API_KEY STORE (read with $MODERATE_BIN store export)
Prints one `PASS name` / `FAIL name: why` line per check; exits 1 on a failure.
"""
import csv
import io
import json
import os
import subprocess
import sys
import urllib.error

from perspective import PerspectiveAPI

base, key, store = sys.argv[1], sys.argv[2], sys.argv[3]
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)
    failures += 0 if ok else 1


def client(k=key):
    p = PerspectiveAPI(k)
    p.api_client.url = base + "/v1alpha1/{endpoint}"
    return p


p = client()
text = "Thanks for the link. You are a stupid idiot!"
r = p.analyze_comment(
    text,
    requested_attributes={"TOXICITY": {}, "THREAT": {"scoreType": "PROBABILITY"}},
    span_annotations=True,
    languages=["en"],
    do_not_store=True,
    client_token="py-token",
)
tox = r.get("attributeScores", {}).get("TOXICITY", {})
value = tox.get("summaryScore", {}).get("value")
check("analyze: TOXICITY summaryScore is a probability", isinstance(value, float) and 0 <= value <= 1, json.dumps(r))
check("analyze: THREAT answered", "THREAT" in r.get("attributeScores", {}), json.dumps(r))
spans = tox.get("spanScores", [])
# Python slices by code point; the text is ASCII, so UTF-16 offsets agree.
check(
    "analyze: span offsets cut the two sentences",
    [text[s["begin"]:s["end"]] for s in spans] == ["Thanks for the link.", "You are a stupid idiot!"],
    json.dumps(spans),
)
check(
    "analyze: the insulting sentence scores higher",
    len(spans) == 2 and spans[1]["score"]["value"] > spans[0]["score"]["value"],
    json.dumps(spans),
)
check("analyze: clientToken echoed", r.get("clientToken") == "py-token", json.dumps(r))
scores = p.score("You people are parasites", tests=["TOXICITY", "INSULT"])
check("score(): convenience call", set(scores) == {"TOXICITY", "INSULT"} and scores["TOXICITY"] == scores["INSULT"], str(scores))

s = p.suggest_score(
    "Tie them to their boats and sink them.",
    {"THREAT": {"summaryScore": {"value": 1.0}}},
    languages=["en"],
    client_token="comment:py-1",
    community_id="Coral:https://py.example",
)
check("suggest_score: answered as Perspective", s == {"clientToken": "comment:py-1", "detectedLanguages": ["en"], "requestedLanguages": ["en"]}, json.dumps(s))
exported = subprocess.run(
    [os.environ["MODERATE_BIN"], "store", "export", "--store", store, "--labels", "abusive,violent"],
    capture_output=True, text=True, check=True,
).stdout
rows = {row["id"]: row for row in csv.DictReader(io.StringIO(exported, newline=""))}
row = rows.get("comment:py-1", {})
check(
    "suggest_score: decision in the store",
    row.get("violent") == "1" and row.get("abusive") == "-1" and row.get("reviewer") == "Coral:https://py.example",
    json.dumps(row),
)

for name, call, code, status in [
    ("bad key", lambda: client("wrong-key").analyze_comment("hi"), 400, "INVALID_ARGUMENT"),
    ("unknown attribute", lambda: p.analyze_comment("hi", requested_attributes={"FLIRTATION": {}}), 400, "INVALID_ARGUMENT"),
    ("empty comment", lambda: p.analyze_comment("", validate=False), 400, "INVALID_ARGUMENT"),
]:
    try:
        call()
        check(f"error: {name}", False, "no error")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read().decode("utf-8"))
        check(f"error: {name} -> {code} {status}", e.code == code and body["error"]["status"] == status, json.dumps(body))

sys.exit(1 if failures else 0)
