"""The y-websocket messages a load-generating client needs, in two dialects, and its updates.

- `plain`: the y-websocket protocol as Collab and the reference server speak it (the document
  is named by the URL).
- `hocuspocus`: every message starts with the document name (varstring), and the client must
  authenticate first ([name][2 auth][0 token][varstring token]) before its sync step 1 is
  handled (@hocuspocus/server src/ClientConnection.ts, @hocuspocus/common src/auth.ts).

Each update the bench sends inserts a marker `~q` + 8 digits (a sequence number) into a text.
Yjs keeps string content as raw UTF-8 in a v1 update, also after a server merges several
updates into one broadcast, so a receiver counts deliveries by scanning for markers: no CRDT
work on the receiving side, and a coalesced broadcast counts for every update it carries.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from pycrdt import Doc, Text

from documents.sync.varint import write_var_bytes, write_var_uint

MARKER = re.compile(rb"~q(\d{8})")

MSG_SYNC, MSG_AWARENESS, MSG_AUTH = 0, 1, 2
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2
EMPTY_STATE_VECTOR = b"\x00"
EMPTY_UPDATE = b"\x00\x00"


# The same lib0 encoders the server uses (the bench measures servers, not its own framing).
var_uint = write_var_uint
var_bytes = write_var_bytes


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


@dataclass(frozen=True)
class Dialect:
    """How one server family frames messages for one document."""

    kind: str  # "plain" or "hocuspocus"
    document: str

    @property
    def prefix(self) -> bytes:
        return var_bytes(self.document.encode()) if self.kind == "hocuspocus" else b""

    def hello(self) -> list[bytes]:
        """What a client sends right after the handshake."""
        frames = []
        if self.kind == "hocuspocus":
            frames.append(self.prefix + bytes((MSG_AUTH, 0)) + var_bytes(b"bench-token"))
        frames.append(self.sync_step1(EMPTY_STATE_VECTOR))
        return frames

    def sync_step1(self, state_vector: bytes) -> bytes:
        return self.prefix + bytes((MSG_SYNC, SYNC_STEP1)) + var_bytes(state_vector)

    def sync_step2(self, update: bytes) -> bytes:
        return self.prefix + bytes((MSG_SYNC, SYNC_STEP2)) + var_bytes(update)

    def update(self, update: bytes) -> bytes:
        return self.prefix + bytes((MSG_SYNC, SYNC_UPDATE)) + var_bytes(update)

    def kind_of(self, frame: bytes) -> tuple[int, int]:
        """(message type, sync sub-type or -1) of a frame from the server."""
        pos = 0
        if self.kind == "hocuspocus":
            length, pos = read_var_uint(frame, 0)
            pos += length
        if pos >= len(frame):
            return -1, -1
        message_type = frame[pos]
        if message_type == MSG_SYNC and pos + 1 < len(frame):
            return message_type, frame[pos + 1]
        return message_type, -1


def marker(seq: int) -> str:
    return f"~q{seq:08d}"


def typing_updates(first_seq: int, count: int, client_id: int) -> list[bytes]:
    """`count` updates, each appending one marker to a text, as one client typing would."""
    doc = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    for n in range(count):
        text += marker(first_seq + n)
    doc.unobserve(subscription)
    return updates


def edit_history(count: int, seed: int = 7) -> tuple[list[bytes], bytes]:
    """`count` one-keystroke updates as a person makes them: runs of typing at a cursor that
    jumps to a random place every few words, with some backspaces. Returns the updates and the
    whole document as one update."""
    rng = random.Random(seed)
    doc = Doc(client_id=424242)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    length = cursor = 0
    for _ in range(count):
        if rng.random() < 0.05:
            cursor = rng.randint(0, length)
        if cursor > 0 and rng.random() < 0.08:
            del text[cursor - 1 : cursor]
            cursor -= 1
            length -= 1
        else:
            text.insert(cursor, rng.choice("abcdefghij "))
            cursor += 1
            length += 1
    doc.unobserve(subscription)
    return updates, doc.get_update()
