"""Sends Coral-style external moderation requests to `moderate serve`, signed
with Python's own hmac (independently of the server's code), as Coral does:
JSON.stringify(request, null, 2), X-Coral-Signature: sha256=<hex>, one entry
per active secret.

Usage: coral_signed.py BASE_URL SECRET
"""
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request

base, secret = sys.argv[1], sys.argv[2]
failures = 0


def body_for(html):
    request = {
        "action": "NEW",
        "comment": {"body": html, "parentID": None},
        "author": {"id": "u1", "role": "COMMENTER"},
        "story": {"id": "s1", "url": "https://news.example/story"},
        "site": {"id": "site1"},
        "tenantID": "t1",
        "tenantDomain": "news.example",
    }
    return json.dumps(request, indent=2).encode("utf-8")


def sign(key, body):
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post(body, signature):
    req = urllib.request.Request(base + "/coral/phase", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    if signature is not None:
        req.add_header("X-Coral-Signature", signature)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check(name, ok, detail=""):
    global failures
    print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)
    failures += 0 if ok else 1


nasty = body_for("<p>Shut your mouth, you <b>stupid idiot</b>.</p>")
kind = body_for("<p>Thanks for the link, very helpful.</p>")
status, out = post(nasty, sign(secret, nasty))
check("signed abusive comment -> 200 SYSTEM_WITHHELD + COMMENT_DETECTED_TOXIC",
      status == 200
      and {k: v for k, v in json.loads(out).items() if k != "moderate"}
      == {"status": "SYSTEM_WITHHELD", "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}], "tags": []}
      # moderate's own extension names the label that flagged it (issue 24, item 8)
      and json.loads(out)["moderate"]["labels"] == ["abusive"],
      f"{status} {out!r}")
status, out = post(kind, sign(secret, kind))
check("signed kind comment -> 204, empty body", status == 204 and out == b"", f"{status} {out!r}")
status, _ = post(nasty, f"{sign('empsec_retired', nasty)},{sign(secret, nasty)}")
check("rotation header (two entries, one valid) -> accepted", status == 200, str(status))
status, _ = post(nasty, sign("empsec_wrong", nasty))
check("wrong secret -> 403", status == 403, str(status))
status, _ = post(nasty, None)
check("missing signature -> 403", status == 403, str(status))
status, _ = post(kind, sign(secret, nasty))
check("signature of another body -> 403", status == 403, str(status))
sys.exit(1 if failures else 0)
