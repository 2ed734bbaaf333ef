"""Group commit: accepted updates are written in one transaction per flush window, off the relay.

The relay path only appends to an in-memory buffer; a background task commits the buffer every
window (all documents of the process in one transaction) and then reports, per document, the
marker taken when the batch was cut (the registry's state vector and sequence number), from
which the registry sends durable acknowledgements. If the store fails (database
down), the buffer is kept and retried with back-off; past `limit_bytes` the registry refuses new
edits rather than accept what it could not keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from documents.sync.store import DocumentStore

log = logging.getLogger("collab.writer")

CommitMarker = Callable[[str], object]  # taken when a batch is cut, handed back after commit
Committed = Callable[[dict[str, object]], None]


class WriteBehind:
    def __init__(
        self,
        store: DocumentStore,
        *,
        interval: float,
        limit_bytes: int,
        commit_marker: CommitMarker,
        on_committed: Committed,
        max_backoff: float = 5.0,
        compact_after_updates: int = 500,
    ) -> None:
        self.store = store
        self.window = min(interval / 4, 0.025)
        self.limit_bytes = limit_bytes
        self.commit_marker = commit_marker
        self.on_committed = on_committed
        self.max_backoff = max_backoff
        self.pending: dict[str, list[bytes]] = {}
        self.pending_bytes = 0
        self.healthy = True
        self.last_error: str | None = None
        self.commit_seconds: list[float] = []  # recent commit latencies, for metrics
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._compacting: asyncio.Task | None = None
        # Rows this process stored per document since it last compacted it: counted here so
        # that no commit has to ask the database how long each log is.
        self.compact_after_updates = compact_after_updates
        self.rows_since_compaction: dict[str, int] = {}

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="write-behind")

    async def stop(self) -> None:
        if self._task is not None:
            async with self._lock:  # a commit in flight finishes: it is never cancelled
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def forget(self, name: str) -> None:
        """The room unloaded: stop counting its rows (a later load compacts a long log)."""
        self.rows_since_compaction.pop(name, None)

    def has_room_for(self, nbytes: int) -> bool:
        return self.pending_bytes + nbytes <= self.limit_bytes

    def add(self, name: str, update: bytes) -> None:
        self.pending.setdefault(name, []).append(update)
        self.pending_bytes += len(update)
        self._wake.set()

    async def flush(self) -> None:
        """Commit everything buffered now (room unload, shutdown); raise if the store fails.
        A batch the background task is committing counts too: waiting for the lock waits for
        it (an empty buffer alone does not mean everything is stored)."""
        while True:
            await self._commit_once()
            if not self.pending:
                return

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.window)
            self._wake.clear()
            try:
                await self._commit_once()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                self._wake.set()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _commit_once(self) -> None:
        async with self._lock:
            if not self.pending:
                return
            batch, self.pending = self.pending, {}
            batch_bytes, self.pending_bytes = self.pending_bytes, 0
            vectors = {name: self.commit_marker(name) for name in batch}
            started = time.perf_counter()
            try:
                await self.store.append(batch)
            except BaseException as exc:
                self._put_back(batch, batch_bytes)
                if self.healthy:
                    log.error("storing updates failed, keeping them in memory: %r", exc)
                self.healthy = False
                self.last_error = repr(exc)
                raise
            if not self.healthy:
                log.warning("storing updates works again; wrote %d bytes kept", batch_bytes)
            self.healthy = True
            self.last_error = None
            self.commit_seconds.append(time.perf_counter() - started)
            del self.commit_seconds[:-1000]
        self.on_committed(vectors)
        for name, updates in batch.items():
            self.rows_since_compaction[name] = self.rows_since_compaction.get(name, 0) + len(
                updates
            )
        due = [
            n
            for n, rows in self.rows_since_compaction.items()
            if rows >= self.compact_after_updates
        ]
        if due:
            self._compact_soon(due)

    def _put_back(self, batch: dict[str, list[bytes]], batch_bytes: int) -> None:
        for name, updates in batch.items():
            self.pending[name] = updates + self.pending.get(name, [])
        self.pending_bytes += batch_bytes

    def _compact_soon(self, names: list[str]) -> None:
        if self._compacting is not None and not self._compacting.done():
            return
        for name in names:
            self.rows_since_compaction.pop(name, None)
        self._compacting = asyncio.get_running_loop().create_task(self._compact(names))

    async def _compact(self, names: list[str]) -> None:
        try:
            await self.store.compact(names)
        except Exception:
            log.exception("compaction failed (it is retried after the next commit)")
