"""The cross-process seam: how rooms of the same document in different processes hear each other.

One message per room per process: a process publishes an accepted update once, and every other
process holding that room receives it once and fans it out in-process. `LocalBroadcast` is the
embedded single-process version (nothing to tell anyone); the Redis-backed implementation lives in
`documents.broadcast_layer`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

KIND_UPDATE = "update"
KIND_AWARENESS = "awareness"
KIND_SYNC_REQUEST = "sync-request"  # "here is my state vector, send me what I miss"
KIND_CONTROL = "control"  # revocations and disconnects, addressed to every process


@dataclass(frozen=True, slots=True)
class Envelope:
    room: str
    kind: str
    payload: bytes
    origin: str  # the publishing process, so that nobody re-delivers its own message


Deliver = Callable[[Envelope], None]


class Broadcast(Protocol):
    process_id: str

    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, room: str) -> None: ...

    async def unsubscribe(self, room: str) -> None: ...

    def publish(self, room: str, kind: str, payload: bytes) -> None:
        """Queue a message for every other process holding `room`; must not block."""


class LocalBroadcast:
    """One process: there is nobody else to tell."""

    def __init__(self, process_id: str = "local") -> None:
        self.process_id = process_id

    async def start(self, deliver: Deliver) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def subscribe(self, room: str) -> None:
        pass

    async def unsubscribe(self, room: str) -> None:
        pass

    def publish(self, room: str, kind: str, payload: bytes) -> None:
        pass
