"""The write-behind never reports "everything stored" while a commit is still in flight."""

from __future__ import annotations

import asyncio

from documents.sync.store import HeldStore, MemoryStore
from documents.sync.write_behind import WriteBehind
from tests.support.waiting import eventually


def writer_on(store: HeldStore) -> WriteBehind:
    return WriteBehind(
        store,
        interval=0.01,
        limit_bytes=1 << 20,
        commit_marker=lambda name: None,
        on_committed=lambda markers: None,
    )


async def test_flush_returns_only_after_the_commit_in_flight():
    store = HeldStore(MemoryStore())  # a slow database: commits wait for release()
    writer = writer_on(store)
    writer.start()
    writer.add("doc", b"edit")
    await eventually(lambda: not writer.pending, what="the background commit took the batch")
    flushing = asyncio.ensure_future(writer.flush())
    await asyncio.sleep(0)  # one loop turn: flush has had its chance to return early
    assert not flushing.done()
    store.release()
    await flushing
    assert store.inner.logs["doc"] == [b"edit"]
    await writer.stop()


async def test_stopping_never_cancels_a_commit_in_flight():
    store = HeldStore(MemoryStore())  # a slow database: commits wait for release()
    writer = writer_on(store)
    writer.start()
    writer.add("doc", b"edit")
    await eventually(lambda: not writer.pending, what="the background commit took the batch")
    stopping = asyncio.ensure_future(writer.stop())
    await asyncio.sleep(0)  # one loop turn: stop has had its chance to cancel the commit
    store.release()
    await stopping
    assert store.inner.logs["doc"] == [b"edit"]
