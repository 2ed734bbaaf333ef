"""Rooms of one document in several processes (registries linked by an in-memory hub)."""

import asyncio

from pycrdt import Doc, Text

from documents.sync import protocol
from documents.sync.broadcast import KIND_UPDATE, MemoryHub
from documents.sync.registry import RegistryConfig, RoomRegistry
from documents.sync.store import MemoryStore
from tests.support.waiting import eventually
from tests.unit.fakes import RecordingClient, typed_update
from tests.unit.test_registry import stored_text


class SharedStore(MemoryStore):
    """One database for all 'processes'; one process's writes can be made to fail."""


def make_process(hub, store, **config):
    defaults = {"flush_interval": 0.02, "idle_seconds": 5, "anti_entropy_seconds": 3600}
    return RoomRegistry(store, hub.broadcast(), RegistryConfig(**(defaults | config)))


def text_of(room) -> str:
    return str(room.doc.get("text", type=Text))


async def test_an_update_accepted_on_one_process_reaches_clients_on_another():
    hub, store = MemoryHub(), SharedStore()
    first, second = make_process(hub, store), make_process(hub, store)
    alice, bob = RecordingClient(), RecordingClient()
    room_a = await first.join("doc", alice)
    await second.join("doc", bob)
    room_a.receive(alice, protocol.encode_update(typed_update("hi", client_id=1)))
    await eventually(lambda: bob.text() == "hi")
    await eventually(lambda: stored_text(store, "doc") == "hi")
    assert len(store.logs["doc"]) == 1  # stored once, by the process that accepted it
    for process in (first, second):
        await process.shutdown()


async def test_a_process_opening_a_room_catches_up_on_what_is_not_stored_yet():
    hub, store = MemoryHub(), SharedStore()
    first = make_process(hub, store, flush_interval=30)  # nothing reaches the store
    second = make_process(hub, store)
    alice = RecordingClient()
    room_a = await first.join("doc", alice)
    room_a.receive(alice, protocol.encode_update(typed_update("unflushed", client_id=1)))
    late = RecordingClient()
    room_b = await second.join("doc", late)
    await eventually(lambda: text_of(room_b) == "unflushed")
    assert late.text() == "unflushed"
    for process in (first, second):
        await process.shutdown()


async def test_anti_entropy_heals_dropped_updates_and_deletions():
    hub, store = MemoryHub(), SharedStore()
    first, second = make_process(hub, store), make_process(hub, store)
    alice, bob = RecordingClient(), RecordingClient()
    room_a = await first.join("doc", alice)
    room_b = await second.join("doc", bob)
    hub.drop = lambda envelope: envelope.kind == KIND_UPDATE  # Redis loses every update
    base = typed_update("abc", client_id=1)
    room_a.receive(alice, protocol.encode_update(base))
    doc = Doc(client_id=1)
    doc.apply_update(base)
    before = doc.get_state()
    del doc.get("text", type=Text)[0:1]
    room_a.receive(alice, protocol.encode_update(doc.get_update(before)))
    await asyncio.sleep(0.05)
    assert text_of(room_b) == ""
    hub.drop = lambda envelope: False
    await first.peers.tick()
    await second.peers.tick()
    await eventually(lambda: text_of(room_b) == "bc")
    assert bob.text() == "bc"
    for process in (first, second):
        await process.shutdown()


async def test_updates_from_a_process_that_died_unflushed_are_stored_by_the_survivor():
    hub, store = MemoryHub(), SharedStore()
    doomed = make_process(hub, store, flush_interval=30)
    survivor = make_process(hub, store)
    survivor.peers.hold_seconds = 0.1
    alice, bob = RecordingClient(), RecordingClient()
    room_a = await doomed.join("doc", alice)
    await survivor.join("doc", bob)
    room_a.receive(alice, protocol.encode_update(typed_update("saved anyway", client_id=1)))
    await eventually(lambda: bob.text() == "saved anyway")
    await doomed.writer.stop()  # SIGKILL: nothing of its buffer is ever written
    await doomed.broadcast.stop()
    await asyncio.sleep(0.15)
    await survivor.peers.tick()
    await eventually(lambda: stored_text(store, "doc") == "saved anyway")
    await survivor.shutdown()


async def test_confirmed_updates_are_not_stored_twice():
    hub, store = MemoryHub(), SharedStore()
    first, second = make_process(hub, store), make_process(hub, store)
    second.peers.hold_seconds = 0.1
    alice, bob = RecordingClient(), RecordingClient()
    room_a = await first.join("doc", alice)
    await second.join("doc", bob)
    room_a.receive(alice, protocol.encode_update(typed_update("once", client_id=1)))
    await eventually(lambda: bob.text() == "once" and "doc" in store.logs)
    await asyncio.sleep(0.15)
    await second.peers.tick()
    await asyncio.sleep(0.05)
    assert len(store.logs["doc"]) == 1
    for process in (first, second):
        await process.shutdown()


async def test_revocation_closes_the_user_on_every_process():
    hub, store = MemoryHub(), SharedStore()
    first, second = make_process(hub, store), make_process(hub, store)
    revoked_here = RecordingClient(user_id=7)
    revoked_there = RecordingClient(user_id=7)
    other = RecordingClient(user_id=8)
    await first.join("doc", revoked_here)
    await second.join("doc", revoked_there)
    await second.join("doc", other)
    first.revoke("doc", 4403, user_id=7)
    await eventually(lambda: revoked_there.closed_with == 4403)
    assert revoked_here.closed_with == 4403 and other.closed_with is None
    for process in (first, second):
        await process.shutdown()


async def test_presence_crosses_processes_and_is_removed_on_disconnect():
    hub, store = MemoryHub(), SharedStore()
    first, second = make_process(hub, store), make_process(hub, store)
    alice, bob = RecordingClient(), RecordingClient()
    room_a = await first.join("doc", alice)
    await second.join("doc", bob)
    entry = protocol.AwarenessEntry(555, 1, '{"user":{"name":"alice"}}')
    room_a.receive(alice, protocol.encode_awareness(protocol.encode_awareness_entries([entry])))
    await eventually(lambda: any(m.entries[0].client_id == 555 for m in bob.awareness_messages()))
    first.leave(room_a, alice)
    await eventually(lambda: bob.awareness_messages()[-1].entries[0].is_removal)
    assert 555 not in second.rooms["doc"].awareness.states
    for process in (first, second):
        await process.shutdown()


class SlowStartBroadcast:
    """A broadcast whose start takes a while, like a first connection to Redis."""

    def __init__(self, inner):
        self.inner = inner
        self.process_id = inner.process_id
        self.started = False

    async def start(self, deliver):
        await asyncio.sleep(0.05)
        await self.inner.start(deliver)
        self.started = True

    async def subscribe(self, room):
        assert self.started, "subscribed before the broadcast started"
        await self.inner.subscribe(room)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_many_clients_joining_a_fresh_process_at_once_all_wait_for_its_start():
    hub, store = MemoryHub(), SharedStore()
    registry = RoomRegistry(
        store, SlowStartBroadcast(hub.broadcast()), RegistryConfig(flush_interval=0.02)
    )
    clients = [RecordingClient() for _ in range(20)]
    rooms = await asyncio.gather(*(registry.join(f"doc{i % 4}", c) for i, c in enumerate(clients)))
    assert len({id(room) for room in rooms}) == 4
    await registry.shutdown()
