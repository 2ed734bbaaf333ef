"""PeerSync: keeps this process's rooms in step with the same rooms in other processes.

- Live: an accepted update is published once with a per-room sequence number.
- Join-time catch-up: a process that opens a room says HELLO with its state vector (after
  loading from the store); the others answer with what it lacks, their awareness states, and ask
  for what they lack.
- Anti-entropy: every `interval` each room publishes its state vector; a peer that sees the
  other side lacking something sends the difference, and one that lacks something asks for it.
  This heals dropped messages, a Redis restart and a paused process.
- State vectors do not show deletions, so the state-vector message also carries a digest of the
  delete set; peers whose digests differ exchange their delete sets.
- Exactly-once storage in the normal case: an update is stored by the process that accepted it.
  Updates applied from a peer are held until that peer says STORED (up to their sequence
  number); if it never does (it died before its flush), this process stores them after
  `hold_seconds`. A duplicate store is harmless for a CRDT; a missing one would not be.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pycrdt import write_message

from documents.sync import protocol
from documents.sync.broadcast import (
    KIND_AWARENESS,
    KIND_CONTROL,
    KIND_HELLO,
    KIND_STATE_VECTOR,
    KIND_STORED,
    KIND_SYNC_REQUEST,
    KIND_UPDATE,
    Broadcast,
    Envelope,
)
from documents.sync.room import MissingDependencies, Room
from documents.sync.varint import DecodeError, Reader

log = logging.getLogger("collab.peers")


class RoomHost(Protocol):
    """What PeerSync needs of this process's rooms (the registry implements it)."""

    def loaded_room(self, name: str) -> Room | None:
        """The room if this process has it loaded; PeerSync never loads one."""

    def loaded_rooms(self) -> list[Room]: ...

    def store_update(self, name: str, update: bytes) -> None:
        """Persist an update with the next commit (one a peer applied here but never stored)."""


@dataclass
class HeldUpdate:
    received_at: float
    seq: int
    update: bytes


