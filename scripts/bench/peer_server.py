"""The peer a site would stand up today: a small ASGI service around
alt-profanity-check's predict_prob, answering the same Perspective analyze
request and response shape as `moderate serve`, run by uvicorn.

    uvicorn --app-dir scripts/bench peer_server:app --workers 2 --no-access-log

Every requested attribute gets predict_prob's probability. Plain ASGI (no
framework), so the peer's figures are not held back by one.
"""
import json

from profanity_check import predict_prob


async def _body(receive):
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status, payload):
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                predict_prob(["warm up"])
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        return await _send(send, 200, {"status": "ok"})
    try:
        request = json.loads(await _body(receive))
        text = request["comment"]["text"]
        attributes = request["requestedAttributes"]
    except (ValueError, KeyError, TypeError) as e:
        return await _send(send, 400, {"error": {"code": 400, "message": str(e), "status": "INVALID_ARGUMENT"}})
    p = float(predict_prob([text])[0])
    await _send(send, 200, {
        "attributeScores": {a: {"summaryScore": {"value": p, "type": "PROBABILITY"}} for a in attributes},
        "languages": request.get("languages", []),
        "detectedLanguages": ["en"],
    })
