"""The y-websocket wire protocol: parse incoming frames, build outgoing ones. Nothing else.

A frame is `varuint message type` then a body. Sync messages (type 0) carry a sub-type and one
length-prefixed byte array (a state vector or a v1 update); awareness messages (type 1) carry one
length-prefixed awareness update; query-awareness (type 3) carries nothing. Type 100 is Collab's
durable acknowledgement (SPEC.md), sent only to clients that asked for it with `ack=1`.

Parsing is strict: a frame whose declared lengths disagree with its size, or with trailing bytes,
is malformed; an update must pass `check_update` before anyone hands it to pycrdt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pycrdt import (
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    write_message,
    write_var_uint,
)

from documents.sync.update_check import InvalidUpdate, UpdateShape, check_update
from documents.sync.varint import DecodeError, Reader

# Message types: pycrdt's YMessageType (sync, awareness) and YSyncMessageType (the sync
# sub-types), and these, which pycrdt lacks: y-protocols' auth and query-awareness, our ack.
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3
MESSAGE_ACK = 100
MESSAGE_AWARENESS = YMessageType.AWARENESS  # under the name the consumer imports

EMPTY_UPDATE = b"\x00\x00"  # an update with nothing in it (what pycrdt's sync handler skips)

# pycrdt's values looked up once: an enum attribute costs ~0.1 us, and a frame is parsed with 4.
_SYNC, _AWARENESS = YMessageType.SYNC, YMessageType.AWARENESS
_STEP1, _STEP2, _UPDATE = (
    YSyncMessageType.SYNC_STEP1,
    YSyncMessageType.SYNC_STEP2,
    YSyncMessageType.SYNC_UPDATE,
)
_SYNC_STEP1 = bytes((YMessageType.SYNC, YSyncMessageType.SYNC_STEP1))
_SYNC_STEP2 = bytes((YMessageType.SYNC, YSyncMessageType.SYNC_STEP2))
_ACK = write_var_uint(MESSAGE_ACK)


class ProtocolError(ValueError):
    """A frame that does not follow the protocol: the sender is closed with 4400."""


@dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    update: bytes
    shape: UpdateShape | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    update: bytes
    shape: UpdateShape | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state_json: str

    @property
    def is_removal(self) -> bool:
        return self.state_json == "null"


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    payload: bytes
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


@dataclass(frozen=True, slots=True)
class AuthMessage:
    """y-websocket's auth message type: accepted and ignored (we authenticate the handshake)."""


Message = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessUpdate | QueryAwareness | AuthMessage


def message_type(frame: bytes) -> int:
    """The frame's message type, read as `parse_message` reads it (cheap: for rate limits that
    must be applied before a frame is worth parsing)."""
    try:
        return Reader(frame).read_var_uint()
    except DecodeError as exc:
        raise ProtocolError(str(exc)) from exc


def parse_message(
    frame: bytes,
    *,
    max_awareness_bytes: int | None = None,
    max_awareness_entries: int | None = None,
) -> Message:
    """Parse one binary frame; raise ProtocolError for anything malformed."""
    reader = Reader(frame)
    try:
        message_type = reader.read_var_uint()
        if message_type == _SYNC:
            message = _parse_sync(reader)
        elif message_type == _AWARENESS:
            message = _parse_awareness(reader, max_awareness_bytes, max_awareness_entries)
        elif message_type == MESSAGE_QUERY_AWARENESS:
            message = QueryAwareness()
        elif message_type == MESSAGE_AUTH:
            reader.pos = len(frame)
            message = AuthMessage()
        else:
            raise ProtocolError(f"unknown message type {message_type}")
    except DecodeError as exc:
        raise ProtocolError(str(exc)) from exc
    if not reader.at_end():
        raise ProtocolError(f"{reader.remaining} trailing bytes after the message")
    return message


def _parse_sync(reader: Reader) -> Message:
    sub_type = reader.read_var_uint()
    body = reader.read_var_bytes()
    if sub_type == _STEP1:
        _check_state_vector(body)
        return SyncStep1(body)
    if sub_type in (_STEP2, _UPDATE):
        try:
            shape = check_update(body)
        except InvalidUpdate as exc:
            raise ProtocolError(f"undecodable update: {exc}") from exc
        return SyncStep2(body, shape) if sub_type == _STEP2 else SyncUpdate(body, shape)
    raise ProtocolError(f"unknown sync message type {sub_type}")


def _check_state_vector(body: bytes) -> None:
    decode_state_vector(body)


def decode_state_vector(body: bytes) -> dict[int, int]:
    """client id -> clock; raises DecodeError if malformed."""
    reader = Reader(body)
    vector = {}
    for _ in range(reader.read_count()):
        client = reader.read_var_uint()
        vector[client] = reader.read_var_uint()
    if not reader.at_end():
        raise DecodeError("trailing bytes after the state vector")
    return vector


def lacks(ours: bytes, theirs: bytes) -> bool:
    """True if the state vector `theirs` has seen something that `ours` has not."""
    mine = decode_state_vector(ours)
    return any(clock > mine.get(client, 0) for client, clock in decode_state_vector(theirs).items())


def _parse_awareness(
    reader: Reader, max_bytes: int | None, max_entries: int | None
) -> AwarenessUpdate:
    payload = reader.read_var_bytes()
    if max_bytes is not None and len(payload) > max_bytes:
        raise ProtocolError(f"awareness update of {len(payload)} bytes exceeds {max_bytes}")
    inner = Reader(payload)
    count = inner.read_count()
    if max_entries is not None and count > max_entries:
        # Checked before the entries are read: reading thousands costs the loop tens of ms.
        raise ProtocolError(f"awareness update of {count} entries exceeds {max_entries}")
    entries = []
    for _ in range(count):
        client_id = inner.read_var_uint()
        clock = inner.read_var_uint()
        state_json = inner.read_var_string()
        _check_awareness_state(state_json)
        entries.append(AwarenessEntry(client_id, clock, state_json))
    if not inner.at_end():
        raise ProtocolError("trailing bytes after the awareness update")
    return AwarenessUpdate(payload, tuple(entries))


def _check_awareness_state(state_json: str) -> None:
    """A state is a JSON object, or `null` for a removal (what y-protocols writes): anything else
    would reach every other client's presence list as something it cannot show."""
    try:
        state = json.loads(state_json)
    except ValueError as exc:
        raise ProtocolError("awareness state is not JSON") from exc
    if state is not None and not isinstance(state, dict):
        raise ProtocolError("awareness state is neither a JSON object nor null")


# pycrdt's framing. Its step 1 and step 2 builders are not exported (`create_sync_message` takes a
# Doc, `handle_sync_message` parses without bounds and has no cached full state): the two prefixes
# are built here from its constants.
def encode_sync_step1(state_vector: bytes) -> bytes:
    return _SYNC_STEP1 + write_message(state_vector)


def encode_sync_step2(update: bytes) -> bytes:
    return _SYNC_STEP2 + write_message(update)


def encode_update(update: bytes) -> bytes:
    return create_update_message(update)


def encode_awareness(payload: bytes) -> bytes:
    return create_awareness_message(payload)


def encode_awareness_entries(entries: list[AwarenessEntry]) -> bytes:
    """An awareness update payload (the body of a type-1 message) from explicit entries."""
    parts = [write_var_uint(len(entries))]
    for entry in entries:
        parts.append(write_var_uint(entry.client_id))
        parts.append(write_var_uint(entry.clock))
        parts.append(write_message(entry.state_json.encode()))
    return b"".join(parts)


def encode_ack(state_vector: bytes) -> bytes:
    return _ACK + write_message(state_vector)
