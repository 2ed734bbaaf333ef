"""RoomRegistry with the in-memory store: loading, group commit, acks, unloading, shutdown."""

import asyncio

import pytest
from pycrdt import Doc, Text

from documents.sync import protocol
from documents.sync.broadcast import LocalBroadcast
from documents.sync.closecodes import CloseCode
from documents.sync.registry import RegistryConfig, RoomRegistry
from documents.sync.room import Overloaded
from documents.sync.store import MemoryStore
from tests.support.waiting import eventually
from tests.unit.fakes import RecordingClient, typed_update
from tests.unit.processes import stored_text


def make_registry(store=None, **config) -> RoomRegistry:
    defaults = {"flush_interval": 0.02, "idle_seconds": 0.05}
    return RoomRegistry(
        store or MemoryStore(), LocalBroadcast(), RegistryConfig(**(defaults | config))
    )


async def test_a_room_is_loaded_from_the_store_on_first_join():
    store = MemoryStore()
    store.logs["doc"] = [typed_update("stored", client_id=9)]
    registry = make_registry(store)
    client = RecordingClient()
    room = await registry.join("doc", client)
    assert str(room.doc.get("text", type=Text)) == "stored"
    await registry.shutdown()


async def test_concurrent_joins_share_one_room():
    registry = make_registry()
    rooms = await asyncio.gather(*(registry.join("doc", RecordingClient()) for _ in range(5)))
    assert len({id(room) for room in rooms}) == 1
    assert len(rooms[0].clients) == 5
    await registry.shutdown()


async def test_accepted_updates_are_committed_and_acknowledged():
    store = MemoryStore()
    registry = make_registry(store)
    writer = RecordingClient(wants_ack=True)
    plain = RecordingClient()
    room = await registry.join("doc", writer)
    await registry.join("doc", plain)
    room.receive(writer, protocol.encode_update(typed_update("durable", client_id=1)))
    await eventually(lambda: stored_text(store, "doc") == "durable")
    await eventually(lambda: any(frame[0] == protocol.MESSAGE_ACK for frame in writer.sent))
    ack = next(frame for frame in writer.sent if frame[0] == protocol.MESSAGE_ACK)
    assert ack == protocol.encode_ack(room.doc.get_state())
    assert not any(frame[0] == protocol.MESSAGE_ACK for frame in plain.sent)
    await registry.shutdown()


async def test_updates_are_kept_while_the_store_fails_and_written_when_it_is_back():
    store = MemoryStore()
    store.fail_appends = True
    registry = make_registry(store)
    writer = RecordingClient()
    room = await registry.join("doc", writer)
    room.receive(writer, protocol.encode_update(typed_update("kept", client_id=1)))
    await eventually(lambda: not registry.writer.healthy)
    assert registry.writer.pending_bytes > 0
    store.fail_appends = False
    await eventually(lambda: stored_text(store, "doc") == "kept", timeout=10)
    assert registry.writer.healthy
    await registry.shutdown()


async def test_past_the_buffer_limit_edits_are_refused_with_1013():
    store = MemoryStore()
    store.fail_appends = True
    registry = make_registry(store, pending_bytes_limit=64)
    writer = RecordingClient()
    room = await registry.join("doc", writer)
    room.receive(writer, protocol.encode_update(typed_update("x" * 20, client_id=1)))
    with pytest.raises(Overloaded):
        room.receive(writer, protocol.encode_update(typed_update("y" * 80, client_id=2)))
    await registry.writer.stop()


async def test_an_idle_room_is_persisted_and_unloaded():
    store = MemoryStore()
    registry = make_registry(store)
    client = RecordingClient()
    room = await registry.join("doc", client)
    room.receive(client, protocol.encode_update(typed_update("bye", client_id=1)))
    registry.leave(room, client)
    await eventually(lambda: "doc" not in registry.rooms)
    assert stored_text(store, "doc") == "bye"
    await registry.shutdown()


async def test_a_client_that_returns_before_the_idle_time_keeps_the_room():
    registry = make_registry(idle_seconds=0.2)
    first = RecordingClient()
    room = await registry.join("doc", first)
    registry.leave(room, first)
    again = await registry.join("doc", RecordingClient())
    await asyncio.sleep(0.3)  # past the idle time, deliberately: an unload would have run by now
    assert again is room and registry.rooms["doc"] is room
    await registry.shutdown()


async def test_shutdown_commits_then_closes_everyone_with_1001():
    store = MemoryStore()
    registry = make_registry(store, flush_interval=10)
    client = RecordingClient()
    room = await registry.join("doc", client)
    room.receive(client, protocol.encode_update(typed_update("last words", client_id=1)))
    await registry.shutdown()
    assert stored_text(store, "doc") == "last words"
    assert client.closed_with == CloseCode.GOING_AWAY


async def test_a_document_is_compacted_after_the_configured_number_of_stored_updates():
    store = MemoryStore()
    registry = make_registry(store, compact_after_updates=5)
    client = RecordingClient()
    room = await registry.join("doc", client)
    doc = Doc(client_id=1)
    for n in range(7):
        before = doc.get_state()
        doc.get("text", type=Text).insert(n, "x")
        room.receive(client, protocol.encode_update(doc.get_update(before)))
        await registry.writer.flush()  # one commit each
    await eventually(lambda: len(store.logs["doc"]) < 7)
    assert stored_text(store, "doc") == "x" * 7
    await registry.shutdown()
