"""Nothing stored is ever dropped: whatever order several processes commit a history in, with
compactions between the commits, loading gives the whole document once everything is in."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from documents.sync.store import MemoryStore
from tests.support.histories import (
    content_of,
    doc_of,
    random_history,
    storage_schedule,
)


async def store_and_load(operations) -> bytes | None:
    store = MemoryStore()
    for operation in operations:
        if operation is None:
            await store.compact(["doc"])
        else:
            await store.append({"doc": operation})
    loaded = await store.load("doc")
    assert loaded.complete, "everything is stored, yet some updates still wait"
    return loaded.state


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(4, 30))
@example(seed=3, steps=12)
async def test_any_commit_order_with_compactions_loads_the_whole_document(seed, steps):
    rng = random.Random(seed)
    history = random_history(rng, steps=steps)
    operations = storage_schedule(rng, history)
    assert content_of(doc_of(await store_and_load(operations))) == content_of(history.truth)


async def test_an_update_stored_before_its_dependency_survives_a_compaction_in_between():
    """The case found in production: process 2 commits an edit that builds on process 1's,
    a compaction runs, then process 1 commits."""
    first = Doc(client_id=1)
    first.get("text", type=Text).insert(0, "ab")
    u1 = first.get_update()
    second = Doc(client_id=2)
    second.apply_update(u1)
    before = second.get_state()
    second.get("text", type=Text).insert(2, "c")
    u2 = second.get_update(before)

    state = await store_and_load([[u2], None, [u1], None])
    assert str(doc_of(state).get("text", type=Text)) == "abc"


async def test_a_waiting_update_is_loaded_as_waiting_not_as_content():
    first = Doc(client_id=1)
    first.get("text", type=Text).insert(0, "ab")
    second = Doc(client_id=2)
    second.apply_update(first.get_update())
    before = second.get_state()
    second.get("text", type=Text).insert(2, "c")
    store = MemoryStore()
    await store.append({"doc": [second.get_update(before)]})
    await store.compact(["doc"])
    loaded = await store.load("doc")
    assert loaded.waiting and not loaded.complete
    assert str(doc_of(loaded.state).get("text", type=Text)) == ""
