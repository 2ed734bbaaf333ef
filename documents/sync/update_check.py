"""Structural check of a Yjs v1 update before pycrdt (Yrs) sees it.

Yrs trusts the counts and lengths an update claims and allocates for them up front: random
20-40 byte inputs made it reserve hundreds of MB, and crafted ones have crashed it (y-crdt#415).
This walk reads the whole update with bounds-checked readers, and refuses any count or length
larger than the bytes left, any clock past what Yjs can write (2**53), nesting deeper than a
real document has, or trailing bytes. It decodes nothing into objects; it only proves the
shape is honest, so that what reaches pycrdt is at worst a semantic error it reports cleanly.

The walk also records what the update depends on (`UpdateShape`): Yrs integrates an update
whose dependencies arrive later incorrectly in some orders (measured with pycrdt 0.14: content
lost or misplaced in about one shuffled history in five), so the room applies only updates
whose dependencies it already has, and asks the sender for a self-contained difference
otherwise (documents.sync.room).

Format reference: Yjs `UpdateDecoderV1` / `readStructs` / `readDeleteSet` and lib0 `readAny`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from documents.sync.varint import DecodeError, Reader

MAX_CLOCK = 2**53  # JavaScript's largest safe integer: Yjs never writes a clock past it
MAX_ANY_DEPTH = 64

# Item info byte: the low five bits say which content follows, the high three which fields.
BIT_ORIGIN = 0x80
BIT_RIGHT_ORIGIN = 0x40
BIT_PARENT_SUB = 0x20
CONTENT_MASK = 0x1F

CONTENT_GC = 0
CONTENT_DELETED = 1
CONTENT_JSON = 2
CONTENT_BINARY = 3
CONTENT_STRING = 4
CONTENT_EMBED = 5
CONTENT_FORMAT = 6
CONTENT_TYPE = 7
CONTENT_ANY = 8
CONTENT_DOC = 9
CONTENT_SKIP = 10

TYPE_REFS_WITH_NAME = {3, 5}  # XmlElement (node name), XmlHook (hook name)
MAX_TYPE_REF = 6


class InvalidUpdate(ValueError):
    """The bytes are not a well-formed Yjs v1 update."""


@dataclass(slots=True)
class UpdateShape:
    """What an update contains and what it refers to, by (client, clock)."""

    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)  # client -> [start, end)
    references: list[tuple[int, int]] = field(default_factory=list)  # origins and parents
    deletes: list[tuple[int, int, int]] = field(default_factory=list)  # (client, start, end)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (client, end of a skipped range)

    def _has(self, client: int, clock: int, state: dict[int, int]) -> bool:
        if clock < state.get(client, 0):
            return True
        start_end = self.ranges.get(client)
        return start_end is not None and start_end[0] <= clock < start_end[1]

    def missing_dependencies(self, state: dict[int, int]) -> bool:
        """True if applying this update to a document with state vector `state` would leave
        part of it pending: a gap before its first struct, a reference to an unknown item, or
        a deletion of items not seen yet."""
        for client, (start, _end) in self.ranges.items():
            if start > state.get(client, 0):
                return True
        for client, clock in self.references:
            if not self._has(client, clock, state):
                return True
        for client, end in self.gaps:
            if state.get(client, 0) < end:
                return True
        for client, _start, end in self.deletes:
            known = max(state.get(client, 0), self.ranges.get(client, (0, 0))[1])
            if end > known:
                return True
        return False

    def contained_in(self, state: dict[int, int], deleted: DeletedRanges) -> bool:
        """True if a document with this state vector and these deletions holds everything this
        update carries: every struct (its clock below the vector) and every deletion."""
        for client, (_start, end) in self.ranges.items():
            if end > state.get(client, 0):
                return False
        return all(deleted.covers(client, start, end) for client, start, end in self.deletes)


class DeletedRanges:
    """A document's delete set, per client as sorted, merged [start, end) ranges."""

    def __init__(self, deletes: list[tuple[int, int, int]]) -> None:
        by_client: dict[int, list[tuple[int, int]]] = {}
        for client, start, end in sorted(deletes):
            ranges = by_client.setdefault(client, [])
            if ranges and start <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
            else:
                ranges.append((start, end))
        self._starts = {client: [s for s, _ in r] for client, r in by_client.items()}
        self._ranges = by_client

    def covers(self, client: int, start: int, end: int) -> bool:
        starts = self._starts.get(client)
        if not starts:
            return False
        index = bisect.bisect_right(starts, start) - 1
        return index >= 0 and self._ranges[client][index][1] >= end


def check_update(update: bytes | memoryview) -> UpdateShape:
    """Raise InvalidUpdate unless `update` is a structurally sound Yjs v1 update; return its
    shape."""
    reader = Reader(update)
    shape = UpdateShape()
    try:
        _check_structs(reader, shape)
        _check_delete_set(reader, shape)
    except DecodeError as exc:
        raise InvalidUpdate(str(exc)) from exc
    if not reader.at_end():
        raise InvalidUpdate(f"{reader.remaining} trailing bytes after the update")
    return shape


