"""The write-behind never reports "everything stored" while a commit is still in flight."""

from __future__ import annotations

import asyncio

from documents.sync.store import MemoryStore
from documents.sync.write_behind import WriteBehind


class SlowCommits(MemoryStore):
    """A store whose appends wait until the test lets them finish (a slow database)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.finish = asyncio.Event()

    async def append(self, batch):
        self.started.set()
        await self.finish.wait()
        await super().append(batch)


def writer_on(store: MemoryStore) -> WriteBehind:
    return WriteBehind(
        store,
        interval=0.01,
        limit_bytes=1 << 20,
        commit_marker=lambda name: None,
        on_committed=lambda markers: None,
    )


async def test_flush_returns_only_after_the_commit_in_flight():
    store = SlowCommits()
    writer = writer_on(store)
    writer.start()
    writer.add("doc", b"edit")
    await store.started.wait()  # the background commit took the batch: nothing is pending
    flushing = asyncio.ensure_future(writer.flush())
    await asyncio.sleep(0)  # one loop turn: flush has had its chance to return early
    assert not flushing.done()
    store.finish.set()
    await flushing
    assert store.logs["doc"] == [b"edit"]
    await writer.stop()


async def test_stopping_never_cancels_a_commit_in_flight():
    store = SlowCommits()
    writer = writer_on(store)
    writer.start()
    writer.add("doc", b"edit")
    await store.started.wait()
    stopping = asyncio.ensure_future(writer.stop())
    await asyncio.sleep(0)
    store.finish.set()
    await stopping
    assert store.logs["doc"] == [b"edit"]
