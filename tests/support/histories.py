"""Random multi-writer editing histories, for the storage property tests.

Several people edit one document (formatted text, a map, an array), each in their own Doc,
syncing with each other only now and then; the updates each of them produces are what server
processes would store. `content_of` is what a person sees, for comparing documents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pycrdt import Array, Doc, Map, Text


@dataclass
class History:
    updates: list[tuple[int, bytes]]  # (writer, update) in the order they were made
    truth: Doc  # every writer's edits merged


def random_history(rng: random.Random, *, writers: int = 3, steps: int = 20) -> History:
    docs = [Doc(client_id=100 + n) for n in range(writers)]
    updates: list[tuple[int, bytes]] = []
    for _ in range(steps):
        writer = rng.randrange(writers)
        doc = docs[writer]
        before = doc.get_state()
        _edit(rng, doc)
        update = doc.get_update(before)
        if update != b"\x00\x00":
            updates.append((writer, update))
        if rng.random() < 0.35:  # someone catches up with someone else, in one direction
            source, target = rng.sample(docs, 2)
            target.apply_update(source.get_update(target.get_state()))
    truth = Doc()
    for doc in docs:
        truth.apply_update(doc.get_update())
    return History(updates, truth)


def _edit(rng: random.Random, doc: Doc) -> None:
    text = doc.get("text", type=Text)
    choice = rng.random()
    if choice < 0.45 or len(text) == 0:
        attrs = {"bold": True} if rng.random() < 0.3 else None
        text.insert(rng.randint(0, len(text)), rng.choice(["a", "bc", "def"]), attrs)
    elif choice < 0.6:
        start = rng.randrange(len(text))
        del text[start : min(len(text), start + rng.randint(1, 3))]
    elif choice < 0.7:
        start = rng.randrange(len(text))
        text.format(start, min(len(text), start + 2), {"italic": True})
    elif choice < 0.85:
        doc.get("map", type=Map)[rng.choice("xyz")] = rng.randint(0, 9)
    else:
        items = doc.get("list", type=Array)
        if len(items) and rng.random() < 0.3:
            del items[rng.randrange(len(items))]
        else:
            items.insert(rng.randint(0, len(items)), rng.randint(0, 9))


def content_of(doc: Doc) -> dict:
    return {
        "text": doc.get("text", type=Text).diff(),
        "map": doc.get("map", type=Map).to_py(),
        "list": doc.get("list", type=Array).to_py(),
    }


def doc_of(state: bytes | None) -> Doc:
    doc = Doc()
    if state:
        doc.apply_update(state)
    return doc


def storage_schedule(
    rng: random.Random, history: History, *, processes: int = 3
) -> list[list[bytes] | None]:
    """How server processes would store a history: each update goes to some process (clients
    move between them), each process commits its buffer now and then, some updates are stored
    twice (a peer stores what the origin never confirmed), and compactions run between commits.
    Returns the operations in order: a list of updates is one commit, None is a compaction."""
    buffers: list[list[bytes]] = [[] for _ in range(processes)]
    operations: list[list[bytes] | None] = []
    for _writer, update in history.updates:
        buffers[rng.randrange(processes)].append(update)
        if rng.random() < 0.1:
            buffers[rng.randrange(processes)].append(update)
        for _ in range(rng.randint(0, 2)):
            choice = rng.random()
            if choice < 0.5:
                process = rng.randrange(processes)
                if buffers[process]:
                    operations.append(buffers[process])
                    buffers[process] = []
            elif choice < 0.8:
                operations.append(None)
    for buffer in rng.sample(buffers, processes):
        if buffer:
            operations.append(buffer)
        if rng.random() < 0.5:
            operations.append(None)
    return operations
