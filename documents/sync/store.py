"""The persistence seam: how rooms load a document and how accepted updates are kept.

Implementations: `MemoryStore` here (unit tests), `documents.storage.DjangoStore` (SQLite or
Postgres through the ORM: an update log plus snapshots). `HeldStore` wraps either for tests
that need a commit to wait.

The store never drops an update: one whose dependencies are not stored yet (another process
commits them a moment later, or a client resends them after a crash) is loaded as *waiting*
and stays in the log until a fold integrates it (documents.sync.causal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from documents.sync.causal import fold_causally


@dataclass(frozen=True, slots=True)
class StoredDocument:
    state: bytes | None  # everything stored that integrates, as one v1 update
    waiting: tuple[bytes, ...] = ()  # stored updates whose dependencies are not stored yet

    @property
    def complete(self) -> bool:
        return not self.waiting


class DocumentStore(Protocol):
    async def load(self, name: str) -> StoredDocument:
        """What is stored of the document (state None if nothing is)."""

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        """Store every update of the batch, all documents in one transaction (group commit).

        Raise if the batch could not be committed; nothing of it is then stored."""

    async def compact(self, names: Iterable[str]) -> None:
        """Fold these documents' update logs into snapshots, so that loading stays cheap (the
        write-behind calls it for documents it appended many rows to). Updates that are still
        waiting for their dependencies stay in the log."""


def load_from(updates: Sequence[bytes], *, snapshot: bytes | None = None) -> StoredDocument:
    """A stored document from its latest snapshot and its log rows, in any order."""
    if snapshot is not None and not updates:
        return StoredDocument(snapshot)  # a lone snapshot is already one update
    if snapshot is None and not updates:
        return StoredDocument(None)
    folded = fold_causally(updates, base=snapshot)
    return StoredDocument(folded.state(), tuple(updates[i] for i in folded.waiting))


class MemoryStore:
    """Keeps updates in a dict: the engine's unit tests run on it."""

    def __init__(self) -> None:
        self.snapshots: dict[str, bytes] = {}
        self.logs: dict[str, list[bytes]] = {}
        self.fail_appends = False

    async def load(self, name: str) -> StoredDocument:
        return load_from(self.logs.get(name, []), snapshot=self.snapshots.get(name))

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        if self.fail_appends:
            raise ConnectionError("store unavailable")
        for name, updates in batch.items():
            self.logs.setdefault(name, []).extend(updates)

    async def compact(self, names: Iterable[str]) -> None:
        for name in names:
            log = self.logs.get(name)
            if not log:
                continue
            folded = fold_causally(log, base=self.snapshots.get(name))
            contained = set(folded.contained())
            self.snapshots[name] = folded.state()
            self.logs[name] = [update for i, update in enumerate(log) if i not in contained]


class HeldStore:
    """Wraps a store so that a test can make "not stored yet" true: while held, appends wait
    (the write-behind keeps the batch and its lock, as during a slow commit); `release` lets
    them through. Loads and compactions pass straight on."""

    def __init__(self, inner: DocumentStore, *, held: bool = True) -> None:
        self.inner = inner
        self._open = asyncio.Event()
        if not held:
            self._open.set()

    @property
    def held(self) -> bool:
        return not self._open.is_set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def load(self, name: str) -> StoredDocument:
        return await self.inner.load(name)

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        await self._open.wait()
        await self.inner.append(batch)

    async def compact(self, names: Iterable[str]) -> None:
        await self.inner.compact(names)
