"""ASGI: an HTTP request body over COLLAB_MAX_MESSAGE_BYTES is answered 413 before it is read,
under any ASGI server that streams bodies to the application (uvicorn): at once when its
Content-Length says so, and as soon as a chunked body's running size passes the limit. Under
daphne, documents.server.adapters.daphne refuses it earlier still: Twisted would otherwise read
the whole body before the application is called."""

from __future__ import annotations

import json


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared(scope) > self.limit_bytes:
            await self._refuse(send)
            return
        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit_bytes:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, bounded_receive, send)
        except BodyTooLarge:
            # Django reads the whole body before the view runs: nothing was answered yet.
            await self._refuse(send)

    async def _refuse(self, send) -> None:
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

    @staticmethod
    def _declared(scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0
