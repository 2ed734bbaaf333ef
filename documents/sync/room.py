"""Room: one document's Doc, its connected clients and their awareness; apply and fan out.

A room lives in one process. It applies what its clients send, answers sync step 1, fans out
accepted updates and awareness changes directly to its other clients (an in-process send, never a
channel-layer message per socket), and reports every accepted change to its `RoomListener`
(the registry), which persists it and forwards it to other processes. Presence bookkeeping is
its `RoomAwareness` (documents.sync.awareness).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Protocol

from pycrdt import Doc, merge_updates

from documents.sync import protocol
from documents.sync.awareness import MAX_AWARENESS_ENTRIES, RoomAwareness
from documents.sync.causal import WaitingUpdates
from documents.sync.full_state import EMPTY_STATE_VECTOR, FullState
from documents.sync.protocol import EMPTY_UPDATE, ProtocolError
from documents.sync.stats import RELAY
from documents.sync.store import StoredDocument
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
        max_awareness_ids: int = 8,
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
        self.awareness = RoomAwareness(self.doc, max_ids_per_client=max_awareness_ids)
        self._last_change: bytes | None = None
        # Updates whose dependencies this room has not seen (stored by a process that got them
        # first, or posted over HTTP): kept out of Yrs, which would hold them pending and, in
        # some orders, integrate them wrongly; applied once what they depend on arrives.
        self.waiting: WaitingUpdates[bytes] = WaitingUpdates()
        # The Doc's state vector as {client: clock}, kept up to date from each checked update's
        # shape instead of encoded by Yrs and decoded here for every update (5% of the GIL at
        # 200 rooms); None when it must be read again (any other change to the Doc).
        self._state: dict[int, int] | None = None
        # Yrs keeps the observer callback where Python's GC cannot see it: a callback holding
        # the room would make Room -> Doc -> callback -> Room a cycle never collected.
        room = weakref.ref(self)

        def remember_change(event) -> None:
            if (current := room()) is not None:
                current._last_change = event.update
                current._state = None  # `_apply` puts it back when it knows the new one
                current.full_state.changed()

        self.full_state = FullState(self.doc)
        self._change_subscription = self.doc.observe(remember_change)

    def close(self) -> None:
        """Release the Doc once the room is unloaded. pycrdt hands Yrs a callback that holds
        the Doc itself, so an observed Doc is never freed, whoever drops it, until unobserved
        (measured: about 20 KB kept per room of 3 typists, cycle after cycle)."""
        self.doc.unobserve(self._change_subscription)

    def load(self, stored: StoredDocument) -> None:
        """Start from what storage holds: its integrated state, and its waiting updates."""
        if stored.state:
            self._apply(stored.state, None)
        for update in stored.waiting:
            self.keep_waiting(update)
        self._integrate_waiting()

    def keep_waiting(self, update: bytes) -> None:
        """Hold an update until the room has what it depends on (see `waiting`)."""
        try:
            self.waiting.add(update, check_update(update))
        except InvalidUpdate as exc:
            raise ProtocolError(f"undecodable update: {exc}") from None

    # -- membership ------------------------------------------------------------------------
    def join(self, client: Client) -> None:
        """Greet a new client: our state vector (sync step 1) and everyone's awareness."""
        self.clients.add(client)
        self.awareness.join(client)
        client.send(protocol.encode_sync_step1(self.doc.get_state()))
        if self.awareness.states:
            client.send(protocol.encode_awareness(self.awareness.encode_all()))

    def leave(self, client: Client) -> None:
        """Forget a client and tell the others its awareness states are gone."""
        self.clients.discard(client)
        payload = self.awareness.leave(client)
        if payload is not None:
            self._fan_out(protocol.encode_awareness(payload), exclude=None)
            self.listener.awareness_accepted(self, payload)

    # -- incoming --------------------------------------------------------------------------
    def receive(self, client: Client, frame: bytes) -> None:
        """Handle one frame from `client`; raise ProtocolError if it is malformed."""
        self.receive_message(client, self.parse(frame))

    def parse(self, frame: bytes) -> protocol.Message:
        """Parse and check a frame. Pure: a large frame can be parsed off the event loop."""
        return protocol.parse_message(
            frame,
            max_awareness_bytes=self.max_awareness_bytes,
            max_awareness_entries=MAX_AWARENESS_ENTRIES,
        )

    def receive_message(self, client: Client, message: protocol.Message) -> None:
        match message:
            case protocol.SyncStep1():
                client.send(protocol.encode_sync_step2(self._diff_since(message.state_vector)))
            case protocol.SyncStep2() | protocol.SyncUpdate() if client.can_write:
                try:
                    self._accept_update(message.update, message.shape, exclude=client)
                except MissingDependencies:
                    # Ask for a self-contained difference: y-websocket clients answer our
                    # sync step 1 with everything we lack, in an order Yrs integrates right.
                    client.send(protocol.encode_sync_step1(self.doc.get_state()))
            case protocol.AwarenessUpdate():
                payload = self.awareness.accept(client, message)
                if payload is not None:
                    self._fan_out(protocol.encode_awareness(payload), exclude=client)
                    self.listener.awareness_accepted(self, payload)
            case protocol.QueryAwareness():
                client.send(protocol.encode_awareness(self.awareness.encode_all()))
            # A viewer's update is dropped; an auth message is ignored (the handshake
            # authenticated the connection).

    def apply_update(self, update: bytes, *, exclude: Client | None = None) -> bytes | None:
        """Apply an update that came from elsewhere (HTTP, another process).

        Returns what it changed (None if nothing), after relaying that to this room's clients.
        The listener is not told: the caller decides whether it must be persisted or forwarded.
        Raises MissingDependencies (and applies nothing) if the update refers to content this
        room has not seen.
        """
        try:
            shape = check_update(update)
        except InvalidUpdate as exc:
            raise ProtocolError(f"undecodable update: {exc}") from None
        change = self._apply(update, shape)
        if change is not None:
            self._relay_update(change, exclude)
            self._integrate_waiting()
        return change

    def apply_awareness(self, payload: bytes) -> None:
        """Awareness from another process: keep it and relay it to this room's clients."""
        self.awareness.apply_remote(payload)
        self._fan_out(protocol.encode_awareness(payload), exclude=None)

    def expire_awareness(self, older_than_ms: int, now_ms: int) -> None:
        """Drop awareness states not renewed within the timeout (a client of a dead process)."""
        payload = self.awareness.expire(older_than_ms, now_ms)
        if payload is not None:
            self._fan_out(protocol.encode_awareness(payload), exclude=None)

    def close_clients(self, code: int, predicate: Callable[[Client], bool] = lambda c: True) -> int:
        """Close the clients `predicate` picks with `code`; return how many."""
        chosen = [client for client in self.clients if predicate(client)]
        for client in chosen:
            client.close(code)
        return len(chosen)

    def acknowledge(self, state_vector: bytes) -> None:
        """A commit stored this room's updates up to `state_vector`: tell the clients that
        asked (`ack=1`), with message type 100."""
        asked = [client for client in self.clients if client.wants_ack]
        if asked:
            frame = protocol.encode_ack(state_vector)
            for client in asked:
                client.send(frame)

    def state_vector(self) -> dict[int, int]:
        """{client: clock} of everything this room's Doc holds (do not modify)."""
        if self._state is None:
            self._state = protocol.decode_state_vector(self.doc.get_state())
        return self._state

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
        self._integrate_waiting()

    def _integrate_waiting(self) -> None:
        """Apply the waiting updates whose dependencies are now here, in causal order; each
        change is relayed, stored and forwarded like an accepted edit."""
        while self.waiting:
            ready = self.waiting.take_ready(dict(self.state_vector()))
            if not ready:
                return
            for update, _shape in ready:
                try:
                    change = self._apply(update, None)
                except ProtocolError:
                    continue  # Yrs refused it: it stays wherever it was stored, never applied
                if change is not None:
                    self._relay_update(change, None)
                    self.listener.update_accepted(self, change)

    def _apply(self, update: bytes, shape: UpdateShape | None) -> bytes | None:
        """Apply into the Doc; return the change it made, or None if it added nothing new.

        pycrdt raises PanicException (a BaseException) on some bad updates: any failure is the
        sender's fault and closes only its connection, never the room."""
        if update == EMPTY_UPDATE:
            return None
        state = self.state_vector() if shape is not None else None
        if state is not None and shape.missing_dependencies(state):
            raise MissingDependencies(self.name)
        self._last_change = None
        try:
            self.doc.apply_update(update)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            self._state = None
            raise ProtocolError(f"update rejected by Yrs: {exc!r}") from None
        if state is not None:
            # Nothing of it is pending (checked above), so the Doc now holds each of its
            # clients up to the end of the update's range, or further.
            for client, (_start, end) in shape.ranges.items():
                if end > state.get(client, 0):
                    state[client] = end
            self._state = state
        change, self._last_change = self._last_change, None
        if not change or change == EMPTY_UPDATE:
            return None
        self.size_bytes += len(change)
        return change

    def _diff_since(self, state_vector: bytes) -> bytes:
        if state_vector == EMPTY_STATE_VECTOR:
            return self.full_state.get()
        try:
            return self.doc.get_update(state_vector)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            raise ProtocolError(f"bad state vector: {exc!r}") from None

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
