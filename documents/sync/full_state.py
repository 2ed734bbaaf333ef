"""The whole document as one update, encoded once per version of the document.

Sync step 1 from a new client (an empty state vector) and `GET .../state` both want the whole
document; encoding a 1 MB document costs ~10 ms of the event loop, so a client repeating either
could keep the loop busy. The encoding is kept until the document next changes (the room's
observer calls `changed`: an observer of our own would hold this object inside Yrs, where
Python's garbage collector cannot see the cycle through the Doc).
"""

from __future__ import annotations

from pycrdt import Doc

EMPTY_STATE_VECTOR = b"\x00"


class FullState:
    def __init__(self, doc: Doc) -> None:
        self._doc = doc
        self._encoded: bytes | None = None

    def changed(self) -> None:
        self._encoded = None

    def get(self) -> bytes:
        if self._encoded is None:
            self._encoded = self._doc.get_update()
        return self._encoded
