"""The WebSocket endpoint: credentials, Origin and role in; frames handed to the Room.

No document logic lives here. A refused connection is accepted and closed at once with a code
from CloseCode, so that clients can tell why (an HTTP 403 at the handshake cannot say), and it
receives nothing before the close.

A plain ASGI application, not a Channels consumer: these sockets never use the channel layer
(the room fans out in-process, and the registry speaks for the whole process to the others),
and Channels' general consumer loop costs a task and an `asyncio.wait` per message, plus a
thread hop per message to close stale database connections. Channels' routing and testing
work with any ASGI application.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from urllib.parse import parse_qs

from django.conf import settings
from django.db import Error as DatabaseError

from documents.access import NO_DOCUMENT, handshake_access
from documents.db import in_db_thread
from documents.server import live_connections, metrics
from documents.server.expiry import close_at_expiry
from documents.server.origins import handshake_origin, origin_allowed
from documents.server.ratelimit import ConnectionRateLimit, NewestOnly
from documents.server.runtime import get_registry
from documents.server.socket_client import SocketClient
from documents.sync.closecodes import CloseCode
from documents.sync.protocol import MESSAGE_AWARENESS, ProtocolError, SyncStep1, message_type
from documents.sync.room import DocumentTooLarge, Overloaded

log = logging.getLogger("collab.consumer")

PARSE_OFF_LOOP_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = settings.COLLAB_MAX_MESSAGE_BYTES
connection_rate = ConnectionRateLimit(settings.COLLAB_CONNECTIONS_PER_MINUTE)


class DocumentConsumer:
    """One WebSocket connection to one document (`as_asgi()` is the routed application)."""

    room = None
    client: SocketClient | None = None
    document_id: str | None = None
    awareness_throttle: NewestOnly | None = None
    sync_throttle: NewestOnly | None = None
    _expiry: asyncio.TimerHandle | None = None

    def __init__(self, scope, send) -> None:
        self.scope = scope
        self.send = send

    @classmethod
    def as_asgi(cls):
        async def application(scope, receive, send):
            await cls(scope, send).run(receive)

        return application

    async def run(self, receive) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                await self.receive(message.get("text"), message.get("bytes"))
            elif kind == "websocket.connect":
                await self.connect()
            elif kind == "websocket.disconnect":
                await self.disconnect(message.get("code"))
                return

    async def accept(self) -> None:
        await self.send({"type": "websocket.accept"})

    async def close(self, code: int) -> None:
        await self.send({"type": "websocket.close", "code": int(code)})

    @property
    def client_address(self) -> str:
        client = self.scope.get("client") or ("?", 0)
        return str(client[0])

    async def connect(self):
        await self.accept()
        if not connection_rate.allow(self.client_address):
            refusal, role = CloseCode.TOO_MANY_CONNECTIONS, None
        else:
            try:
                refusal, role = await self._authorize()
            except DatabaseError:
                log.warning("database unavailable at a handshake (1013)", exc_info=True)
                refusal, role = CloseCode.TRY_AGAIN_LATER, None
        if refusal is not None:
            metrics.connection_refused(refusal)
            await self.close(refusal)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.client = SocketClient(
            send=self.send,
            scope=self.scope,
            address=self.client_address,
            role=role,
            wants_ack=query.get("ack", ["0"])[0] == "1",
        )
        rate = settings.COLLAB_AWARENESS_PER_SECOND
        # Past the presence rate only the newest state goes out, when allowed: a dragged cursor
        # ends where it stopped without flooding everyone. The frames that wait are not parsed
        # (each state is JSON to check): a flood costs the loop no more than its budget.
        self.awareness_throttle = NewestOnly(
            rate, rate, lambda frame: _background(self._handle_frame(frame))
        )
        rate = settings.COLLAB_SYNC_REQUESTS_PER_SECOND
        # A step 1 far behind makes the room encode most of the document (the empty one is
        # cached per version): past the rate only the newest is answered, when allowed.
        self.sync_throttle = NewestOnly(rate, 2 * rate, self._hand_to_room)
        try:
            self.room = await get_registry().join(self.document_id, self.client)
        except DatabaseError:
            log.warning("database unavailable loading %s (1013)", self.document_id, exc_info=True)
            metrics.connection_refused(CloseCode.TRY_AGAIN_LATER)
            await self.close(CloseCode.TRY_AGAIN_LATER)
            self.client = None
            return
        live_connections.joined(self)  # admin's "connected now": a row written in the background
        self._expiry = close_at_expiry(self.scope["user"], self.client)

    async def _authorize(self) -> tuple[int | None, str | None]:
        """Origin, then credentials (4401 before anything about the document), then role; the
        user and the role come from one database call."""
        if not origin_allowed(handshake_origin(self.scope), self.scope):
            return CloseCode.FORBIDDEN, None
        try:
            document_id = str(uuid.UUID(self.scope["url_route"]["kwargs"]["document_id"]))
        except ValueError:
            document_id = None
        user, token_id, role = await in_db_thread(handshake_access)(self.scope, document_id)
        self.scope = dict(self.scope, user=user, token_id=token_id)
        if not user.is_authenticated:
            return CloseCode.UNAUTHENTICATED, None
        if document_id is None or role == NO_DOCUMENT:
            return CloseCode.NOT_FOUND, None
        if role is None:
            return CloseCode.FORBIDDEN, None
        self.document_id = document_id
        return None, role

    async def receive(self, text_data=None, bytes_data=None):
        if self.room is None or self.client is None or self.client.closing:
            return  # closed (e.g. access revoked): what it still sends is not applied
        if bytes_data is None:
            self.client.close(CloseCode.MALFORMED)
            return
        if len(bytes_data) > MAX_MESSAGE_BYTES:
            # The server's own limit is set a little higher (documents.server.adapters), or
            # not at all (plain uvicorn): this one closes with a handshake, whatever the server.
            self.client.close(CloseCode.MESSAGE_TOO_BIG)
            return
        metrics.frame_received(bytes_data)
        try:
            # The frame's type as the parser reads it (a type has more spellings than its first
            # byte; a non-canonical one is malformed), before the frame is worth parsing.
            is_awareness = message_type(bytes_data) == MESSAGE_AWARENESS
        except ProtocolError:
            self.client.close(CloseCode.MALFORMED)
            return
        if not is_awareness or self.awareness_throttle.admit(bytes_data):
            await self._handle_frame(bytes_data)

    async def _handle_frame(self, bytes_data: bytes) -> None:
        if self.room is None or self.client is None:
            return
        try:
            if len(bytes_data) > PARSE_OFF_LOOP_BYTES:
                # Checking a large update walks every struct in Python: keep the loop free.
                message = await asyncio.to_thread(self.room.parse, bytes_data)
            else:
                message = self.room.parse(bytes_data)
        except ProtocolError as exc:
            log.info("closing %s on %s: %s", self.client_address, self.document_id, exc)
            self.client.close(CloseCode.MALFORMED)
            return
        if self.sync_throttle is None:
            return  # the socket left while its frame was parsed
        if not isinstance(message, SyncStep1) or self.sync_throttle.admit(message):
            self._hand_to_room(message)

    def _hand_to_room(self, message) -> None:
        """The room acts on a parsed message; what goes wrong closes this socket alone."""
        if self.room is None or self.client is None or self.client.closing:
            return  # it left, or is being closed, while the message was parsed or waited
        try:
            self.room.receive_message(self.client, message)
        except ProtocolError as exc:
            log.info("closing %s on %s: %s", self.client_address, self.document_id, exc)
            self.client.close(CloseCode.MALFORMED)
        except Overloaded:
            self.client.close(CloseCode.TRY_AGAIN_LATER)
        except DocumentTooLarge:
            self.client.close(CloseCode.TOO_LARGE)
        except Exception:
            # Our bug, not the client's: say so (1011) and keep serving everyone else.
            log.exception("internal error on %s", self.document_id)
            self.client.close(CloseCode.INTERNAL_ERROR)

    async def disconnect(self, code):
        if self._expiry is not None:
            self._expiry.cancel()
        if self.room is not None and self.client is not None:
            get_registry().leave(self.room, self.client)
            self.client.stop()
            self.room = None
            await live_connections.left(self)
        # The throttles call back into this endpoint: without them it and its client are freed
        # by reference counting now, not at the next full collection (test_connection_memory).
        self.awareness_throttle = self.sync_throttle = None


_tasks: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones


def _background(coroutine) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
