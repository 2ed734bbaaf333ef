"""Room: one document's Doc, its connected clients and their awareness; apply and fan out.

A room lives in one process. It applies what its clients send, answers sync step 1, relays
accepted updates and awareness changes directly to its other clients (an in-process send, never a
channel-layer message per socket), and reports every accepted change to its `RoomListener`
(the registry), which persists it and forwards it to other processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Protocol

from pycrdt import Awareness, Doc, merge_updates

from documents.sync import protocol
from documents.sync.protocol import (
    EMPTY_UPDATE,
    AuthMessage,
    AwarenessUpdate,
    ProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
)
from documents.sync.stats import RELAY
from documents.sync.update_check import InvalidUpdate, UpdateShape, check_update

# Under load, relay at most once per window per room (merged); when quiet, at once. The window
# is 1.5 times what the last relay cost to write to the sockets, within these bounds: it grows when
# a broadcast gets expensive, so a busy room never drifts into relaying each update alone (a
# fixed 2 ms window fell off that cliff at 1,000 updates/s to 50 readers: docs/benchmarks.md).
COALESCE_MIN_SECONDS = 0.002
COALESCE_MAX_SECONDS = 0.020
FRAME_WRITE_SECONDS = 50e-6  # one frame through Channels, daphne and autobahn (benchmarks.md)

_PASS_THROUGH = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


class Client(Protocol):
    """One connection to a room, as the engine sees it (the consumer implements it)."""

    can_write: bool  # False for viewers: their document updates are dropped
    wants_ack: bool  # connected with ?ack=1: receives type 100 after each commit
    user_id: object

    def send(self, frame: bytes) -> None:
        """Queue a frame for the socket; must not block."""

    def close(self, code: int) -> None:
        """Close the socket with `code`; must not block."""


class MissingDependencies(Exception):
    """The update refers to content this room has not seen: it was not applied (Yrs would keep
    it pending and, in some orders, integrate it wrongly); ask its sender for a difference."""


class DocumentTooLarge(Exception):
    """Accepting the update would grow the document past its size limit: close 4413."""


class Overloaded(Exception):
    """The process cannot keep more edits now (its unflushed buffer is full): close 1013."""


class RoomListener(Protocol):
    def has_room_for(self, nbytes: int) -> bool:
        """False while unflushed edits fill the buffer: accepting more could lose them."""

    def update_accepted(self, room: Room, update: bytes) -> None:
        """A client's update changed the document: persist it and tell other processes."""

    def awareness_accepted(self, room: Room, payload: bytes) -> None:
        """A client's awareness changed: tell other processes."""


