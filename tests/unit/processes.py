"""Several server processes in one test: registries sharing one store and one in-memory hub,
as servers share Postgres and Redis."""

from __future__ import annotations

from contextlib import asynccontextmanager

from pycrdt import Doc, Text

from documents.sync.broadcast import MemoryHub
from documents.sync.protocol import EMPTY_UPDATE
from documents.sync.registry import RegistryConfig, RoomRegistry
from documents.sync.room import Room
from documents.sync.store import MemoryStore
from tests.unit.fakes import RecordingClient


class Cluster:
    def __init__(self) -> None:
        self.hub = MemoryHub()
        self.store = MemoryStore()
        self.processes: list[RoomRegistry] = []

    def process(self, **config) -> RoomRegistry:
        defaults = {"flush_interval": 0.02, "idle_seconds": 5, "anti_entropy_seconds": 3600}
        registry = RoomRegistry(
            self.store, self.hub.broadcast(), RegistryConfig(**(defaults | config))
        )
        self.processes.append(registry)
        return registry

    async def kill(self, process: RoomRegistry) -> None:
        """SIGKILL: nothing of its buffer is ever written, and it says nothing more."""
        self.processes.remove(process)
        await process.writer.stop()
        await process.broadcast.stop()

    async def shutdown(self) -> None:
        for process in self.processes:
            await process.shutdown()


@asynccontextmanager
async def cluster():
    processes = Cluster()
    try:
        yield processes
    finally:
        await processes.shutdown()


async def alice_and_bob(first: RoomRegistry, second: RoomRegistry, name: str = "doc"):
    """Alice in the room on `first`, Bob in it on `second`: (alice's room, alice, bob)."""
    alice, bob = RecordingClient(), RecordingClient()
    room = await first.join(name, alice)
    await second.join(name, bob)
    return room, alice, bob


def text_of(room: Room) -> str:
    return str(room.doc.get("text", type=Text))


def stored_text(store: MemoryStore, name: str) -> str:
    doc = Doc()
    for update in [store.snapshots.get(name, EMPTY_UPDATE), *store.logs.get(name, [])]:
        doc.apply_update(update)
    return str(doc.get("text", type=Text))
