"""Bounded memory: documents opened and closed are unloaded, and the process does not grow."""

from __future__ import annotations

import asyncio
import re

import pytest
import requests

from documents.models import ApiToken, Document
from tests.support.procfs import rss_bytes
from tests.support.waiting import eventually
from tests.support.yclient import YClient, synced_client


def open_rooms(server) -> float:
    text = requests.get(server.http + "/metrics", timeout=10).text
    return float(re.search(r"^collab_open_rooms (\S+)$", text, re.M).group(1))


@pytest.fixture
def thousand_documents(transactional_db, make_user):
    user = make_user("many")
    documents = Document.objects.bulk_create(
        [Document(title=f"doc {n}", owner=user) for n in range(1000)]
    )
    return [str(d.id) for d in documents], ApiToken.issue(user)[1]


async def visit(server, document_id, token, n):
    client = await synced_client(server, document_id, token, "&ack=1")
    client.text += f"visit {n} " + "z" * 2000
    await client.wait_durable()
    await client.close()


async def test_opening_and_closing_1000_documents_returns_memory(servers, thousand_documents):
    document_ids, token = thousand_documents
    server = await asyncio.to_thread(
        servers.start, COLLAB_ROOM_IDLE_SECONDS="0", COLLAB_CONNECTIONS_PER_MINUTE="100000"
    )
    pid = server.process.pid
    start = rss_bytes(pid)
    growth = []
    for half in (document_ids[:500], document_ids[500:]):
        for start_at in range(0, len(half), 20):
            batch = half[start_at : start_at + 20]
            await asyncio.gather(*(visit(server, d, token, i) for i, d in enumerate(batch)))
        await eventually(  # every room unloaded (idle 0 s, after its commit)
            lambda: asyncio.to_thread(lambda: open_rooms(server) == 0),
            timeout=30,
            what="rooms unloaded",
        )
        growth.append(rss_bytes(pid) - start)
    print(
        f"RSS at start {start >> 20} MiB, growth after 500 / 1000 documents: "
        f"{growth[0] >> 20} / {growth[1] >> 20} MiB"
    )
    # The second 500 documents cost (almost) nothing more than the first: no leak per room.
    assert growth[1] - growth[0] < max(0.25 * growth[0], 8 * 1024 * 1024)


@pytest.fixture
def churn_documents(transactional_db, make_user):
    user = make_user("churner")
    documents = Document.objects.bulk_create(
        [Document(title=f"churn {n}", owner=user) for n in range(CHURN_CYCLES * CHURN_ROOMS)]
    )
    return [str(d.id) for d in documents], ApiToken.issue(user)[1]


CHURN_CYCLES, CHURN_ROOMS, TYPISTS, EDITS = 12, 50, 3, 40


async def type_together(server, document_id, token):
    """Three people open a fresh document, type a little each, and leave."""
    url = f"{server.ws}/ws/documents/{document_id}?token={token}"
    clients = [await YClient(url).connect() for _ in range(TYPISTS)]
    for client in clients:
        await client.wait_synced()
    for edit in range(EDITS):
        for n, client in enumerate(clients):
            client.text += f"[{n}.{edit}]" + "y" * 200
        await asyncio.sleep(0)  # a turn for the send tasks: edits go out as they are typed
    await clients[0].wait_for(lambda: len(str(clients[0].text)) >= TYPISTS * EDITS * 200)
    for client in clients:
        await client.close()


async def test_room_churn_leaves_the_process_flat(servers, churn_documents):
    """Fresh rooms, typed in and left, cycle after cycle: once the allocator has its working
    set, the process stops growing by the size of the documents (an observed pycrdt Doc is never
    freed: each unloaded room's Doc stayed in memory)."""
    document_ids, token = churn_documents
    server = await asyncio.to_thread(
        servers.start, COLLAB_ROOM_IDLE_SECONDS="0", COLLAB_CONNECTIONS_PER_MINUTE="100000"
    )
    pid = server.process.pid
    rss = []
    for cycle in range(CHURN_CYCLES):
        batch = document_ids[cycle * CHURN_ROOMS : (cycle + 1) * CHURN_ROOMS]
        await asyncio.gather(*(type_together(server, d, token) for d in batch))
        await eventually(  # every room unloaded (idle 0 s, after its commit)
            lambda: asyncio.to_thread(lambda: open_rooms(server) == 0),
            timeout=30,
            what="rooms unloaded",
        )
        rss.append(rss_bytes(pid))
    print("RSS per cycle (MiB):", [round(r / 2**20, 1) for r in rss])
    assert await asyncio.to_thread(open_rooms, server) == 0
    warm, end = rss[5], rss[-1]
    # Measured over these last 6 cycles: +19 and +25 MiB while each unloaded Doc stayed
    # observed (so never freed); +6 MiB alone and up to +10.4 MiB inside the full suite
    # since (the allocator's working set, levelling off).
    assert end - warm < 14 * 1024 * 1024, f"grew {(end - warm) / 2**20:.1f} MiB in 6 cycles"
