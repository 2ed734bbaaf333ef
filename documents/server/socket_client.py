"""SocketClient: the engine's view of one socket (documents.sync.room.Client).

A frame is handed to the ASGI server at once, in the caller's turn of the event loop: the
server's `send` coroutine is stepped by hand, and under daphne (always) and uvicorn (while the
peer reads) it finishes without waiting, so a frame costs no queue, no future and no task
switch. Only a send that has to wait (uvicorn under backpressure) gets a writer task, which
finishes it and then writes what queued behind it, up to the bounds (COLLAB_SEND_QUEUE_LIMIT
frames, COLLAB_SEND_BUFFER_LIMIT bytes); past them the socket is closed with 4408.

It also closes its socket (once what was queued before the close is out), so that nothing it
holds points back at the endpoint that made it: the endpoint holds the client, and a callback
into the endpoint made the pair a reference cycle, which only a full collection frees
(docs/scaling.md, "Memory and the garbage collector").
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine

from django.conf import settings

from documents.access import at_least
from documents.models import Role
from documents.sync.closecodes import CloseCode

log = logging.getLogger("collab.consumer")
_open_clients: weakref.WeakSet[SocketClient] = weakref.WeakSet()
_closing: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones

Send = Callable[[dict], Awaitable[None]]


class SocketClient:
    def __init__(
        self,
        *,
        send: Send,
        scope: dict,
        address: str,
        role: str,
        wants_ack: bool,
    ) -> None:
        self._send = send
        self.user_id = scope["user"].pk
        self.token_id = scope.get("token_id")  # revoking it closes this socket
        self.handshake_at = scope.get("handshake_at")  # before credentials were read
        self.role = role
        self.can_write = at_least(role, Role.EDITOR)
        self.wants_ack = wants_ack
        self.address = address
        self._backlog: deque[bytes] = deque()
        self._limit = settings.COLLAB_SEND_QUEUE_LIMIT
        self._byte_limit = settings.COLLAB_SEND_BUFFER_LIMIT
        self._queued_bytes = 0
        self._closing = False
        self._writer: asyncio.Task | None = None  # only while a send waits for the peer
        self.close_sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        _open_clients.add(self)

    def send(self, frame: bytes) -> None:
        if self._closing:
            return
        if self._writer is None:
            self._write_now(frame)
            return
        if len(self._backlog) >= self._limit or self._queued_bytes + len(frame) > self._byte_limit:
            self.close(CloseCode.TOO_SLOW)
            return
        self._queued_bytes += len(frame)
        self._backlog.append(frame)

    @property
    def closing(self) -> bool:
        return self._closing

    def close(self, code: int) -> None:
        if self._closing:
            return
        self._closing = True
        if code == CloseCode.TOO_SLOW and self._writer is not None:
            # What waits for a peer that does not read is dropped, not drained: under uvicorn
            # (which waits for the peer before every send) it would never drain. The close
            # frame goes out if the peer reads again; otherwise the server's ping timeout
            # ends the connection. The room stops sending to it now either way.
            self._writer.cancel()
            self._backlog.clear()
            self._queued_bytes = 0
        task = asyncio.get_running_loop().create_task(self._close_when_flushed(code))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _close_when_flushed(self, code: int) -> None:
        """Close once every frame queued before the close has been written."""
        try:
            await self.flushed()
            await self._send({"type": "websocket.close", "code": int(code)})
        except Exception as exc:  # the peer went first: nothing to close
            log.debug("close of %s failed: %r", self.address, exc)
        finally:
            if not self.close_sent.done():
                self.close_sent.set_result(None)

    async def flushed(self) -> None:
        """Return once every frame handed to `send` before now is written (or dropped)."""
        if self._writer is not None:
            await asyncio.wait([self._writer])  # returns also when the writer was cancelled

    def stop(self) -> None:
        self._closing = True
        self._backlog.clear()
        if self._writer is not None:
            self._writer.cancel()

    def _write_now(self, frame: bytes) -> None:
        sending = self._send({"type": "websocket.send", "bytes": frame})
        try:
            awaited = sending.send(None)
        except StopIteration:
            return  # written without waiting: the usual case
        except Exception as exc:
            self._peer_gone(exc)
            return
        self._writer = asyncio.get_running_loop().create_task(self._drain(sending, awaited))
        self._writer.add_done_callback(self._writer_done)

    def _writer_done(self, writer: asyncio.Task) -> None:
        # A writer cancelled before its first step never runs `_drain`'s `finally`; kept, its
        # exception's traceback would hold the client: a cycle.
        if self._writer is writer:
            self._writer = None

    async def _drain(self, sending: Coroutine, awaited) -> None:
        """Finish the send that had to wait, then write the backlog, then get out of the way."""
        try:
            await _resume(sending, awaited)
            while self._backlog:
                frame = self._backlog.popleft()
                await self._send({"type": "websocket.send", "bytes": frame})
                self._queued_bytes -= len(frame)
        except Exception as exc:
            self._peer_gone(exc)
        finally:
            sending.close()  # a no-op once finished; cancelled, it ends the server's send
            self._writer = None  # now, not in a later turn: a send meanwhile must not queue

    def _peer_gone(self, exc: Exception) -> None:
        # The server raises on a peer that went (uvicorn ClientDisconnected, autobahn
        # Disconnected) and also sends websocket.disconnect, which cleans up: no traceback.
        log.debug("send to %s failed: %r", self.address, exc)
        self._closing = True
        self._backlog.clear()


async def _resume(coroutine: Coroutine, awaited) -> None:
    """Run a coroutine to its end that was stepped by hand and yielded `awaited`, as a Task
    would: wait for what it waits for, then step it again."""
    while True:
        if awaited is None:
            await asyncio.sleep(0)  # a bare yield: it asked for one turn of the loop
        else:
            try:
                await awaited
            except asyncio.CancelledError:
                raise
            except Exception:
                pass  # the coroutine reads the future's outcome itself when stepped
        try:
            awaited = coroutine.send(None)
        except StopIteration:
            return


async def closes_sent(timeout: float) -> None:
    """Wait until every socket told to close has had its close frame handed to the server."""
    pending = [client.close_sent for client in list(_open_clients) if client.closing]
    if pending:
        await asyncio.wait(pending, timeout=timeout)
