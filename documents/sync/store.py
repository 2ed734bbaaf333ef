"""The persistence seam: how rooms load a document and how accepted updates are kept.

Implementations: `MemoryStore` here (unit tests), `documents.storage.DjangoStore` (SQLite or
Postgres through the ORM: an update log plus snapshots).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from pycrdt import Doc

from documents.sync.protocol import decode_state_vector
from documents.sync.update_check import UpdateShape, check_update


class DocumentStore(Protocol):
    async def load(self, name: str) -> bytes | None:
        """The whole stored document as one v1 update, or None if nothing is stored."""

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        """Store every update of the batch, all documents in one transaction (group commit).

        Raise if the batch could not be committed; nothing of it is then stored."""

    async def compact(self, names: Iterable[str]) -> None:
        """Fold these documents' update logs into snapshots, so that loading stays cheap (the
        write-behind calls it for documents it appended many rows to)."""


def fold_updates(updates: Iterable[bytes], *, first_is_snapshot: bool = False) -> bytes:
    """One update equal to the given ones, whatever order they are stored in.

    A log written by several processes is not in causal order, and Yrs integrates an update
    whose dependencies come later incorrectly in some orders (pycrdt 0.14: about one shuffled
    history in five lost or misplaced content). So updates are applied in causal order: one
    whose dependencies are not in the Doc yet waits until they are. (pycrdt.merge_updates
    orders structs itself, but applying its result took 13 s for 100k keystrokes, against
    0.5 s one by one.)"""
    updates = list(updates)
    if len(updates) == 1:
        return bytes(updates[0])  # a snapshot alone is already one update: nothing to fold
    doc = Doc()
    if first_is_snapshot:
        # A snapshot is a whole document, self-contained: walking a large one in Python would
        # cost more than Yrs applying it.
        doc.apply_update(bytes(updates[0]))
        updates = updates[1:]
    waiting: list[tuple[bytes, UpdateShape]] = []
    for update in updates:
        shape = check_update(update)
        if shape.missing_dependencies(decode_state_vector(doc.get_state())):
            waiting.append((update, shape))
            continue
        doc.apply_update(update)
        if waiting:
            waiting = _apply_ready(doc, waiting)
    for update, _ in waiting:  # dependencies never stored: let Yrs keep them pending
        doc.apply_update(update)
    return doc.get_update()


def _apply_ready(doc: Doc, waiting: list[tuple[bytes, UpdateShape]]):
    progress = True
    while progress and waiting:
        progress = False
        state = decode_state_vector(doc.get_state())
        still = []
        for update, shape in waiting:
            if shape.missing_dependencies(state):
                still.append((update, shape))
            else:
                doc.apply_update(update)
                progress = True
                state = decode_state_vector(doc.get_state())
        waiting = still
    return waiting


class MemoryStore:
    """Keeps updates in a dict: the engine's unit tests run on it."""

    def __init__(self) -> None:
        self.logs: dict[str, list[bytes]] = {}
        self.fail_appends = False

    async def load(self, name: str) -> bytes | None:
        log = self.logs.get(name)
        return fold_updates(log) if log else None

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        if self.fail_appends:
            raise ConnectionError("store unavailable")
        for name, updates in batch.items():
            self.logs.setdefault(name, []).extend(updates)

    async def compact(self, names: Iterable[str]) -> None:
        for name in names:
            if self.logs.get(name):
                self.logs[name] = [fold_updates(self.logs[name])]
