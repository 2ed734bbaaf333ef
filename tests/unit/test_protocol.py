"""The y-websocket framing and the update check: round trips, and hostile bytes refused cleanly."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Array, Doc, Map, Text, XmlElement, XmlFragment, XmlText, write_var_uint

from documents.sync import protocol
from documents.sync.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    ProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
)
from documents.sync.update_check import InvalidUpdate, check_update

# A 21-byte update shaped like y-crdt#415: one client whose struct count claims ~2**35 structs.
Y_CRDT_415 = (
    b"\x01" + write_var_uint(2**35) + b"\x85\x01\x00" + b"\x04\x00\x01\x01a" + b"\x00" * 5 + b"\x00"
)
# Random 20-40 byte inputs that made pycrdt 0.14 spend 0.1-0.5 s before refusing them.
SLOW_RANDOM_UPDATES = [
    bytes.fromhex("ceb6c575c1365cb0260dd6fc1feb3877e8b32eab128dab4255dc9fe2"),
    bytes.fromhex("c5afd7608437816bdd0a7309cb4a1252e4da70e6720fcaa4da1e98406c"),
    bytes.fromhex(
        "fd908358a549b430cbb662cae64cf67c137e282413f1f7a757fecb06c5e654bf1abcb4e0799b2de2"
    ),
]


def rich_document_update() -> bytes:
    doc = Doc(client_id=4242)
    text = doc.get("text", type=Text)
    text += "héllo wörld 😀"
    del text[0:2]
    meta = doc.get("meta", type=Map)
    meta["nested"] = {"list": [1, 2.5, None, True, "s"], "n": -7}
    meta["bytes"] = b"\x00\x01"
    doc.get("arr", type=Array).extend([1, "two", {"3": 4}])
    fragment = doc.get("default", type=XmlFragment)
    paragraph = XmlElement("paragraph", {"textAlign": "left"})
    fragment.children.append(paragraph)
    paragraph.children.append(XmlText("bold text"))
    paragraph.children[0].format(0, 4, {"bold": True})
    return doc.get_update()


def test_real_updates_pass_the_check():
    check_update(rich_document_update())
    check_update(b"\x00\x00")


def test_y_crdt_415_shape_is_refused_before_pycrdt():
    assert len(Y_CRDT_415) == 21
    with pytest.raises(InvalidUpdate):
        check_update(Y_CRDT_415)


@pytest.mark.parametrize("update", SLOW_RANDOM_UPDATES)
def test_inputs_that_slowed_pycrdt_are_refused(update):
    with pytest.raises(InvalidUpdate):
        check_update(update)


def test_sync_messages_round_trip():
    update = rich_document_update()
    assert protocol.parse_message(protocol.encode_update(update)) == SyncUpdate(update)
    assert protocol.parse_message(protocol.encode_sync_step2(update)) == SyncStep2(update)
    state_vector = Doc().get_state()
    assert protocol.parse_message(protocol.encode_sync_step1(state_vector)) == SyncStep1(
        state_vector
    )
    assert protocol.parse_message(b"\x03") == QueryAwareness()


def test_awareness_round_trip():
    entries = [AwarenessEntry(7, 3, '{"user":{"name":"ann"}}'), AwarenessEntry(9, 4, "null")]
    payload = protocol.encode_awareness_entries(entries)
    message = protocol.parse_message(protocol.encode_awareness(payload))
    assert message == AwarenessUpdate(payload, tuple(entries))
    assert [entry.is_removal for entry in message.entries] == [False, True]


@pytest.mark.parametrize("state_json", ['"a string"', "[1, 2]", "42", "true", "", "{"])
def test_an_awareness_state_that_is_not_a_json_object_or_null_is_refused(state_json):
    payload = protocol.encode_awareness_entries([AwarenessEntry(1, 1, state_json)])
    with pytest.raises(ProtocolError):
        protocol.parse_message(protocol.encode_awareness(payload))


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**21, 2**35, 2**53])
def test_canonical_varuints_read_at_every_length(value):
    payload = protocol.encode_awareness_entries([AwarenessEntry(value, 1, "null")])
    assert protocol.parse_message(protocol.encode_awareness(payload)).entries[0].client_id == value


def test_oversized_awareness_is_refused():
    payload = protocol.encode_awareness_entries([AwarenessEntry(1, 1, '{"x":"' + "x" * 100 + '"}')])
    with pytest.raises(ProtocolError):
        protocol.parse_message(protocol.encode_awareness(payload), max_awareness_bytes=50)


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x00",
        b"\x00\x02",  # update with no length
        b"\x00\x02\x05ab",  # claims 5 bytes, has 2
        b"\x00\x09\x00",  # unknown sync type
        b"\x07",  # unknown message type
        b"\x00\x02\x02\x00\x00\xff",  # trailing byte
        b"\x01\x01\x05",  # awareness claims 5 entries in 1 byte
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # varuint too long
        b"\x81\x00\x01\x00",  # type 1 (awareness) spelled with a trailing zero byte
        b"\x80\x00",  # type 0 (sync) spelled the same way
        b"\x00\x00\x81\x00\x00",  # a length spelled the same way
    ],
)
def test_malformed_frames_raise_protocol_error(frame):
    with pytest.raises(ProtocolError):
        protocol.parse_message(frame)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_never_raise_anything_but_protocol_error(frame):
    with contextlib.suppress(ProtocolError):
        protocol.parse_message(frame)


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_mutated_real_updates_never_crash_the_checker_or_pycrdt(data):
    update = bytearray(rich_document_update())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(update) - 1))
        update[position] = data.draw(st.integers(0, 255))
    try:
        check_update(bytes(update))
    except InvalidUpdate:
        return
    try:  # what passes the check may still be semantically wrong: Yrs must say so, not crash
        Doc().apply_update(bytes(update))
    except BaseException as exc:  # PanicException is a BaseException
        assert not isinstance(exc, KeyboardInterrupt | SystemExit)
