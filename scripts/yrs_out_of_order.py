"""Reproduction for upstream (y-crdt, pycrdt): Yrs integrates out-of-order updates wrongly.

Three people type into one Y.Text, syncing now and then. Every update they produce is applied,
one by one, to a fresh Doc in a shuffled order. Once all have arrived, Yjs always shows the same
text as the writers (pending structs are retried until they integrate); Yrs (pycrdt 0.14.13)
shows a different text in most shuffled histories. Applying the same updates in causal order,
or merged with `merge_updates` first, gives the right text.

    .venv/bin/python scripts/yrs_out_of_order.py [--histories 100] [--seed 0]

Prints how many histories went wrong, then the smallest failing one as hex updates in the
order applied, ready to paste into an issue. Collab works around it (documents/sync/causal.py).
"""

from __future__ import annotations

import argparse
import random

import pycrdt
from pycrdt import Doc, Text


def history(rng: random.Random, steps: int) -> tuple[list[bytes], str]:
    writers = [Doc(client_id=n) for n in (1, 2, 3)]
    updates = []
    for _ in range(steps):
        doc = rng.choice(writers)
        text = doc.get("t", type=Text)
        before = doc.get_state()
        if len(text) and rng.random() < 0.25:
            del text[rng.randrange(len(text))]
        else:
            text.insert(rng.randint(0, len(text)), rng.choice("abcdef"))
        updates.append(doc.get_update(before))
        if rng.random() < 0.3:
            source, target = rng.sample(writers, 2)
            target.apply_update(source.get_update(target.get_state()))
    for target in writers:
        for source in writers:
            target.apply_update(source.get_update(target.get_state()))
    return updates, str(writers[0].get("t", type=Text))


def text_after(updates: list[bytes]) -> str:
    doc = Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("t", type=Text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=100)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    wrong, smallest = 0, None
    for _ in range(args.histories):
        updates, truth = history(rng, args.steps)
        shuffled = updates[:]
        rng.shuffle(shuffled)
        got = text_after(shuffled)
        if got != truth:
            wrong += 1
            if smallest is None or len(shuffled) < len(smallest[0]):
                smallest = (shuffled, truth, got)
        assert text_after(updates) == truth  # in causal order Yrs is right
        assert text_after([pycrdt.merge_updates(*shuffled)]) == truth
    print(
        f"pycrdt {pycrdt.__version__}: {wrong} of {args.histories} shuffled histories "
        "gave the wrong text once every update had arrived"
    )
    if smallest is not None:
        shuffled, truth, got = smallest
        print(f"\nsmallest: expected {truth!r}, got {got!r}; updates in the order applied:")
        for update in shuffled:
            print(f"  bytes.fromhex({update.hex()!r}),")


if __name__ == "__main__":
    main()