def _check_clock(clock: int, length: int = 0) -> None:
    if clock + length > MAX_CLOCK:
        raise DecodeError("clock out of range")


def _check_structs(reader: Reader, shape: UpdateShape) -> None:
    for _ in range(reader.read_count()):
        struct_count = reader.read_count()
        client = reader.read_var_uint()
        start = clock = reader.read_var_uint()
        _check_clock(clock)
        for _ in range(struct_count):
            clock += _check_struct(reader, shape, client, clock)
            _check_clock(clock)
        if clock > start:
            known = shape.ranges.get(client)
            shape.ranges[client] = (
                (start, clock)
                if known is None
                else (
                    min(known[0], start),
                    max(known[1], clock),
                )
            )


def _check_struct(reader: Reader, shape: UpdateShape, client: int, clock: int) -> int:
    """Walk one struct; return how many clock ticks it spans."""
    info = reader.read_u8()
    content = info & CONTENT_MASK
    if content == CONTENT_GC:
        return _positive_length(reader)
    if content == CONTENT_SKIP:
        # pycrdt.merge_updates writes a skip over clocks it does not have: what follows it
        # integrates only once the document has them.
        length = _positive_length(reader)
        shape.gaps.append((client, clock + length))
        return length
    if info & BIT_ORIGIN:
        shape.references.append(_check_id(reader))
    if info & BIT_RIGHT_ORIGIN:
        shape.references.append(_check_id(reader))
    if not info & (BIT_ORIGIN | BIT_RIGHT_ORIGIN):
        if reader.read_var_uint() == 1:
            reader.read_var_string()  # parent is a root type, named
        else:
            shape.references.append(_check_id(reader))
        if info & BIT_PARENT_SUB:
            reader.read_var_string()
    return _check_content(reader, content)


def _check_id(reader: Reader) -> tuple[int, int]:
    client = reader.read_var_uint()
    clock = reader.read_var_uint()
    _check_clock(clock)
    return client, clock


def _positive_length(reader: Reader) -> int:
    length = reader.read_var_uint()
    if length == 0:
        raise DecodeError("zero-length struct")
    _check_clock(length)
    return length


def _check_content(reader: Reader, content: int) -> int:
    if content == CONTENT_DELETED:
        return _positive_length(reader)
    if content == CONTENT_JSON:
        count = reader.read_count()
        for _ in range(count):
            reader.read_var_string()
        return max(count, 1)
    if content == CONTENT_BINARY:
        reader.skip_var_bytes()
        return 1
    if content == CONTENT_STRING:
        text = reader.read_var_string()
        # Yjs counts clock ticks in UTF-16 code units.
        return max(len(text.encode("utf-16-le")) // 2, 1)
    if content in (CONTENT_EMBED,):
        reader.read_var_string()
        return 1
    if content == CONTENT_FORMAT:
        reader.read_var_string()
        reader.read_var_string()
        return 1
    if content == CONTENT_TYPE:
        type_ref = reader.read_var_uint()
        if type_ref > MAX_TYPE_REF:
            raise DecodeError(f"unknown type ref {type_ref}")
        if type_ref in TYPE_REFS_WITH_NAME:
            reader.read_var_string()
        return 1
    if content == CONTENT_ANY:
        count = reader.read_count()
        for _ in range(count):
            _check_any(reader, 0)
        return max(count, 1)
    if content == CONTENT_DOC:
        reader.read_var_string()
        _check_any(reader, 0)
        return 1
    raise DecodeError(f"unknown content type {content}")


def _check_any(reader: Reader, depth: int) -> None:
    if depth > MAX_ANY_DEPTH:
        raise DecodeError("value nested too deeply")
    tag = reader.read_u8()
    if tag in (127, 126, 121, 120):  # undefined, null, false, true
        return
    if tag == 125:
        reader.read_var_int()
    elif tag == 124:
        reader.skip(4)
    elif tag in (123, 122):
        reader.skip(8)
    elif tag == 119:
        reader.read_var_string()
    elif tag == 118:
        for _ in range(reader.read_count()):
            reader.read_var_string()
            _check_any(reader, depth + 1)
    elif tag == 117:
        for _ in range(reader.read_count()):
            _check_any(reader, depth + 1)
    elif tag == 116:
        reader.skip_var_bytes()
    else:
        raise DecodeError(f"unknown value tag {tag}")


def _check_delete_set(reader: Reader, shape: UpdateShape) -> None:
    for _ in range(reader.read_count()):
        client = reader.read_var_uint()
        for _ in range(reader.read_count()):
            clock = reader.read_var_uint()
            length = reader.read_var_uint()
            _check_clock(clock, length)
            shape.deletes.append((client, clock, clock + length))