class Room:
    def __init__(
        self,
        name: str,
        listener: RoomListener,
        *,
        max_awareness_bytes: int,
        max_document_bytes: int | None = None,
        coalesce: bool = False,
    ) -> None:
        self.name = name
        # Coalescing (the server's default): changes accepted in one event-loop turn, or under
        # load within COALESCE_SECONDS of the previous relay, go out as one merged update,
        # encoded once: fewer, larger frames, since each frame costs far more in the WebSocket
        # stack than in Yrs. Without it (engine tests) every change is relayed at once.
        self.coalesce = coalesce
        self._outgoing: list[tuple[bytes, Client | None]] = []
        self._last_flush = float("-inf")
        self._window = COALESCE_MIN_SECONDS
        self.max_document_bytes = max_document_bytes
        # What the document weighs: stored state plus accepted changes (an upper bound, since
        # deletions and garbage collection shrink it; compaction resets it on the next load).
        self.size_bytes = 0
        self.doc = Doc()
        self.clients: set[Client] = set()
        self.listener = listener
        self.max_awareness_bytes = max_awareness_bytes
        self.awareness = Awareness(self.doc)
        self.awareness.set_local_state(None)  # the server itself is nobody's presence
        self._awareness_ids: dict[Client, set[int]] = {}
        self._last_change: bytes | None = None
        self.doc.observe(self._remember_change)

    # -- membership ------------------------------------------------------------------------
    def join(self, client: Client) -> None:
        """Greet a new client: our state vector (sync step 1) and everyone's awareness."""
        self.clients.add(client)
        self._awareness_ids[client] = set()
        client.send(protocol.encode_sync_step1(self.doc.get_state()))
        if self.awareness.states:
            client.send(self._encoded_awareness_states())

    def leave(self, client: Client) -> None:
        """Forget a client and tell the others its awareness states are gone."""
        self.clients.discard(client)
        gone = sorted(self._awareness_ids.pop(client, set()) & set(self.awareness.states))
        if gone:
            self.awareness.remove_awareness_states(gone, "leave")
            payload = self.awareness.encode_awareness_update(gone)
            self._fan_out(protocol.encode_awareness(payload), exclude=None)
            self.listener.awareness_accepted(self, payload)

    # -- incoming --------------------------------------------------------------------------
    def receive(self, client: Client, frame: bytes) -> None:
        """Handle one frame from `client`; raise ProtocolError if it is malformed."""
        self.receive_message(client, self.parse(frame))

    def parse(self, frame: bytes) -> protocol.Message:
        """Parse and check a frame. Pure: a large frame can be parsed off the event loop."""
        return protocol.parse_message(frame, max_awareness_bytes=self.max_awareness_bytes)

    def receive_message(self, client: Client, message: protocol.Message) -> None:
        if isinstance(message, SyncStep1):
            client.send(protocol.encode_sync_step2(self._diff_since(message.state_vector)))
        elif isinstance(message, SyncStep2 | SyncUpdate):
            if client.can_write:
                try:
                    self._accept_update(message.update, message.shape, exclude=client)
                except MissingDependencies:
                    # Ask for a self-contained difference: y-websocket clients answer our
                    # sync step 1 with everything we lack, in an order Yrs integrates right.
                    client.send(protocol.encode_sync_step1(self.doc.get_state()))
        elif isinstance(message, AwarenessUpdate):
            self._accept_awareness(client, message)
        elif isinstance(message, QueryAwareness):
            client.send(self._encoded_awareness_states())
        elif isinstance(message, AuthMessage):
            pass

    def apply_update(
        self, update: bytes, *, exclude: Client | None = None, check_dependencies: bool = True
    ) -> bytes | None:
        """Apply an update that came from elsewhere (HTTP, another process, storage).

        Returns what it changed (None if nothing), after relaying that to this room's clients.
        The listener is not told: the caller decides whether it must be persisted or forwarded.
        Raises MissingDependencies (and applies nothing) if the update refers to content this
        room has not seen, unless `check_dependencies` is off (loading from storage).
        """
        shape = None
        if check_dependencies:
            try:
                shape = check_update(update)
            except InvalidUpdate as exc:
                raise ProtocolError(f"undecodable update: {exc}") from None
        change = self._apply(update, shape)
        if change is not None:
            self._relay_update(change, exclude)
        return change

    def apply_awareness(self, payload: bytes) -> None:
        """Awareness from another process: keep it and relay it to this room's clients."""
        message = protocol.parse_message(protocol.encode_awareness(payload))
        assert isinstance(message, AwarenessUpdate)
        self.awareness.apply_awareness_update(payload, "remote")
        self._fan_out(protocol.encode_awareness(payload), exclude=None)

    def broadcast(self, frame: bytes, clients: Iterable[Client] | None = None) -> None:
        for client in list(self.clients if clients is None else clients):
            client.send(frame)

    # -- internals -------------------------------------------------------------------------
    def admit(self, nbytes: int) -> None:
        """Raise Overloaded or DocumentTooLarge if an update of `nbytes` cannot be taken now:
        the same checks for a socket's update and one that came over HTTP."""
        if not self.listener.has_room_for(nbytes):
            raise Overloaded(f"{self.name}: unflushed edits fill the buffer")
        if self.max_document_bytes and self.size_bytes + nbytes > self.max_document_bytes:
            raise DocumentTooLarge(f"{self.name} would pass {self.max_document_bytes} bytes")

    def _accept_update(self, update: bytes, shape: UpdateShape | None, exclude: Client) -> None:
        self.admit(len(update))
        change = self._apply(update, shape)
        if change is None:
            return
        self._relay_update(change, exclude)
        self.listener.update_accepted(self, change)

    def _apply(self, update: bytes, shape: UpdateShape | None) -> bytes | None:
        """Apply into the Doc; return the change it made, or None if it added nothing new.

        pycrdt raises PanicException (a BaseException) on some bad updates: any failure is the
        sender's fault and closes only its connection, never the room."""
        if update == EMPTY_UPDATE:
            return None
        if shape is not None and shape.missing_dependencies(
            protocol.decode_state_vector(self.doc.get_state())
        ):
            raise MissingDependencies(self.name)
        self._last_change = None
        try:
            self.doc.apply_update(update)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            raise ProtocolError(f"update rejected by Yrs: {exc!r}") from None
        change, self._last_change = self._last_change, None
        if not change or change == EMPTY_UPDATE:
            return None
        self.size_bytes += len(change)
        return change

    def _remember_change(self, event) -> None:
        self._last_change = event.update

    def _diff_since(self, state_vector: bytes) -> bytes:
        try:
            return self.doc.get_update(state_vector)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            raise ProtocolError(f"bad state vector: {exc!r}") from None

    def _accept_awareness(self, client: Client, message: AwarenessUpdate) -> None:
        owned = self._awareness_ids.setdefault(client, set())
        for entry in message.entries:
            if entry.is_removal:
                owned.discard(entry.client_id)
            else:
                owned.add(entry.client_id)
        try:
            self.awareness.apply_awareness_update(message.payload, client)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            raise ProtocolError(f"bad awareness update: {exc!r}") from None
        self._fan_out(protocol.encode_awareness(message.payload), exclude=client)
        self.listener.awareness_accepted(self, message.payload)

    def _encoded_awareness_states(self) -> bytes:
        return protocol.encode_awareness(
            self.awareness.encode_awareness_update(list(self.awareness.states))
        )

    def _relay_update(self, change: bytes, exclude: Client | None) -> None:
        if not self.coalesce:
            self._fan_out(protocol.encode_update(change), exclude)
            return
        if not self._outgoing:
            loop = asyncio.get_running_loop()
            since_last = loop.time() - self._last_flush
            if since_last >= self._window:
                loop.call_soon(self.flush_outgoing)  # quiet: send at the end of this turn
            else:  # busy: gather what arrives in the rest of the window into one update
                loop.call_later(self._window - since_last, self.flush_outgoing)
        self._outgoing.append((change, exclude))

    def flush_outgoing(self) -> None:
        """Send what this turn accepted: consecutive changes from one sender merged into one
        update, sent to everyone but that sender."""
        outgoing, self._outgoing = self._outgoing, []
        self._last_flush = asyncio.get_running_loop().time()
        frames = 0
        start = 0
        while start < len(outgoing):
            exclude = outgoing[start][1]
            end = start
            while end < len(outgoing) and outgoing[end][1] is exclude:
                end += 1
            changes = [change for change, _ in outgoing[start:end]]
            merged = changes[0] if len(changes) == 1 else merge_updates(*changes)
            frames += self._fan_out(protocol.encode_update(merged), exclude)
            start = end
        self._window = min(
            COALESCE_MAX_SECONDS, max(COALESCE_MIN_SECONDS, 1.5 * frames * FRAME_WRITE_SECONDS)
        )

    def _fan_out(self, frame: bytes, exclude: Client | None) -> int:
        """Queue `frame` for every client but `exclude`; return how many got it."""
        started, sent = time.perf_counter(), 0
        for client in self.clients:
            if client is not exclude:
                client.send(frame)
                sent += 1
        RELAY.record(frame, sent, time.perf_counter() - started)
        return sent

    def expire_awareness(self, older_than_ms: int, now_ms: int) -> None:
        """Drop awareness states not renewed within the timeout (a client of a dead process)."""
        stale = [
            client_id
            for client_id, meta in self.awareness.meta.items()
            if client_id in self.awareness.states and now_ms - meta["lastUpdated"] >= older_than_ms
        ]
        if stale:
            self.awareness.remove_awareness_states(stale, "timeout")
            self._fan_out(
                protocol.encode_awareness(self.awareness.encode_awareness_update(stale)), None
            )
