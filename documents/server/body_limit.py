"""ASGI: an HTTP request whose Content-Length passes COLLAB_MAX_MESSAGE_BYTES is answered 413
before its body is read, under any ASGI server that streams bodies to the application (uvicorn).
Under daphne, documents.server.adapters.daphne refuses it earlier still: Twisted would
otherwise read the whole body before the application is called."""

from __future__ import annotations

import json


class BodyLimit:
    def __init__(self, app, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self._declared(scope) > self.limit_bytes:
            detail = f"the request body is larger than {self.limit_bytes} bytes"
            body = json.dumps({"detail": detail}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _declared(scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0
