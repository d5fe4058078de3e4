"""Drives `moderate serve` with PyPI's `perspectiveapi` (1.1.0, a typed
wrapper on httpx). Its URL is a constant, so requests are redirected with an
httpx transport that rewrites the scheme, host and port, as a proxy would.

Usage: perspectiveapi_client.py BASE_URL API_KEY
"""
import sys
from urllib.parse import urlsplit

import httpx
from perspective import Attribute
from perspective.blocking import Perspective

base, key = sys.argv[1], sys.argv[2]
target = urlsplit(base)


class ToModerate(httpx.HTTPTransport):
    def handle_request(self, request):
        request.url = request.url.copy_with(scheme=target.scheme, host=target.hostname, port=target.port)
        return super().handle_request(request)


p = Perspective(key=key)
p._Perspective__client = httpx.Client(transport=ToModerate())
failures = 0
s = p.score("You are a stupid idiot!", attributes=(Attribute.TOXICITY, Attribute.THREAT, Attribute.INSULT))
for name in ("toxicity", "threat", "insult"):
    v = getattr(s, name, None)
    ok = isinstance(v, float) and 0 <= v <= 1
    print(f"{'PASS' if ok else 'FAIL'} score: {name} parsed by the typed client{'' if ok else ': ' + repr(v)}")
    failures += 0 if ok else 1
ok = s.toxicity == s.insult
print(f"{'PASS' if ok else 'FAIL'} score: TOXICITY and INSULT are the same label")
failures += 0 if ok else 1
sys.exit(1 if failures else 0)
