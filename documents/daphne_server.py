"""daphne, adjusted for Collab: graceful SIGTERM and the close codes SPEC.md needs.

- autobahn (under daphne) lets an application send only 1000 and 3000-4999, but SPEC.md's
  table has 1001 (shutting down), 1011 and 1013: send those close frames directly.
- autobahn fails a connection (e.g. a message over the size limit: 1009) by dropping TCP, so
  a client still sending never reads the close code: close with a handshake instead.
- A client that stops reading makes Twisted buffer everything sent to it, without bound:
  past COLLAB_SEND_BUFFER_LIMIT bytes waiting for one socket, drop that socket (4408).
- On SIGTERM daphne cancels every consumer at once. First commit every accepted update, then
  close each socket with 1001, then let daphne finish.
"""

from __future__ import annotations

import asyncio
import contextlib

import daphne.server
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import defer

from documents import presence
from documents.db import in_db_thread
from documents.runtime import current_registry


def _server_close(self, code=None):
    self.sendCloseFrame(code=1000 if code is None else int(code), isReply=False)


class _ClosingHandshakeFactory(WebSocketFactory):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setProtocolOptions(failByDrop=False)


def adjust_daphne() -> None:
    WebSocketProtocol.serverClose = _server_close
    daphne.server.WebSocketFactory = _ClosingHandshakeFactory


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
                await in_db_thread(presence.forget_process)()

        done = defer.Deferred.fromFuture(asyncio.ensure_future(persist_and_say_goodbye()))
        done.addBoth(lambda _: Server.kill_all_applications(self))
        return done
