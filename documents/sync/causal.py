"""Folding stored updates into one Doc, in causal order, without ever holding pending content.

Two measured facts about Yrs (pycrdt 0.14.13) shape this module (docs/durability.md):
- it integrates causally out-of-order updates wrongly in some orders (73 of 100 shuffled
  3-writer histories gave the wrong text; yjs: 0), so an update is applied only once everything
  it refers to is in the Doc;
- `Doc.get_update()` silently leaves out pending structs and deletions, so a Doc that was given
  an update with missing dependencies encodes as if that update never came.

So a Doc built here never receives an update whose dependencies are missing: such an update is
returned as *waiting*, and its stored row must stay where it is until a later fold integrates
it. `Folded.contained` says which inputs the Doc provably holds (structs within its state vector,
deletions within its delete set): only those may be deleted after a snapshot is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pycrdt import Doc

from documents.sync.protocol import decode_state_vector
from documents.sync.update_check import DeletedRanges, InvalidUpdate, UpdateShape, check_update

log = logging.getLogger("collab.storage")

_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)
T = TypeVar("T")


@dataclass
class Folded:
    doc: Doc  # holds every applied update and nothing pending
    applied: list[int] = field(default_factory=list)  # indices of the inputs integrated
    waiting: list[int] = field(default_factory=list)  # indices whose dependencies are missing
    shapes: list[UpdateShape | None] = field(default_factory=list)

    def state(self) -> bytes:
        return self.doc.get_update()

    def contained(self) -> list[int]:
        """Indices of the inputs that the Doc provably holds, checked against its own state
        vector and delete set rather than trusted from the order of application."""
        state = decode_state_vector(self.doc.get_state())
        deleted = DeletedRanges(check_update(self.doc.get_update(self.doc.get_state())).deletes)
        return [
            index
            for index in self.applied
            if (shape := self.shapes[index]) is not None and shape.contained_in(state, deleted)
        ]


class WaitingUpdates(Generic[T]):
    """Updates held back until everything they refer to is in the Doc (never given to Yrs
    before): each is kept with its shape, and `take_ready` hands back the ones a state vector
    now satisfies. Used by folding (items: input indices) and by rooms (items: updates)."""

    def __init__(self) -> None:
        self.items: list[tuple[T, UpdateShape]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, item: T, shape: UpdateShape) -> None:
        self.items.append((item, shape))

    def take_ready(self, state: dict[int, int]) -> list[tuple[T, UpdateShape]]:
        ready, still = [], []
        for entry in self.items:
            (still if entry[1].missing_dependencies(state) else ready).append(entry)
        self.items = still
        return ready


def fold_causally(updates: Sequence[bytes], *, base: bytes | None = None) -> Folded:
    """Apply `updates` on top of `base` (a snapshot: self-contained, applied as it is), each one
    as soon as its dependencies are in; what never becomes ready is left out as waiting."""
    doc = Doc()
    if base:
        doc.apply_update(base)
    folded = Folded(doc)
    state = decode_state_vector(doc.get_state())
    waiting: WaitingUpdates[int] = WaitingUpdates()
    for index, update in enumerate(updates):
        shape = _shape_of(update)
        folded.shapes.append(shape)
        if shape is None:
            folded.waiting.append(index)  # unreadable: kept, never applied, never deleted
            continue
        if shape.missing_dependencies(state):
            waiting.add(index, shape)
            continue
        ready = [(index, shape)]
        while ready:  # this update, then whatever it (and those after it) made ready
            for ready_index, ready_shape in ready:
                if _apply(doc, updates[ready_index], ready_shape, state):
                    folded.applied.append(ready_index)
                else:
                    folded.waiting.append(ready_index)
            ready = waiting.take_ready(state)
    folded.waiting.extend(index for index, _ in waiting.items)
    folded.waiting.sort()
    return folded


def _shape_of(update: bytes) -> UpdateShape | None:
    try:
        return check_update(update)
    except InvalidUpdate as exc:
        log.error("a stored update is unreadable and is kept as it is: %s", exc)
        return None


def _apply(doc: Doc, update: bytes, shape: UpdateShape, state: dict[int, int]) -> bool:
    try:
        doc.apply_update(update)
    except _PASS_THROUGH:
        raise
    except BaseException as exc:  # pycrdt's PanicException is a BaseException
        log.error("Yrs refused a stored update; it is kept as it is: %r", exc)
        return False
    # The update integrated completely (its dependencies were there), so the state vector
    # grows by exactly its ranges: cheaper than asking Yrs for the whole vector each time.
    for client, (_start, end) in shape.ranges.items():
        if end > state.get(client, 0):
            state[client] = end
    return True
