"""daphne, adjusted for Collab: graceful SIGTERM and the close codes SPEC.md needs.

- autobahn (under daphne) lets an application send only 1000 and 3000-4999, but SPEC.md's
  table has 1001 (shutting down), 1011 and 1013: send those close frames directly.
- Binary frames are written directly, below autobahn's per-frame bookkeeping.
- autobahn fails a connection (e.g. a message over the size limit: 1009) by dropping TCP, so
  a client still sending never reads the close code: close with a handshake instead.
- A client that stops reading makes Twisted buffer everything sent to it, without bound:
  past COLLAB_SEND_BUFFER_LIMIT bytes waiting for one socket, drop that socket (4408).
- Twisted reads a whole request body (spooled to disk) before daphne sees the request: refuse a
  body over COLLAB_MAX_MESSAGE_BYTES with 413 as soon as its Content-Length (or, chunked, its
  running size) says so, without reading it.
- On SIGTERM daphne cancels every consumer at once. First commit every accepted update, then
  close each socket with 1001, then let daphne finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct

import daphne.server
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import defer

from documents.db import in_db_thread
from documents.server import live_connections
from documents.server.runtime import current_registry


def _server_close(self, code=None):
    self.sendCloseFrame(code=1000 if code is None else int(code), isReply=False)


class _ClosingHandshakeFactory(WebSocketFactory):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setProtocolOptions(failByDrop=False)


def _frame_header(length: int) -> bytes:
    if length < 126:
        return bytes((0x82, length))
    if length < 1 << 16:
        return struct.pack("!BBH", 0x82, 126, length)
    return struct.pack("!BBQ", 0x82, 127, length)


_autobahn_server_send = WebSocketProtocol.serverSend


def _server_send(self, content, binary=False):
    """A binary message on an open, uncompressed connection is one unmasked frame: write it
    directly. autobahn's sendMessage -> sendFrame -> sendData costs tens of microseconds per
    frame (state checks, statistics, a debug log formatted even when off); daphne never uses
    autobahn's send queue, the only case where a direct write could overtake queued bytes."""
    if binary and self.state == self.STATE_OPEN and self._perMessageCompress is None:
        self.transport.write(_frame_header(len(content)) + content)
        return
    _autobahn_server_send(self, content, binary)


class BoundedRequest(WebRequest):
    """An HTTP request whose body may not pass `max_body_bytes`: past it, 413 and close."""

    max_body_bytes: int | None = None
    _refused = False
    _received = 0

    def gotLength(self, length):
        if length is not None and self._too_large(length):
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._too_large(self._received):
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self):
        if not self._refused:
            super().process()

    def _too_large(self, nbytes: int) -> bool:
        return self.max_body_bytes is not None and nbytes > self.max_body_bytes

    def _refuse(self) -> None:
        self._refused = True
        self.content = io.BytesIO()  # Twisted still expects a body file; nothing goes into it
        detail = f"the request body is larger than {self.max_body_bytes} bytes"
        body = json.dumps({"detail": detail}).encode()
        head = (
            "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.channel.transport.write(head.encode() + body)
        self.channel.loseConnection()  # stops reading: the rest of the body is never taken


class _BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


def adjust_daphne(max_body_bytes: int | None = None) -> None:
    WebSocketProtocol.serverClose = _server_close
    WebSocketProtocol.serverSend = _server_send
    daphne.server.WebSocketFactory = _ClosingHandshakeFactory
    BoundedRequest.max_body_bytes = max_body_bytes
    daphne.server.HTTPFactory = _BoundedHTTPFactory


def buffered_bytes(protocol) -> int:
    """Bytes Twisted holds for this connection because the peer is not reading them."""
    transport = getattr(protocol, "transport", None)
    if transport is None:
        return 0
    held = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
    return held + getattr(transport, "_tempDataLen", 0)


class CollabServer(Server):
    send_buffer_limit = 64 * 1024 * 1024

    def timeout_checker(self):
        """daphne calls this every 2 s; also drop sockets whose unread output passed the limit."""
        for protocol in list(self.connections):
            if isinstance(protocol, WebSocketProtocol) and (
                buffered_bytes(protocol) > self.send_buffer_limit
            ):
                protocol.sendCloseFrame(code=4408, isReply=False)
                protocol.dropConnection(abort=True)
        super().timeout_checker()

    def kill_all_applications(self):
        async def persist_and_say_goodbye():
            registry = current_registry()
            if registry is not None:
                await registry.shutdown()
                await asyncio.sleep(0.2)  # let the close frames go out
            with contextlib.suppress(Exception):  # the admin's "connected now" rows
                await in_db_thread(live_connections.forget_process)()

        done = defer.Deferred.fromFuture(asyncio.ensure_future(persist_and_say_goodbye()))
        done.addBoth(lambda _: Server.kill_all_applications(self))
        return done
