"""A recording client for engine tests: the room's view of a socket, without a socket."""

from __future__ import annotations

from pycrdt import Doc, Text

from documents.sync import protocol
from documents.sync.protocol import AwarenessUpdate, SyncStep2, SyncUpdate


class RecordingClient:
    def __init__(self, *, can_write: bool = True, wants_ack: bool = False, user_id=1) -> None:
        self.can_write = can_write
        self.wants_ack = wants_ack
        self.user_id = user_id
        self.sent: list[bytes] = []
        self.closed_with: int | None = None
        self.doc = Doc()  # what this client would show: everything it was sent, applied

    def send(self, frame: bytes) -> None:
        self.sent.append(frame)
        if frame[0] == protocol.MESSAGE_ACK:
            return
        message = protocol.parse_message(frame)
        if isinstance(message, SyncStep2 | SyncUpdate):
            self.doc.apply_update(message.update)

    def close(self, code: int) -> None:
        self.closed_with = code

    def text(self, name: str = "text") -> str:
        return str(self.doc.get(name, type=Text))

    def awareness_messages(self) -> list[AwarenessUpdate]:
        return [
            message
            for frame in self.sent
            if frame[0] == protocol.MESSAGE_AWARENESS
            for message in [protocol.parse_message(frame)]
        ]


def typed_update(text: str, *, client_id: int, base: bytes | None = None) -> bytes:
    """An update that inserts `text` at the end of the shared text, as a client would send it."""
    doc = Doc(client_id=client_id)
    if base:
        doc.apply_update(base)
    before = doc.get_state()
    shared = doc.get("text", type=Text)
    shared += text
    return doc.get_update(before)
