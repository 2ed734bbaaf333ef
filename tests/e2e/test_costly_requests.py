"""A member repeating costly requests on a large document (sync step 1, `GET .../state`) does not
keep the server's event loop from relaying everyone else's edits (issue 14)."""

from __future__ import annotations

import asyncio
import os
import time

import requests
import websockets

from documents.sync import protocol
from tests.support.yclient import YClient, synced_client

REPEATS = 200


async def edit_delays(writer: YClient, reader: YClient, stop: asyncio.Event) -> list[float]:
    loop, delays, n = asyncio.get_running_loop(), [], 0
    while not stop.is_set():
        started = loop.time()
        writer.text.insert(0, f"<{n}>")
        await reader.wait_for(lambda n=n: str(reader.text).startswith(f"<{n}>"), timeout=10)
        delays.append(loop.time() - started)
        n += 1
        await asyncio.sleep(0.02)  # a pace: someone typing
    return delays


async def repeat_sync_step1(url: str) -> tuple[int, float]:
    """Send REPEATS sync steps 1 from scratch; count the whole-document answers until quiet."""
    answers, started = 0, time.perf_counter()
    async with websockets.connect(url, max_size=None) as ws:
        for _ in range(REPEATS):
            await ws.send(protocol.encode_sync_step1(b"\x00"))
        last = time.perf_counter()
        while time.perf_counter() - last < 1.5:  # others' edits keep arriving: wait for quiet
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            if frame[:2] == b"\x00\x01" and len(frame) > 1_000_000:
                answers, last = answers + 1, time.perf_counter()
    return answers, last - started


def repeat_get_state(server, document_id: str, token: str) -> float:
    started = time.perf_counter()
    with requests.Session() as session:
        for _ in range(REPEATS // 4):
            response = session.get(
                f"{server.http}/api/documents/{document_id}/state",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert len(response.content) > 1_000_000
    return time.perf_counter() - started


async def test_repeated_whole_document_requests_do_not_stall_others_edits(
    servers, owner_and_viewer
):
    document_id, owner_token, viewer_token = owner_and_viewer
    env = {}
    if "COLLAB_SYNC_REQUESTS_PER_SECOND" in os.environ:  # to measure the cache alone
        env["COLLAB_SYNC_REQUESTS_PER_SECOND"] = os.environ["COLLAB_SYNC_REQUESTS_PER_SECOND"]
    server = await asyncio.to_thread(servers.start, **env)
    url = f"{server.ws}/ws/documents/{document_id}?token="
    writer = await synced_client(server, document_id, owner_token)
    reader = await synced_client(server, document_id, owner_token)
    for n in range(500):  # ~1 MB in 500 separate insertions, as typed over time
        writer.text.insert(len(writer.text) if n % 2 else 0, f"{n:04d}" + "w" * 2000)
    await reader.wait_for(lambda: len(str(reader.text)) == 500 * 2004, timeout=60)
    stop = asyncio.Event()
    typing = asyncio.ensure_future(edit_delays(writer, reader, stop))
    answers, step1_seconds = await repeat_sync_step1(url + viewer_token)
    state_seconds = await asyncio.to_thread(repeat_get_state, server, document_id, viewer_token)
    stop.set()
    delays = await typing
    print(
        f"{REPEATS} sync steps 1: {answers} answered in {step1_seconds:.2f} s; "
        f"{REPEATS // 4} GET state: {state_seconds:.2f} s; others' edits over "
        f"{len(delays)}: max {max(delays) * 1000:.0f} ms, "
        f"median {sorted(delays)[len(delays) // 2] * 1000:.0f} ms"
    )
    assert answers >= 1  # the newest request is answered
    assert max(delays) < 0.25
    await writer.close()
    await reader.close()
