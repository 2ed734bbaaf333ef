"""The persistence seam: how rooms load a document and how accepted updates are kept.

Implementations: `MemoryStore` here (unit tests), `documents.storage.DjangoStore` (SQLite or
Postgres through the ORM: an update log plus snapshots).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from pycrdt import Doc


class DocumentStore(Protocol):
    async def load(self, name: str) -> bytes | None:
        """The whole stored document as one v1 update, or None if nothing is stored."""

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        """Store every update of the batch, all documents in one transaction (group commit).

        Raise if the batch could not be committed; nothing of it is then stored."""

    async def compact(self, names: Iterable[str]) -> None:
        """Fold long update logs into snapshots, so that loading stays cheap."""


def fold_updates(updates: Iterable[bytes]) -> bytes:
    """One update equal to the given ones, by applying into a Doc and encoding its state.

    pycrdt.merge_updates is superlinear in the number of updates (100k: about a minute); applying
    into a Doc is linear."""
    doc = Doc()
    for update in updates:
        doc.apply_update(update)
    return doc.get_update()


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
