"""Rooms of one document in several processes (registries linked by an in-memory hub)."""

import asyncio
import time

from pycrdt import Doc, Text

from documents.sync import protocol
from documents.sync.broadcast import KIND_UPDATE, MemoryHub
from documents.sync.registry import RegistryConfig, RoomRegistry
from documents.sync.store import MemoryStore
from tests.support.waiting import eventually
from tests.unit.fakes import RecordingClient, typed_update
from tests.unit.processes import alice_and_bob, cluster, stored_text, text_of


async def test_an_update_accepted_on_one_process_reaches_clients_on_another():
    async with cluster() as processes:
        room_a, alice, bob = await alice_and_bob(processes.process(), processes.process())
        room_a.receive(alice, protocol.encode_update(typed_update("hi", client_id=1)))
        await eventually(lambda: bob.text() == "hi")
        await eventually(lambda: stored_text(processes.store, "doc") == "hi")
        assert len(processes.store.logs["doc"]) == 1  # stored once, by the process that took it


async def test_a_process_opening_a_room_catches_up_on_what_is_not_stored_yet():
    async with cluster() as processes:
        first = processes.process(flush_interval=30)  # nothing reaches the store
        second = processes.process()
        alice = RecordingClient()
        room_a = await first.join("doc", alice)
        room_a.receive(alice, protocol.encode_update(typed_update("unflushed", client_id=1)))
        late = RecordingClient()
        room_b = await second.join("doc", late)
        await eventually(lambda: text_of(room_b) == "unflushed")
        assert late.text() == "unflushed"


async def test_anti_entropy_heals_dropped_updates_and_deletions():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        room_a, alice, bob = await alice_and_bob(first, second)
        room_b = second.rooms["doc"]
        dropped = []
        processes.hub.drop = lambda envelope: (  # Redis loses every update
            envelope.kind == KIND_UPDATE and dropped.append(envelope) is None
        )
        base = typed_update("abc", client_id=1)
        room_a.receive(alice, protocol.encode_update(base))
        doc = Doc(client_id=1)
        doc.apply_update(base)
        before = doc.get_state()
        del doc.get("text", type=Text)[0:1]
        room_a.receive(alice, protocol.encode_update(doc.get_update(before)))
        assert len(dropped) == 2 and text_of(room_b) == ""  # the hub drops as it routes
        processes.hub.drop = lambda envelope: False
        await first.peers.tick()
        await second.peers.tick()
        await eventually(lambda: text_of(room_b) == "bc")
        assert bob.text() == "bc"


async def test_updates_from_a_process_that_died_unflushed_are_stored_by_the_survivor():
    async with cluster() as processes:
        doomed = processes.process(flush_interval=30)
        survivor = processes.process()
        room_a, alice, bob = await alice_and_bob(doomed, survivor)
        room_a.receive(alice, protocol.encode_update(typed_update("saved anyway", client_id=1)))
        await eventually(lambda: bob.text() == "saved anyway")
        await processes.kill(doomed)
        survivor.peers.store_overdue(time.monotonic() + survivor.peers.hold_seconds)
        await eventually(lambda: stored_text(processes.store, "doc") == "saved anyway")


async def test_confirmed_updates_are_not_stored_twice():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        room_a, alice, bob = await alice_and_bob(first, second)
        room_a.receive(alice, protocol.encode_update(typed_update("once", client_id=1)))
        await eventually(lambda: bob.text() == "once" and "doc" in processes.store.logs)
        await eventually(lambda: not any(second.peers.held["doc"].values()), what="STORED")
        second.peers.store_overdue(time.monotonic() + second.peers.hold_seconds)
        await second.writer.flush()
        assert len(processes.store.logs["doc"]) == 1


async def test_revocation_closes_the_user_on_every_process():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        revoked_here = RecordingClient(user_id=7)
        revoked_there = RecordingClient(user_id=7)
        other = RecordingClient(user_id=8)
        await first.join("doc", revoked_here)
        await second.join("doc", revoked_there)
        await second.join("doc", other)
        first.revoke("doc", 4403, user_id=7)
        await eventually(lambda: revoked_there.closed_with == 4403)
        assert revoked_here.closed_with == 4403 and other.closed_with is None


async def test_presence_crosses_processes_and_is_removed_on_disconnect():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        room_a, alice, bob = await alice_and_bob(first, second)
        entry = protocol.AwarenessEntry(555, 1, '{"user":{"name":"alice"}}')
        room_a.receive(alice, protocol.encode_awareness(protocol.encode_awareness_entries([entry])))
        await eventually(
            lambda: any(m.entries[0].client_id == 555 for m in bob.awareness_messages())
        )
        first.leave(room_a, alice)
        await eventually(lambda: bob.awareness_messages()[-1].entries[0].is_removal)
        assert 555 not in second.rooms["doc"].awareness.states


class SlowStartBroadcast:
    """A broadcast whose start takes a while, like a first connection to Redis."""

    def __init__(self, inner):
        self.inner = inner
        self.process_id = inner.process_id
        self.started = False

    async def start(self, deliver):
        await asyncio.sleep(0.05)  # the slowness itself, deliberately: joiners arrive meanwhile
        await self.inner.start(deliver)
        self.started = True

    async def subscribe(self, room):
        assert self.started, "subscribed before the broadcast started"
        await self.inner.subscribe(room)

    def __getattr__(self, name):
        return getattr(self.inner, name)


async def test_many_clients_joining_a_fresh_process_at_once_all_wait_for_its_start():
    registry = RoomRegistry(
        MemoryStore(),
        SlowStartBroadcast(MemoryHub().broadcast()),
        RegistryConfig(flush_interval=0.02),
    )
    clients = [RecordingClient() for _ in range(20)]
    rooms = await asyncio.gather(*(registry.join(f"doc{i % 4}", c) for i, c in enumerate(clients)))
    assert len({id(room) for room in rooms}) == 4
    await registry.shutdown()
