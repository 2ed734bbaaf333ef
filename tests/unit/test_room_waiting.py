"""A room never lets Yrs hold content whose dependencies are missing: such updates wait beside
the Doc and are applied, relayed and stored once what they build on arrives."""

from __future__ import annotations

import gc
import weakref

from pycrdt import Text

from documents.sync import protocol
from documents.sync.broadcast import LocalBroadcast
from documents.sync.registry import RegistryConfig, RoomRegistry
from documents.sync.store import MemoryStore, StoredDocument
from tests.unit.fakes import RecordingClient, typed_update
from tests.unit.test_room import Listener, make_room


def a_dependency_and_an_edit_on_it() -> tuple[bytes, bytes]:
    first = typed_update("ab", client_id=1)
    return first, typed_update("c", client_id=2, base=first)


def test_a_stored_update_waiting_for_its_dependency_is_applied_when_an_editor_sends_it():
    first, second = a_dependency_and_an_edit_on_it()
    listener = Listener()
    room = make_room(listener)
    room.load(StoredDocument(None, waiting=(second,)))
    alice, bob = RecordingClient(), RecordingClient()
    room.join(alice)
    room.join(bob)
    assert str(room.doc.get("text", type=Text)) == ""  # nothing pending inside Yrs

    room.receive(alice, protocol.encode_sync_step2(first))

    assert str(room.doc.get("text", type=Text)) == "abc"
    assert room.state_vector() == protocol.decode_state_vector(room.doc.get_state())
    assert bob.text() == "abc"
    sent_to_alice = [protocol.parse_message(frame) for frame in alice.sent]
    assert any(isinstance(m, protocol.SyncUpdate) for m in sent_to_alice)  # news to her too
    assert not room.waiting
    assert len(listener.updates) == 2  # both stored


async def test_an_http_update_with_missing_dependencies_is_stored_and_applied_later():
    first, second = a_dependency_and_an_edit_on_it()
    store = MemoryStore()
    registry = RoomRegistry(store, LocalBroadcast(), RegistryConfig(flush_interval=0.02))
    await registry.apply_external_update("doc", second)
    assert store.logs["doc"] == [second]  # kept, although it cannot be applied yet

    await registry.apply_external_update("doc", first)
    room = registry.rooms["doc"]
    assert str(room.doc.get("text", type=Text)) == "abc"
    await registry.shutdown()
    assert (await store.load("doc")).complete


def test_a_closed_room_and_its_doc_are_garbage_collected():
    room = make_room()
    room.receive(RecordingClient(), protocol.encode_update(typed_update("x", client_id=1)))
    collected_room, collected_doc = weakref.ref(room), weakref.ref(room.doc)
    room.close()
    del room
    gc.collect()
    assert collected_room() is None
    assert collected_doc() is None
