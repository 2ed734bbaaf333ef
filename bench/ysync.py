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

from pycrdt import Doc, Text, YMessageType, write_message

from documents.sync import protocol
from documents.sync.full_state import EMPTY_STATE_VECTOR
from documents.sync.varint import Reader

MARKER = re.compile(rb"~q(\d{8})")


@dataclass(frozen=True)
class Dialect:
    """How one server family frames messages for one document."""

    kind: str  # "plain" or "hocuspocus"
    document: str

    @property
    def prefix(self) -> bytes:
        return write_message(self.document.encode()) if self.kind == "hocuspocus" else b""

    def hello(self) -> list[bytes]:
        """What a client sends right after the handshake."""
        frames = []
        if self.kind == "hocuspocus":
            auth = bytes((protocol.MESSAGE_AUTH, 0)) + write_message(b"bench-token")
            frames.append(self.prefix + auth)
        frames.append(self.sync_step1(EMPTY_STATE_VECTOR))
        return frames

    # The server's own encoders: the bench measures servers, not its framing.
    def sync_step1(self, state_vector: bytes) -> bytes:
        return self.prefix + protocol.encode_sync_step1(state_vector)

    def sync_step2(self, update: bytes) -> bytes:
        return self.prefix + protocol.encode_sync_step2(update)

    def update(self, update: bytes) -> bytes:
        return self.prefix + protocol.encode_update(update)

    def kind_of(self, frame: bytes) -> tuple[int, int]:
        """(message type, sync sub-type or -1) of a frame from the server."""
        pos = 0
        if self.kind == "hocuspocus":
            reader = Reader(frame)
            reader.skip_var_bytes()
            pos = reader.pos
        if pos >= len(frame):
            return -1, -1
        message_type = frame[pos]
        if message_type == YMessageType.SYNC and pos + 1 < len(frame):
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