@dataclass
class PeerSync:
    rooms: RoomHost
    broadcast: Broadcast
    interval: float = 5.0
    hold_seconds: float = 5.0
    on_control: Callable[[dict], None] = lambda message: None
    published_seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    held: dict[str, dict[str, list[HeldUpdate]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    repairs: int = 0  # updates that anti-entropy or catch-up had to bring (for metrics and tests)

    # -- what this process says ------------------------------------------------------------
    def local_update(self, room: Room, update: bytes) -> None:
        self.published_seq[room.name] += 1
        self.broadcast.publish(room.name, KIND_UPDATE, update, self.published_seq[room.name])

    def local_awareness(self, room: Room, payload: bytes) -> None:
        self.broadcast.publish(room.name, KIND_AWARENESS, payload)

    def opened(self, room: Room) -> None:
        self.broadcast.publish(room.name, KIND_HELLO, self._vector_message(room))

    def committed(self, name: str, seq: int) -> None:
        if seq:
            self.broadcast.publish(name, KIND_STORED, str(seq).encode())

    def control(self, message: dict) -> None:
        self.broadcast.publish("", KIND_CONTROL, json.dumps(message).encode())

    def last_published(self, name: str) -> int:
        """The sequence number of the room's last published update (0: none yet)."""
        return self.published_seq.get(name, 0)

    def forget(self, name: str) -> list[bytes]:
        """The room unloads: return what we hold for it, to be stored now."""
        held = self.held.pop(name, {})
        self.published_seq.pop(name, None)
        return [entry.update for entries in held.values() for entry in entries]

    # -- what other processes say ----------------------------------------------------------
    def deliver(self, envelope: Envelope) -> None:
        if envelope.origin == self.broadcast.process_id:
            return
        if envelope.kind == KIND_CONTROL:
            self.on_control(json.loads(envelope.payload))
            return
        room = self.rooms.loaded_room(envelope.room)
        if room is None:
            return
        try:
            self._deliver_to(room, envelope)
        except (protocol.ProtocolError, DecodeError) as exc:
            log.warning("dropped a malformed %s from %s: %s", envelope.kind, envelope.origin, exc)

    def _deliver_to(self, room: Room, envelope: Envelope) -> None:
        kind = envelope.kind
        if kind == KIND_UPDATE:
            self._apply_from_peer(room, envelope)
        elif kind == KIND_AWARENESS:
            room.apply_awareness(envelope.payload)
        elif kind in (KIND_HELLO, KIND_STATE_VECTOR):
            self._answer_state_vector(room, envelope)
        elif kind == KIND_SYNC_REQUEST:
            self._send_difference(room, envelope.origin, envelope.payload)
        elif kind == KIND_STORED:
            self._release(room.name, envelope.origin, int(envelope.payload))

    def _apply_from_peer(self, room: Room, envelope: Envelope) -> None:
        try:
            change = room.apply_update(envelope.payload)
        except MissingDependencies:
            # Another process's update overtook what it depends on: ask that process for the
            # whole difference, which arrives as one self-contained update.
            self.broadcast.send_to(
                envelope.origin, room.name, KIND_SYNC_REQUEST, room.doc.get_state()
            )
            return
        if change is not None:
            if envelope.seq == 0:
                self.repairs += 1
            self.held[room.name][envelope.origin].append(
                HeldUpdate(time.monotonic(), envelope.seq, change)
            )

    @staticmethod
    def _delete_set(room: Room) -> bytes:
        """The document's delete set, as an update with no structs."""
        return room.doc.get_update(room.doc.get_state())

    def _vector_message(self, room: Room) -> bytes:
        digest = hashlib.blake2b(self._delete_set(room), digest_size=8).digest()
        return write_message(room.doc.get_state()) + digest

    def _answer_state_vector(self, room: Room, envelope: Envelope) -> None:
        reader = Reader(envelope.payload)
        theirs = reader.read_var_bytes()
        their_digest = reader.read_bytes(8)
        ours = room.doc.get_state()
        if protocol.lacks(theirs, ours):
            self._send_difference(room, envelope.origin, theirs)
        elif hashlib.blake2b(self._delete_set(room), digest_size=8).digest() != their_digest:
            self.broadcast.send_to(envelope.origin, room.name, KIND_UPDATE, self._delete_set(room))
        if protocol.lacks(ours, theirs):
            self.broadcast.send_to(envelope.origin, room.name, KIND_SYNC_REQUEST, ours)
        if envelope.kind == KIND_HELLO and room.awareness.states:
            states = room.awareness.encode_all()
            self.broadcast.send_to(envelope.origin, room.name, KIND_AWARENESS, states)

    def _send_difference(self, room: Room, process_id: str, state_vector: bytes) -> None:
        protocol.decode_state_vector(state_vector)  # refuse a malformed vector before Yrs
        difference = room.doc.get_update(state_vector)
        if difference != protocol.EMPTY_UPDATE:
            self.broadcast.send_to(process_id, room.name, KIND_UPDATE, difference)

    def _release(self, name: str, origin: str, stored_seq: int) -> None:
        entries = self.held.get(name, {}).get(origin)
        if entries:
            entries[:] = [entry for entry in entries if entry.seq > stored_seq]

    # -- periodic ---------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("anti-entropy tick failed")

    async def tick(self) -> None:
        await self.broadcast.renew_subscriptions()
        for room in self.rooms.loaded_rooms():
            self.broadcast.publish(room.name, KIND_STATE_VECTOR, self._vector_message(room))
        self.store_overdue(time.monotonic())

    def store_overdue(self, now: float) -> None:
        """Store what a peer applied here but never confirmed (it may have died unflushed)."""
        for name, by_origin in list(self.held.items()):
            for origin, entries in list(by_origin.items()):
                overdue = [e for e in entries if now - e.received_at >= self.hold_seconds]
                if not overdue:
                    continue
                log.info("storing %d updates from %s that it never confirmed", len(overdue), origin)
                for entry in overdue:
                    self.rooms.store_update(name, entry.update)
                by_origin[origin] = [e for e in entries if e not in overdue]
