"""Room: what clients of one document see, without Django or sockets."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from documents.sync import protocol
from documents.sync.protocol import AwarenessEntry, ProtocolError
from documents.sync.room import Overloaded, Room
from tests.support.waiting import eventually
from tests.unit.fakes import RecordingClient, typed_update


class Listener:
    def __init__(self, room_for_bytes: int = 10**9) -> None:
        self.updates: list[bytes] = []
        self.awareness: list[bytes] = []
        self.room_for_bytes = room_for_bytes

    def has_room_for(self, nbytes: int) -> bool:
        return nbytes <= self.room_for_bytes

    def update_accepted(self, room, update):
        self.updates.append(update)

    def awareness_accepted(self, room, payload):
        self.awareness.append(payload)


def make_room(listener=None) -> Room:
    return Room("doc", listener or Listener(), max_awareness_bytes=64 * 1024)


def joined(room: Room, count: int) -> list[RecordingClient]:
    """`count` clients, joined to `room` in order."""
    clients = [RecordingClient() for _ in range(count)]
    for client in clients:
        room.join(client)
    return clients


def awareness_frame(client_id: int, clock: int, state_json: str) -> bytes:
    payload = protocol.encode_awareness_entries([AwarenessEntry(client_id, clock, state_json)])
    return protocol.encode_awareness(payload)


def test_join_sends_sync_step1_first():
    room = make_room()
    client = RecordingClient()
    room.join(client)
    assert isinstance(protocol.parse_message(client.sent[0]), protocol.SyncStep1)


def test_an_update_reaches_every_other_client_and_the_listener():
    listener = Listener()
    room = make_room(listener)
    alice, bob, carol = joined(room, 3)
    room.receive(alice, protocol.encode_update(typed_update("hi", client_id=1)))
    assert bob.text() == carol.text() == "hi"
    assert alice.text() == ""  # the sender is not echoed
    assert len(listener.updates) == 1


def test_sync_step1_is_answered_with_what_the_client_misses():
    room = make_room()
    writer, late = RecordingClient(), RecordingClient()
    room.join(writer)
    room.receive(writer, protocol.encode_update(typed_update("hello", client_id=1)))
    room.join(late)
    room.receive(late, protocol.encode_sync_step1(Doc().get_state()))
    assert late.text() == "hello"


def test_a_known_update_is_neither_relayed_nor_stored_twice():
    listener = Listener()
    room = make_room(listener)
    alice, bob = joined(room, 2)
    frame = protocol.encode_update(typed_update("once", client_id=1))
    room.receive(alice, frame)
    room.receive(alice, frame)
    assert len(listener.updates) == 1
    assert sum(1 for f in bob.sent if f[:2] == b"\x00\x02") == 1


def test_viewer_updates_are_dropped_and_the_viewer_stays():
    listener = Listener()
    room = make_room(listener)
    viewer, editor = RecordingClient(can_write=False), RecordingClient()
    room.join(viewer)
    room.join(editor)
    room.receive(viewer, protocol.encode_update(typed_update("vandal", client_id=5)))
    assert str(room.doc.get("text", type=Text)) == ""
    assert listener.updates == []
    assert editor.text() == ""
    assert viewer.closed_with is None and viewer in room.clients
    room.receive(editor, protocol.encode_update(typed_update("ok", client_id=6)))
    assert viewer.text() == "ok"  # viewers still receive the document


def test_a_malformed_update_raises_and_alters_nothing():
    room = make_room()
    alice, bob = joined(room, 2)
    room.receive(alice, protocol.encode_update(typed_update("keep", client_id=1)))
    before = room.doc.get_update()
    sent_to_bob = len(bob.sent)
    with pytest.raises(ProtocolError):
        room.receive(alice, b"\x00\x02\x05\x01\x02")
    assert room.doc.get_update() == before
    assert len(bob.sent) == sent_to_bob


def test_overloaded_listener_refuses_updates_before_applying():
    room = make_room(Listener(room_for_bytes=0))
    alice = RecordingClient()
    room.join(alice)
    with pytest.raises(Overloaded):
        room.receive(alice, protocol.encode_update(typed_update("x", client_id=1)))
    assert str(room.doc.get("text", type=Text)) == ""


def test_awareness_is_relayed_and_removed_when_its_client_leaves():
    listener = Listener()
    room = make_room(listener)
    alice, bob = joined(room, 2)
    room.receive(alice, awareness_frame(111, 1, '{"user":{"name":"alice"}}'))
    [seen] = bob.awareness_messages()
    assert seen.entries[0].client_id == 111 and not seen.entries[0].is_removal
    room.leave(alice)
    removal = bob.awareness_messages()[-1]
    assert [(e.client_id, e.is_removal) for e in removal.entries] == [(111, True)]
    assert 111 not in room.awareness.states


def test_a_late_joiner_receives_current_awareness_and_query_is_answered():
    room = make_room()
    alice, late = RecordingClient(), RecordingClient()
    room.join(alice)
    room.receive(alice, awareness_frame(111, 1, '{"user":{"name":"alice"}}'))
    room.join(late)
    assert late.awareness_messages()[0].entries[0].client_id == 111
    room.receive(late, b"\x03")
    assert late.awareness_messages()[-1].entries[0].client_id == 111


def test_stale_awareness_expires():
    room = make_room()
    alice, bob = joined(room, 2)
    room.receive(alice, awareness_frame(111, 1, '{"user":{"name":"alice"}}'))
    last = room.awareness.meta[111]["lastUpdated"]
    room.expire_awareness(older_than_ms=30_000, now_ms=last + 30_000)
    assert 111 not in room.awareness.states
    assert bob.awareness_messages()[-1].entries[0].is_removal


step = st.one_of(
    # ASCII: pycrdt's Text indexes non-ASCII text differently from Yjs (a client concern)
    st.tuples(
        st.just("edit"),
        st.integers(0, 2),
        st.text(alphabet="abcxyz 01", min_size=1, max_size=4),
        st.integers(0, 100),
    ),
    st.tuples(st.just("deliver"), st.integers(0, 2)),  # the room receives a client's next frame
    st.tuples(st.just("pull"), st.integers(0, 2)),  # a client applies what the room sent it
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=30))
def test_any_interleaving_of_edits_converges(steps):
    """Three clients edit concurrently, each from whatever it has seen so far; their frames reach
    the room in any interleaving (in order per client, as a WebSocket delivers them). After
    everything is delivered and each client has synced, all texts are equal and nothing typed
    is lost."""
    room = make_room()
    sockets = [RecordingClient() for _ in range(3)]
    for socket in sockets:
        room.join(socket)
    docs = [Doc(client_id=100 + i) for i in range(3)]
    outboxes: list[list[bytes]] = [[], [], []]
    pulled = [0, 0, 0]
    typed = 0

    def pull(who):
        """The client applies every update frame the room sent it since its last pull."""
        for frame in sockets[who].sent[pulled[who] :]:
            message = protocol.parse_message(frame)
            if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
                docs[who].apply_update(message.update)
        pulled[who] = len(sockets[who].sent)

    for action, who, *rest in steps:
        if action == "edit":
            text, position = rest
            shared = docs[who].get("text", type=Text)
            before = docs[who].get_state()
            shared.insert(min(position, len(shared)), text)
            outboxes[who].append(protocol.encode_update(docs[who].get_update(before)))
            typed += len(text)
        elif action == "deliver" and outboxes[who]:
            room.receive(sockets[who], outboxes[who].pop(0))
            # The state vector the room keeps from each update's shape is the Doc's own.
            assert room.state_vector() == protocol.decode_state_vector(room.doc.get_state())
        elif action == "pull":
            pull(who)
    for who in range(3):
        for frame in outboxes[who]:
            room.receive(sockets[who], frame)
    for who in range(3):
        room.receive(sockets[who], protocol.encode_sync_step1(docs[who].get_state()))
        pull(who)
    expected = str(room.doc.get("text", type=Text))
    assert [str(doc.get("text", type=Text)) for doc in docs] == [expected] * 3
    assert len(expected) == typed


async def test_changes_accepted_in_one_loop_turn_reach_others_as_one_merged_update():
    room = Room("doc", Listener(), max_awareness_bytes=1024, coalesce=True)
    alice, bob = joined(room, 2)
    typing = Doc(client_id=1)
    text = typing.get("text", type=Text)
    updates = []
    for letter in "abc":
        before_letter = typing.get_state()
        text += letter
        updates.append(typing.get_update(before_letter))
    first, second, third = updates
    before = len(bob.sent)
    for update in (first, second):
        room.receive(alice, protocol.encode_update(update))
    assert len(bob.sent) == before  # nothing yet: sent at the end of the turn
    await asyncio.sleep(0)  # one event-loop turn, deliberately
    assert len(bob.sent) == before + 1 and bob.text() == "ab"
    room.receive(alice, protocol.encode_update(third))
    await asyncio.sleep(0)  # one turn: within the coalescing window
    assert bob.text() == "ab"  # busy: held for the rest of the coalescing window
    await eventually(lambda: bob.text() == "abc")
    assert alice.text() == ""


def awareness_of(entries: list[tuple[int, str]], clock: int = 1) -> bytes:
    payload = protocol.encode_awareness_entries([AwarenessEntry(c, clock, s) for c, s in entries])
    return protocol.encode_awareness(payload)


def test_a_connection_announcing_more_awareness_ids_than_allowed_is_refused_unapplied():
    room = Room("doc", Listener(), max_awareness_bytes=64 * 1024, max_awareness_ids=8)
    flooder, bob = RecordingClient(can_write=False), RecordingClient()
    room.join(flooder)
    room.join(bob)
    room.receive(flooder, awareness_of([(i, '{"n":1}') for i in range(1, 9)]))
    seen_by_bob = len(bob.awareness_messages())
    with pytest.raises(ProtocolError):
        room.receive(flooder, awareness_of([(9, '{"n":1}')]))
    assert 9 not in room.awareness.states and 9 not in room.awareness.meta
    assert len(bob.awareness_messages()) == seen_by_bob


def test_removing_an_awareness_id_frees_it_and_forgets_its_meta():
    room = Room("doc", Listener(), max_awareness_bytes=64 * 1024, max_awareness_ids=2)
    alice = RecordingClient()
    room.join(alice)
    room.receive(alice, awareness_of([(1, '{"n":1}'), (2, '{"n":1}')]))
    room.receive(alice, awareness_of([(2, "null")], clock=2))
    assert 2 not in room.awareness.states and 2 not in room.awareness.meta
    room.receive(alice, awareness_of([(3, '{"n":1}')]))  # the freed place is taken again
    assert set(room.awareness.states) == {1, 3}


def test_a_flood_of_fresh_ids_leaves_no_awareness_bookkeeping_behind():
    """Announce-and-remove cycles and removals of ids nobody announced (y-websocket clients
    relay removals of others' ids they timed out) keep pycrdt's meta as small as the presence."""
    room = make_room()
    viewer = RecordingClient(can_write=False)
    room.join(viewer)
    for start in range(0, 4000, 8):
        ids = range(start + 1, start + 9)
        room.receive(viewer, awareness_of([(i, '{"n":1}') for i in ids]))
        room.receive(viewer, awareness_of([(i, "null") for i in ids], clock=2))
        room.receive(viewer, awareness_of([(i + 100_000, "null") for i in ids], clock=5))
    assert room.awareness.states == {}
    assert set(room.awareness.meta) <= {room.doc.client_id}


def test_leaving_and_expiring_forget_the_meta_too():
    room = make_room()
    alice, bob = joined(room, 2)
    room.receive(alice, awareness_frame(111, 1, '{"user":{"name":"alice"}}'))
    room.receive(bob, awareness_frame(222, 1, '{"user":{"name":"bob"}}'))
    room.leave(alice)
    assert 111 not in room.awareness.meta
    last = room.awareness.meta[222]["lastUpdated"]
    room.expire_awareness(older_than_ms=30_000, now_ms=last + 30_000)
    assert 222 not in room.awareness.meta


def test_the_whole_document_is_encoded_once_per_version():
    room = make_room()
    alice, late = RecordingClient(), RecordingClient()
    room.join(alice)
    room.receive(alice, protocol.encode_update(typed_update("one", client_id=1)))
    first = room.full_state.get()
    assert room.full_state.get() is first  # no change: the same encoding
    room.receive(alice, protocol.encode_update(typed_update(";two", client_id=1, base=first)))
    room.join(late)
    room.receive(late, protocol.encode_sync_step1(b"\x00"))
    assert late.text() == "one;two"  # a change made the cached encoding go
