"""A member flooding presence with fresh client ids (each frame within the size and rate limits)
leaves the server's memory flat and everyone else's edits flowing (issue 14)."""

from __future__ import annotations

import asyncio
import itertools

import websockets

from documents.sync import protocol
from documents.sync.protocol import AwarenessEntry
from tests.e2e.test_memory import rss_bytes
from tests.support.yclient import YClient, synced_client

FLOOD_SECONDS = 8
PADDING = "p" * 6000  # eight states of ~6 KB: each frame just under 64 KiB


def flood_frames():
    """Each frame removes the previous eight ids, announces eight fresh ones, and removes 240
    ids nobody ever announced (what pycrdt used to remember forever)."""
    fresh = itertools.count(1_000_000)
    previous: list[int] = []
    while True:
        ids = [next(fresh) for _ in range(8)]
        entries = [AwarenessEntry(i, 2, "null") for i in previous]
        entries += [AwarenessEntry(i, 1, f'{{"pad":"{PADDING}"}}') for i in ids]
        entries += [AwarenessEntry(next(fresh), 3, "null") for _ in range(256 - len(entries))]
        previous = ids
        yield protocol.encode_awareness(protocol.encode_awareness_entries(entries))


async def flood(url: str, stop: asyncio.Event) -> int:
    sent = 0
    async with websockets.connect(url, max_size=None) as ws:
        frames = flood_frames()
        while not stop.is_set():
            await ws.send(next(frames))
            sent += 1
            # Just under the presence rate, so that every frame is applied (one the server
            # dropped would leave its eight ids owned, and the next eight would pass the limit).
            await asyncio.sleep(1 / 25)
        assert ws.close_code is None
    return sent


async def typing_delays(writer: YClient, reader: YClient, stop: asyncio.Event) -> list[float]:
    loop, delays = asyncio.get_running_loop(), []
    for n in itertools.count():
        if stop.is_set():
            return delays
        started = loop.time()
        writer.text += f"{n};"
        await reader.wait_for(lambda n=n: str(reader.text).endswith(f"{n};"), timeout=5)
        delays.append(loop.time() - started)
        await asyncio.sleep(0.05)  # a pace: someone typing


async def test_a_flood_of_fresh_presence_ids_leaves_memory_flat_and_edits_flowing(
    servers, owner_and_viewer
):
    document_id, owner_token, viewer_token = owner_and_viewer
    server = await asyncio.to_thread(servers.start)
    url = f"{server.ws}/ws/documents/{document_id}?token="
    writer = await synced_client(server, document_id, owner_token)
    reader = await synced_client(server, document_id, owner_token)
    stop = asyncio.Event()
    flooding = asyncio.ensure_future(flood(url + viewer_token, stop))
    await asyncio.sleep(2)  # warm up: buffers and allocator arenas reach their size
    before = rss_bytes(server.process.pid)
    typing = asyncio.ensure_future(typing_delays(writer, reader, stop))
    await asyncio.sleep(FLOOD_SECONDS)  # the length of the applied load
    stop.set()
    delays, frames = await typing, await flooding
    after = rss_bytes(server.process.pid)
    print(
        f"{frames} flood frames ({frames * 248} fresh ids); RSS {before >> 20} -> "
        f"{after >> 20} MiB; edit delays max {max(delays) * 1000:.0f} ms, "
        f"median {sorted(delays)[len(delays) // 2] * 1000:.0f} ms over {len(delays)} edits"
    )
    assert after - before < 4 * 1024 * 1024  # before the fix: +12 MiB (230 bytes an id)
    assert max(delays) < 0.25
    assert writer.close_code is None and reader.close_code is None
    await writer.close()
    await reader.close()
