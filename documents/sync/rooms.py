"""RoomRegistry: the per-process registry of rooms.

A room is created on the first join (its state loaded from the store), and unloaded once the last
client has left for `idle_seconds` and its updates are committed. The registry is each room's
listener: it hands accepted updates to the write-behind buffer and to the broadcast seam, and it
applies what other processes publish.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from documents.sync import protocol
from documents.sync.broadcast import (
    KIND_AWARENESS,
    KIND_UPDATE,
    Broadcast,
    Envelope,
)
from documents.sync.closecodes import CloseCode
from documents.sync.room import Client, Room
from documents.sync.store import DocumentStore
from documents.sync.writer import WriteBehind

log = logging.getLogger("collab.rooms")


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    flush_interval: float = 0.1
    idle_seconds: float = 30.0
    max_awareness_bytes: int = 64 * 1024
    pending_bytes_limit: int = 256 * 1024 * 1024
    awareness_timeout_ms: int = 30_000


class RoomRegistry:
    def __init__(
        self, store: DocumentStore, broadcast: Broadcast, config: RegistryConfig | None = None
    ) -> None:
        self.store = store
        self.broadcast = broadcast
        self.config = config or RegistryConfig()
        self.rooms: dict[str, Room] = {}
        self._opening: dict[str, asyncio.Future[Room]] = {}
        self._unload_timers: dict[str, asyncio.TimerHandle] = {}
        self.writer = WriteBehind(
            store,
            interval=self.config.flush_interval,
            limit_bytes=self.config.pending_bytes_limit,
            state_vector_of=self._state_vector_of,
            on_committed=self._acknowledge,
        )
        self._started = False
        self._housekeeping: asyncio.Task | None = None

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.broadcast.start(self.deliver)
        self.writer.start()
        self._housekeeping = asyncio.get_running_loop().create_task(self._expire_awareness())

    # -- joining and leaving -----------------------------------------------------------------
    async def join(self, name: str, client: Client) -> Room:
        room = await self.open(name)
        timer = self._unload_timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        room.join(client)
        return room

    async def open(self, name: str) -> Room:
        """The room for `name`, loading it once even when many clients join at the same time."""
        await self.start()
        room = self.rooms.get(name)
        if room is not None:
            return room
        opening = self._opening.get(name)
        if opening is None:
            opening = asyncio.get_running_loop().create_future()
            self._opening[name] = opening
            try:
                room = await self._load(name)
                self.rooms[name] = room
                opening.set_result(room)
            except BaseException as exc:
                opening.set_exception(exc)
                opening.exception()  # retrieved: later joiners see it through their await
                raise
            finally:
                del self._opening[name]
            return room
        return await asyncio.shield(opening)

    async def _load(self, name: str) -> Room:
        room = Room(name, self, max_awareness_bytes=self.config.max_awareness_bytes)
        await self.broadcast.subscribe(name)
        state = await self.store.load(name)
        if state:
            room.apply_update(state)
        return room

    def leave(self, room: Room, client: Client) -> None:
        room.leave(client)
        self._unload_when_idle(room)

    def _unload_when_idle(self, room: Room) -> None:
        if not room.clients and room.name not in self._unload_timers:
            loop = asyncio.get_running_loop()
            self._unload_timers[room.name] = loop.call_later(
                self.config.idle_seconds, lambda: loop.create_task(self.unload_idle(room.name))
            )

    async def unload_idle(self, name: str) -> None:
        """Persist and drop a room nobody has used for `idle_seconds` (bounded memory)."""
        self._unload_timers.pop(name, None)
        room = self.rooms.get(name)
        if room is None or room.clients:
            return
        try:
            await self.writer.flush()
        except Exception:
            log.warning("room %s kept in memory: its updates are not stored yet", name)
            return
        if room.clients or self.rooms.get(name) is not room:
            return
        del self.rooms[name]
        await self.broadcast.unsubscribe(name)

    # -- RoomListener ------------------------------------------------------------------------
    def has_room_for(self, nbytes: int) -> bool:
        return self.writer.has_room_for(nbytes)

    def update_accepted(self, room: Room, update: bytes) -> None:
        self.writer.add(room.name, update)
        self.broadcast.publish(room.name, KIND_UPDATE, update)

    def awareness_accepted(self, room: Room, payload: bytes) -> None:
        self.broadcast.publish(room.name, KIND_AWARENESS, payload)

    # -- from elsewhere ----------------------------------------------------------------------
    async def apply_external_update(self, name: str, update: bytes) -> None:
        """An update that did not come from a socket (the HTTP API): store, relay, publish."""
        room = await self.open(name)
        change = room.apply_update(update)
        if change is not None:
            self.update_accepted(room, change)
        self._unload_when_idle(room)
        await self.writer.flush()

    def deliver(self, envelope: Envelope) -> None:
        """A message another process published for a room of ours."""
        if envelope.origin == self.broadcast.process_id:
            return
        room = self.rooms.get(envelope.room)
        if room is None:
            return
        try:
            if envelope.kind == KIND_UPDATE:
                room.apply_update(envelope.payload)
            elif envelope.kind == KIND_AWARENESS:
                room.apply_awareness(envelope.payload)
        except protocol.ProtocolError:
            log.warning("dropped a malformed %s message from %s", envelope.kind, envelope.origin)

    def close_clients(
        self, name: str, code: int, predicate: Callable[[Client], bool] = lambda c: True
    ) -> int:
        room = self.rooms.get(name)
        if room is None:
            return 0
        chosen = [client for client in room.clients if predicate(client)]
        for client in chosen:
            client.close(code)
        return len(chosen)

    async def shutdown(self) -> None:
        """Commit everything, then close every connection with 1001 (SIGTERM)."""
        try:
            await self.writer.flush()
        except Exception:
            log.exception("shutdown: some updates could not be stored")
        for room in list(self.rooms.values()):
            for client in list(room.clients):
                client.close(CloseCode.GOING_AWAY)
        await self.writer.stop()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        await self.broadcast.stop()

    # -- internals ---------------------------------------------------------------------------
    def _state_vector_of(self, name: str) -> bytes | None:
        room = self.rooms.get(name)
        return room.doc.get_state() if room is not None else None

    def _acknowledge(self, vectors: dict[str, bytes]) -> None:
        for name, state_vector in vectors.items():
            room = self.rooms.get(name)
            if room is None:
                continue
            ack_clients = [client for client in room.clients if client.wants_ack]
            if ack_clients:
                room.broadcast(protocol.encode_ack(state_vector), ack_clients)

    async def _expire_awareness(self) -> None:
        timeout = self.config.awareness_timeout_ms
        while True:
            await asyncio.sleep(timeout / 10_000)
            now_ms = int(time.time() * 1000)
            for room in list(self.rooms.values()):
                room.expire_awareness(timeout, now_ms)
