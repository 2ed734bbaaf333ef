"""Fuzz the y-websocket parser (and optionally a live server) with many hostile frames.

    .venv/bin/python bench/fuzz_frames.py --frames 100000
    .venv/bin/python bench/fuzz_frames.py --frames 20000 --server ws://127.0.0.1:8000 \
        --document DOCUMENT_ID --token TOKEN

Frames are random bytes, random bytes behind a valid sync/awareness header, and real updates
with a few bytes mutated. Against the parser, anything but ProtocolError is a failure; frames
that pass are also applied to a scratch pycrdt Doc, which may refuse them but must not take the
process down. Against a server, every refused frame must close its socket with 4400, an honest
client must stay connected, and the server must keep answering.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pycrdt import Doc, Map, Text

from documents.sync import protocol


def seed_update() -> bytes:
    doc = Doc(client_id=7)
    doc.get("text", type=Text).insert(0, "seed text ✓")
    doc.get("map", type=Map)["k"] = {"a": [1, 2.5, None, "s"]}
    return doc.get_update()


def frames(rng: random.Random, count: int):
    seed = bytearray(protocol.encode_update(seed_update()))
    for _ in range(count):
        kind = rng.random()
        if kind < 0.3:
            yield rng.randbytes(rng.randint(0, 64))
        elif kind < 0.6:
            yield bytes(rng.choice([b"\x00\x02", b"\x00\x01", b"\x00\x00", b"\x01"])) + (
                rng.randbytes(rng.randint(0, 48))
            )
        else:
            mutated = bytearray(seed)
            for _ in range(rng.randint(1, 4)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            yield bytes(mutated)


def fuzz_parser(count: int, seed: int) -> dict:
    rng = random.Random(seed)
    refused = accepted = yrs_refused = 0
    started = time.perf_counter()
    for frame in frames(rng, count):
        try:
            message = protocol.parse_message(frame)
        except protocol.ProtocolError:
            refused += 1
            continue
        accepted += 1
        if isinstance(message, protocol.SyncUpdate | protocol.SyncStep2):
            try:
                Doc().apply_update(message.update)
            except BaseException as exc:  # PanicException included
                if isinstance(exc, KeyboardInterrupt):
                    raise
                yrs_refused += 1
    return {
        "frames": count,
        "refused_by_parser": refused,
        "accepted": accepted,
        "refused_by_yrs": yrs_refused,
        "seconds": round(time.perf_counter() - started, 2),
    }


async def fuzz_server(server: str, document: str, token: str, count: int, seed: int) -> dict:
    from tests.support.yclient import YClient

    url = f"{server}/ws/documents/{document}?token={token}"
    honest = await YClient(url).connect()
    await honest.wait_synced()
    rng = random.Random(seed)
    closed_4400 = other = 0
    for frame in frames(rng, count * 4):
        try:
            protocol.parse_message(frame)
            continue  # valid frames would legitimately change the document
        except protocol.ProtocolError:
            pass
        attacker = await YClient(url).connect()
        await attacker.send_raw(frame)
        code = await attacker.wait_closed()
        closed_4400 += code == 4400
        other += code != 4400
        count -= 1
        if count == 0:
            break
    still_connected = honest.close_code is None
    await honest.close()
    return {"closed_4400": closed_4400, "other_outcome": other, "honest_kept": still_connected}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server")
    parser.add_argument("--document")
    parser.add_argument("--token")
    args = parser.parse_args()
    print(fuzz_parser(args.frames, args.seed))
    if args.server:
        print(
            asyncio.run(fuzz_server(args.server, args.document, args.token, args.frames, args.seed))
        )


if __name__ == "__main__":
    main()
