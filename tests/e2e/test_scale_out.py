"""Several real server processes on one Postgres and one Redis serve the same documents.

Each test starts its own processes with a private channel prefix, so tests never hear each
other on the shared Redis."""

from __future__ import annotations

import asyncio
import random

import pytest
import requests
from channels.db import database_sync_to_async
from pycrdt import Doc, Text

from documents.storage import load_document_state
from tests.support.waiting import eventually
from tests.support.yclient import YClient, document_url, synced_client


@pytest.fixture
def start_processes(servers):
    """`start_processes(count, redis_url, **env)`: processes that repair lost messages between
    them within a second; all stopped after the test."""

    def start(count: int, redis_url: str, **env) -> list:
        return servers.start_cluster(count, redis_url, COLLAB_ANTI_ENTROPY_SECONDS="1", **env)

    return start


async def synced_clients(servers, document_id, token, query="") -> list[YClient]:
    """One client per server process, each synced."""
    return [await synced_client(server, document_id, token, query) for server in servers]


def stored_text(document_id) -> str:
    doc = Doc()
    state = load_document_state(document_id)
    if state:
        doc.apply_update(state)
    return str(doc.get("text", type=Text))


async def converge(clients, timeout=20):
    await clients[0].wait_for(
        lambda: len({str(client.text) for client in clients}) == 1, timeout=timeout
    )
    return str(clients[0].text)


def tokens_of(text: str) -> list[str]:
    return sorted(token for token in text.split(";") if token)


async def edit_randomly(clients, rng, rounds, tag):
    """Each round, a random client inserts a unique token at a random position."""
    typed = []
    for n in range(rounds):
        client = rng.choice(clients)
        token = f"{tag}{n}"
        position = rng.randint(0, len(client.text))
        # insert at a token boundary so tokens stay whole
        text = str(client.text)
        boundary = text.rfind(";", 0, position) + 1
        client.text.insert(boundary, token + ";")
        typed.append(token)
        await asyncio.sleep(rng.random() * 0.01)  # a pace: edits interleave with relays
    return typed


async def test_clients_on_three_processes_converge_and_storage_equals_them(
    team, redis_url, start_processes
):
    servers = await asyncio.to_thread(start_processes, 3, redis_url)
    doc_id, token = team["document"], team["owner"]
    clients = [await synced_client(servers[i % 3], doc_id, token, "&ack=1") for i in range(6)]
    typed = await edit_randomly(clients, random.Random(1234), 120, "a")
    text = await converge(clients)
    assert tokens_of(text) == sorted(typed)
    fresh = await synced_client(servers[2], doc_id, token)
    assert str(fresh.text) == text
    for client in clients:  # each process acknowledges what its own clients typed
        await client.wait_durable()
    assert await database_sync_to_async(stored_text)(doc_id) == text
    for client in [*clients, fresh]:
        await client.close()


async def test_a_process_killed_mid_editing_loses_nothing_and_doubles_nothing(
    team, redis_url, start_processes
):
    servers = await asyncio.to_thread(start_processes, 2, redis_url)
    doc_id, token = team["document"], team["owner"]
    doomed_clients = [await synced_client(servers[0], doc_id, token) for _ in range(2)]
    survivor = await synced_client(servers[1], doc_id, token)
    clients = [*doomed_clients, survivor]
    rng = random.Random(99)
    typed = await edit_randomly(clients, rng, 40, "b")
    servers[0].kill()  # SIGKILL: no flush, no goodbye
    for client in doomed_clients:
        await client.wait_closed()
    typed += await edit_randomly(doomed_clients, rng, 10, "offline")  # typed while offline
    reconnected = [
        await YClient(document_url(servers[1], doc_id, token), doc=client.doc).connect()
        for client in doomed_clients
    ]
    everyone = [*reconnected, survivor]
    text = await converge(everyone)
    missing = [sorted(set(typed) - set(tokens_of(str(c.text)))) for c in everyone]
    assert missing == [[], [], []]
    assert tokens_of(text) == sorted(typed)

    @database_sync_to_async
    def all_stored():
        return tokens_of(stored_text(doc_id)) == sorted(typed)

    # Past the hold time (about 6 s) the survivor stores what the dead process never did.
    await eventually(
        all_stored,
        timeout=60,
        what="everything typed stored",
    )
    for client in everyone:
        await client.close()


async def test_edits_during_and_after_a_redis_restart_converge(
    team, private_redis, start_processes
):
    private_redis.start()
    servers = await asyncio.to_thread(start_processes, 2, private_redis.url)
    doc_id, token = team["document"], team["owner"]
    a, b = await synced_clients(servers, doc_id, token, "&ack=1")
    a.text += "before;"
    await b.wait_for(lambda: "before;" in str(b.text))
    private_redis.stop()
    a.text += "during-a;"
    b.text += "during-b;"
    for client in (a, b):  # each process took its client's edit while Redis was away
        await client.wait_durable()
    private_redis.start()
    a.text += "after;"
    text = await converge([a, b], timeout=30)
    assert tokens_of(text) == sorted(["before", "during-a", "during-b", "after"])
    await a.close()
    await b.close()


async def test_dropped_messages_between_processes_are_healed_by_anti_entropy(
    team, redis_url, start_processes
):
    servers = await asyncio.to_thread(
        start_processes, 2, redis_url, COLLAB_TEST_DROP_EVERY_NTH_UPDATE="3"
    )
    doc_id, token = team["document"], team["owner"]
    a, b = await synced_clients(servers, doc_id, token)
    typed = []
    for n in range(12):
        a.text += f"x{n};"
        typed.append(f"x{n}")
        await asyncio.sleep(0.02)  # a pace: one update per message, so that some are dropped
    text = await converge([a, b], timeout=15)
    assert tokens_of(text) == sorted(typed)
    await a.close()
    await b.close()


async def test_presence_crosses_processes_and_leaves_with_its_client(
    team, redis_url, start_processes
):
    servers = await asyncio.to_thread(start_processes, 2, redis_url)
    doc_id, token = team["document"], team["owner"]
    a, b = await synced_clients(servers, doc_id, token)
    await a.set_awareness({"user": {"name": "alice", "color": "#f00"}})
    await b.wait_for(
        lambda: b.awareness.get(a.doc.client_id) == {"user": {"name": "alice", "color": "#f00"}}
    )
    await a.close()
    await b.wait_for(lambda: b.awareness.get(a.doc.client_id, "gone") is None)
    await b.close()


async def test_removing_a_member_closes_their_socket_on_another_process_within_2s(
    team, redis_url, start_processes
):
    servers = await asyncio.to_thread(start_processes, 2, redis_url)
    doc_id = team["document"]
    member = await synced_client(servers[1], doc_id, team["member"])
    response = await asyncio.to_thread(
        requests.delete,
        f"{servers[0].http}/api/documents/{doc_id}/members/member/",
        headers={"Authorization": f"Bearer {team['owner']}"},
        timeout=10,
    )
    assert response.status_code == 204
    assert await member.wait_closed(timeout=2) == 4403
