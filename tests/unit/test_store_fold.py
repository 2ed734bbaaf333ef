"""Loading a log stored out of causal order (several processes write it) gives the true text."""

from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from documents.sync import protocol
from documents.sync.room import Room
from documents.sync.store import load_from
from tests.unit.fakes import RecordingClient, typed_update
from tests.unit.test_room import Listener


def two_writers_history(rng, steps: int) -> tuple[list[bytes], str]:
    """Two people typing, sometimes syncing with each other; their updates and the true text."""
    a, b = Doc(client_id=100), Doc(client_id=200)
    updates = []
    for _ in range(steps):
        doc = a if rng.random() < 0.6 else b
        text = doc.get("text", type=Text)
        before = doc.get_state()
        text.insert(rng.randint(0, len(text)), rng.choice("abc"))
        updates.append(doc.get_update(before))
        if rng.random() < 0.3:
            b.apply_update(a.get_update(b.get_state()))
            a.apply_update(b.get_update(a.get_state()))
    truth = Doc()
    truth.apply_update(a.get_update())
    truth.apply_update(b.get_update())
    return updates, str(truth.get("text", type=Text))


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(3, 16))
def test_any_storage_order_loads_the_true_text(rng, steps):
    updates, truth = two_writers_history(rng, steps)
    rng.shuffle(updates)
    loaded = Doc()
    loaded.apply_update(load_from(updates).state)
    assert str(loaded.get("text", type=Text)) == truth


def test_an_update_that_overtook_its_dependency_is_not_applied_and_a_sync_is_asked():
    room = Room("doc", Listener(), max_awareness_bytes=1024)
    client = RecordingClient()
    room.join(client)
    first = typed_update("a", client_id=1)
    second = typed_update("b", client_id=1, base=first)
    sent_before = len(client.sent)
    room.receive(client, protocol.encode_update(second))
    assert str(room.doc.get("text", type=Text)) == ""
    reply = protocol.parse_message(client.sent[sent_before])
    assert isinstance(reply, protocol.SyncStep1)  # the client answers with a full difference
    room.receive(client, protocol.encode_sync_step2(first))
    room.receive(client, protocol.encode_update(second))
    assert str(room.doc.get("text", type=Text)) == "ab"


@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(3, 16))
def test_a_room_fed_any_order_holds_the_true_text_and_knows_its_state(rng, steps):
    """Updates reaching a live room out of causal order (other processes, HTTP) wait until what
    they build on arrives; the state vector the room keeps is the Doc's own at every step."""
    from documents.sync.room import MissingDependencies

    updates, truth = two_writers_history(rng, steps)
    rng.shuffle(updates)
    room = Room("doc", Listener(), max_awareness_bytes=1024)
    for update in updates:
        try:
            room.apply_update(update)
        except MissingDependencies:
            room.keep_waiting(update)
        assert room.state_vector() == protocol.decode_state_vector(room.doc.get_state())
    assert not room.waiting
    assert str(room.doc.get("text", type=Text)) == truth
