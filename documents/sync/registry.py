"""RoomRegistry: the per-process registry of rooms.

A room is created on the first join (its state loaded from the store, then caught up from the
other processes), and unloaded once the last client has left for `idle_seconds` and its updates
are committed. The registry is each room's listener: accepted updates go to the write-behind
buffer (documents.sync.write_behind) and to the other processes (documents.sync.peers).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from documents.sync.broadcast import Broadcast
from documents.sync.closecodes import CloseCode
from documents.sync.peers import PeerSync
from documents.sync.revocation import Revocation
from documents.sync.room import Client, MissingDependencies, Room
from documents.sync.store import DocumentStore
from documents.sync.write_behind import WriteBehind

log = logging.getLogger("collab.rooms")

# Revocations are remembered this long, for clients whose handshake began before one arrived
# and that join after it (their role was read from the database in between).
REVOCATION_MEMORY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    flush_interval: float = 0.1
    idle_seconds: float = 30.0
    max_awareness_bytes: int = 64 * 1024
    max_awareness_ids: int = 8
    pending_bytes_limit: int = 256 * 1024 * 1024
    awareness_timeout_ms: int = 30_000
    anti_entropy_seconds: float = 5.0
    max_document_bytes: int | None = None
    coalesce: bool = True
    compact_after_updates: int = 500


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
        self._recent_revocations: deque[tuple[float, Revocation]] = deque()
        self.writer = WriteBehind(
            store,
            interval=self.config.flush_interval,
            limit_bytes=self.config.pending_bytes_limit,
            commit_marker=self._commit_marker,
            on_committed=self._committed,
            compact_after_updates=self.config.compact_after_updates,
        )
        self.peers = PeerSync(
            self,
            broadcast,
            interval=self.config.anti_entropy_seconds,
            hold_seconds=max(5.0, 20 * self.config.flush_interval),
            on_control=self._on_control,
        )
        self._starting: asyncio.Future | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Start once; everyone who arrives meanwhile waits for the same start (clients that
        reconnect together after a deploy must not find the broadcast half started)."""
        if self._starting is None or (
            self._starting.done() and self._starting.exception() is not None
        ):
            self._starting = asyncio.ensure_future(self._start())  # a failed start is retried
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        await self.broadcast.start(self.peers.deliver)
        self.writer.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._expire_awareness(), name="awareness-expiry"),
            loop.create_task(self.peers.run(), name="anti-entropy"),
        ]

    # -- joining and leaving -----------------------------------------------------------------
    async def join(self, name: str, client: Client) -> Room:
        room = await self.open(name)
        timer = self._unload_timers.pop(name, None)
        if timer is not None:
            timer.cancel()
        if not self._revoked_meanwhile(name, client):
            room.join(client)
        return room

    async def open(self, name: str) -> Room:
        """The room for `name`, loading it once even when many clients join at the same time."""
        await self.start()
        room = self.rooms.get(name)
        if room is not None:
            return room
        opening = self._opening.get(name)
        if opening is not None:
            return await asyncio.shield(opening)
        opening = asyncio.get_running_loop().create_future()
        self._opening[name] = opening
        try:
            room = await self._load(name)
            self.rooms[name] = room
            opening.set_result(room)
        except BaseException as exc:
            opening.set_exception(exc)
            opening.exception()  # retrieved: later joiners see it through their own await
            raise
        finally:
            del self._opening[name]
        self.peers.opened(room)
        return room

    async def _load(self, name: str) -> Room:
        room = Room(
            name,
            self,
            max_awareness_bytes=self.config.max_awareness_bytes,
            max_awareness_ids=self.config.max_awareness_ids,
            max_document_bytes=self.config.max_document_bytes,
            coalesce=self.config.coalesce,
        )
        await self.broadcast.subscribe(name)  # before loading: nothing published meanwhile is lost
        room.load(await self.store.load(name))
        return room

    def leave(self, room: Room, client: Client) -> None:
        room.leave(client)
        self._unload_when_idle(room)

    def _unload_when_idle(self, room: Room) -> None:
        name = room.name  # the timer holds the name, not the room: an unloaded room goes at once
        if not room.clients and name not in self._unload_timers:
            loop = asyncio.get_running_loop()
            self._unload_timers[name] = loop.call_later(
                self.config.idle_seconds, lambda: loop.create_task(self.unload_idle(name))
            )

    async def unload_idle(self, name: str) -> None:
        """Persist and drop a room nobody has used for `idle_seconds` (bounded memory)."""
        timer = self._unload_timers.pop(name, None)
        if timer is not None:
            timer.cancel()  # called before it fired
        room = self.rooms.get(name)
        if room is None or room.clients:
            return
        for update in self.peers.forget(name):
            self.store_update(name, update)
        try:
            await self.writer.flush()
        except Exception:
            log.warning("room %s stays in memory: its updates are not stored yet", name)
            self._unload_when_idle(room)
            return
        if room.clients or self.rooms.get(name) is not room:
            return
        del self.rooms[name]
        room.close()
        self.writer.forget(name)
        await self.broadcast.unsubscribe(name)

    # -- RoomHost (for PeerSync) -------------------------------------------------------------
    def loaded_room(self, name: str) -> Room | None:
        return self.rooms.get(name)

    def loaded_rooms(self) -> list[Room]:
        return list(self.rooms.values())

    def store_update(self, name: str, update: bytes) -> None:
        self.writer.add(name, update)

    # -- RoomListener ------------------------------------------------------------------------
    def has_room_for(self, nbytes: int) -> bool:
        return self.writer.has_room_for(nbytes)

    def update_accepted(self, room: Room, update: bytes) -> None:
        self.writer.add(room.name, update)
        self.peers.local_update(room, update)

    def awareness_accepted(self, room: Room, payload: bytes) -> None:
        self.peers.local_awareness(room, payload)

    # -- from elsewhere ----------------------------------------------------------------------
    async def apply_external_update(self, name: str, update: bytes) -> None:
        """An update that did not come from a socket (the HTTP API): apply, relay, store,
        publish; return once it is committed. Raises Overloaded or DocumentTooLarge as a
        socket's update would be refused."""
        room = await self.open(name)
        room.admit(len(update))
        try:
            change = room.apply_update(update)
        except MissingDependencies:
            # Stored as it is (nothing accepted is dropped) and held by the room, which applies
            # it once what it depends on arrives: from an editor, another process or storage.
            room.keep_waiting(update)
            self.writer.add(name, update)
        else:
            if change is not None:
                self.update_accepted(room, change)
        self._unload_when_idle(room)
        await self.writer.flush()

    def close_clients(
        self, name: str, code: int, predicate: Callable[[Client], bool] = lambda c: True
    ) -> int:
        room = self.rooms.get(name)
        return 0 if room is None else room.close_clients(code, predicate)

    def revoke(self, name: str, code: int, user_id=None) -> int:
        """Close a document's connections (one user's, or all) here and on every process."""
        return self.revoke_matching(Revocation(code, room=name, user_id=user_id))

    def revoke_matching(self, revocation: Revocation) -> int:
        """Close the matching connections here, and tell every other process to do the same."""
        self.peers.control(revocation.to_message())
        return self._close_matching(revocation)

    def _close_matching(self, revocation: Revocation) -> int:
        self._remember(revocation)
        names = list(self.rooms) if revocation.room is None else [revocation.room]
        return sum(self.close_clients(name, revocation.code, revocation.matches) for name in names)

    def _remember(self, revocation: Revocation) -> None:
        now = time.monotonic()
        recent = self._recent_revocations
        recent.append((now, revocation))
        while now - recent[0][0] > REVOCATION_MEMORY_SECONDS:
            recent.popleft()

    def _revoked_meanwhile(self, name: str, client: Client) -> bool:
        """Close, instead of joining, a client whose credentials and role were read before a
        revocation that names it arrived: it was in no room then, so nothing closed it."""
        since = getattr(client, "handshake_at", None)
        if since is None:
            return False
        for received_at, revocation in self._recent_revocations:
            if (
                received_at >= since
                and revocation.room in (None, name)
                and revocation.matches(client)
            ):
                client.close(revocation.code)
                return True
        return False

    def _on_control(self, message: dict) -> None:
        if message.get("action") == "close":
            self._close_matching(Revocation.from_message(message))

    async def shutdown(self) -> None:
        """Commit everything, then close every connection with 1001 (SIGTERM)."""
        for name in list(self.rooms):
            for update in self.peers.forget(name):
                self.store_update(name, update)
        try:
            await self.writer.flush()
        except Exception:
            log.exception("shutdown: some updates could not be stored")
        for room in list(self.rooms.values()):
            room.close_clients(CloseCode.GOING_AWAY)
        await self.writer.stop()
        for task in self._tasks:
            task.cancel()
        await self.broadcast.stop()

    # -- internals ---------------------------------------------------------------------------
    def _commit_marker(self, name: str) -> tuple[bytes | None, int]:
        """Taken when a batch is cut: the state vector to acknowledge, and the sequence number
        of the last update published for the room, which the batch covers."""
        room = self.rooms.get(name)
        state_vector = room.doc.get_state() if room is not None else None
        return state_vector, self.peers.last_published(name)

    def _committed(self, markers: dict[str, tuple[bytes | None, int]]) -> None:
        for name, (state_vector, seq) in markers.items():
            self.peers.committed(name, seq)
            room = self.rooms.get(name)
            if room is not None and state_vector is not None:
                room.acknowledge(state_vector)

    async def _expire_awareness(self) -> None:
        timeout = self.config.awareness_timeout_ms
        while True:
            await asyncio.sleep(timeout / 10_000)
            now_ms = int(time.time() * 1000)
            for room in list(self.rooms.values()):
                room.expire_awareness(timeout, now_ms)
