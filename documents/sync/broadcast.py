"""The cross-process seam: how rooms of the same document in different processes hear each other.

One message per room per process: a process publishes an accepted update once, and every other
process holding that room receives it once and fans it out in-process. `LocalBroadcast` is the
embedded single-process version (nobody to tell), `MemoryHub` links registries inside one
process (engine tests), and the Redis-backed one is `documents.server.channel_layer_broadcast`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

KIND_UPDATE = "update"  # an update accepted by the origin (seq: its per-room sequence number)
KIND_AWARENESS = "awareness"
KIND_HELLO = "hello"  # "I just opened this room; here is my state vector" (payload)
KIND_STATE_VECTOR = "state-vector"  # periodic anti-entropy: "here is my state vector"
KIND_SYNC_REQUEST = "sync-request"  # directed: "send me what I miss after this state vector"
KIND_STORED = "stored"  # "my updates up to seq are committed" (payload: seq as ASCII digits)
KIND_CONTROL = "control"  # revocations and disconnects, to every process (payload: JSON)


@dataclass(frozen=True, slots=True)
class Envelope:
    room: str
    kind: str
    payload: bytes
    origin: str  # the publishing process, so that nobody re-delivers its own message
    seq: int = 0


Deliver = Callable[[Envelope], None]


class Broadcast(Protocol):
    process_id: str

    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, room: str) -> None: ...

    async def unsubscribe(self, room: str) -> None: ...

    async def renew_subscriptions(self) -> None:
        """Subscribe again to every room (the backend may have forgotten, e.g. after a restart)."""

    def publish(self, room: str, kind: str, payload: bytes, seq: int = 0) -> None:
        """Queue a message for every other process holding `room`; must not block."""

    def send_to(self, process_id: str, room: str, kind: str, payload: bytes) -> None:
        """Queue a message for one process; must not block."""


class LocalBroadcast:
    """One process: there is nobody else to tell."""

    def __init__(self, process_id: str = "local") -> None:
        self.process_id = process_id
        self.healthy = True

    async def start(self, deliver: Deliver) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def subscribe(self, room: str) -> None:
        pass

    async def unsubscribe(self, room: str) -> None:
        pass

    async def renew_subscriptions(self) -> None:
        pass

    def publish(self, room: str, kind: str, payload: bytes, seq: int = 0) -> None:
        pass

    def send_to(self, process_id: str, room: str, kind: str, payload: bytes) -> None:
        pass


class MemoryHub:
    """Links several registries in one process as if they were processes on one Redis."""

    def __init__(self) -> None:
        self.members: dict[str, MemoryBroadcast] = {}
        self._ids = itertools.count(1)
        self.drop: Callable[[Envelope], bool] = lambda envelope: False

    def broadcast(self) -> MemoryBroadcast:
        member = MemoryBroadcast(self, f"process-{next(self._ids)}")
        self.members[member.process_id] = member
        return member

    def route(self, envelope: Envelope, to: str | None) -> None:
        if self.drop(envelope):
            return
        for member in list(self.members.values()):
            if member.process_id == envelope.origin or member.deliver is None:
                continue
            if to is not None and member.process_id != to:
                continue
            if to is None and envelope.kind != KIND_CONTROL and envelope.room not in member.rooms:
                continue
            asyncio.get_running_loop().call_soon(member.deliver, envelope)


class MemoryBroadcast:
    def __init__(self, hub: MemoryHub, process_id: str) -> None:
        self.hub = hub
        self.process_id = process_id
        self.rooms: set[str] = set()
        self.deliver: Deliver | None = None
        self.healthy = True

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver

    async def stop(self) -> None:
        self.deliver = None
        self.hub.members.pop(self.process_id, None)

    async def subscribe(self, room: str) -> None:
        self.rooms.add(room)

    async def unsubscribe(self, room: str) -> None:
        self.rooms.discard(room)

    async def renew_subscriptions(self) -> None:
        pass

    def publish(self, room: str, kind: str, payload: bytes, seq: int = 0) -> None:
        self.hub.route(Envelope(room, kind, payload, self.process_id, seq), to=None)

    def send_to(self, process_id: str, room: str, kind: str, payload: bytes) -> None:
        self.hub.route(Envelope(room, kind, payload, self.process_id), to=process_id)
