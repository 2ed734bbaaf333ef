"""Several real server processes on one Postgres and one Redis serve the same documents.

Each test starts its own processes with a private channel prefix, so tests never hear each
other on the shared Redis."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
import requests
from channels.db import database_sync_to_async
from pycrdt import Doc, Text

from documents.models import ApiToken, Document, Membership
from documents.storage import load_document_state
from tests.support.redis_server import RedisServer
from tests.support.server import start_server
from tests.support.yclient import YClient


@pytest.fixture
def team(transactional_db, make_user):
    owner = make_user("owner")
    member = make_user("member")
    document = Document.objects.create(title="shared", owner=owner)
    Membership.objects.create(document=document, user=member, role="editor")
    return {
        "document": str(document.id),
        "owner": ApiToken.issue(owner)[1],
        "member": ApiToken.issue(member)[1],
    }


def start_processes(count: int, redis_url: str, **env) -> list:
    prefix = "t" + uuid.uuid4().hex[:10]
    settings = {
        "REDIS_URL": redis_url,
        "COLLAB_CHANNEL_PREFIX": prefix,
        "COLLAB_ANTI_ENTROPY_SECONDS": "1",
        **env,
    }
    return [start_server(**settings) for _ in range(count)]


@pytest.fixture
def stop_all():
    started = []
    yield started
    for group in started:
        for server in group:
            server.stop()


def ws_url(server, document_id, token):
    return f"{server.ws}/ws/documents/{document_id}?token={token}"


async def synced_clients(servers, document_id, token) -> list[YClient]:
    """One client per server process, each synced."""
    clients = [await YClient(ws_url(server, document_id, token)).connect() for server in servers]
    for client in clients:
        await client.wait_synced()
    return clients


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
        await asyncio.sleep(rng.random() * 0.01)
    return typed


async def test_clients_on_three_processes_converge_and_storage_equals_them(
    team, redis_url, stop_all
):
    servers = await asyncio.to_thread(start_processes, 3, redis_url)
    stop_all.append(servers)
    doc_id, token = team["document"], team["owner"]
    clients = [await YClient(ws_url(servers[i % 3], doc_id, token)).connect() for i in range(6)]
    for client in clients:
        await client.wait_synced()
    typed = await edit_randomly(clients, random.Random(1234), 120, "a")
    text = await converge(clients)
    assert tokens_of(text) == sorted(typed)
    fresh = await YClient(ws_url(servers[2], doc_id, token)).connect()
    await fresh.wait_synced()
    assert str(fresh.text) == text
    await asyncio.sleep(1.0)
    assert await database_sync_to_async(stored_text)(doc_id) == text
    for client in [*clients, fresh]:
        await client.close()


async def test_a_process_killed_mid_editing_loses_nothing_and_doubles_nothing(
    team, redis_url, stop_all
):
    servers = await asyncio.to_thread(start_processes, 2, redis_url)
    stop_all.append(servers)
    doc_id, token = team["document"], team["owner"]
    doomed_clients = [await YClient(ws_url(servers[0], doc_id, token)).connect() for _ in range(2)]
    survivor = await YClient(ws_url(servers[1], doc_id, token)).connect()
    clients = [*doomed_clients, survivor]
    for client in clients:
        await client.wait_synced()
    rng = random.Random(99)
    typed = await edit_randomly(clients, rng, 40, "b")
    servers[0].kill()  # SIGKILL: no flush, no goodbye
    for client in doomed_clients:
        await client.wait_closed()
    typed += await edit_randomly(doomed_clients, rng, 10, "offline")  # typed while offline
    reconnected = [
        await YClient(ws_url(servers[1], doc_id, token), doc=client.doc).connect()
        for client in doomed_clients
    ]
    everyone = [*reconnected, survivor]
    text = await converge(everyone)
    missing = [sorted(set(typed) - set(tokens_of(str(c.text)))) for c in everyone]
    assert missing == [[], [], []]
    assert tokens_of(text) == sorted(typed)
    await asyncio.sleep(6.5)  # past the hold time: the survivor stores what the dead never did
    assert tokens_of(await database_sync_to_async(stored_text)(doc_id)) == sorted(typed)
    for client in everyone:
        await client.close()


async def test_edits_during_and_after_a_redis_restart_converge(team, stop_all):
    redis_server = RedisServer().start()
    try:
        servers = await asyncio.to_thread(start_processes, 2, redis_server.url)
        stop_all.append(servers)
        doc_id, token = team["document"], team["owner"]
        a, b = await synced_clients(servers, doc_id, token)
        a.text += "before;"
        await b.wait_for(lambda: "before;" in str(b.text))
        redis_server.stop()
        a.text += "during-a;"
        b.text += "during-b;"
        await asyncio.sleep(1.0)
        redis_server.start()
        a.text += "after;"
        text = await converge([a, b], timeout=30)
        assert tokens_of(text) == sorted(["before", "during-a", "during-b", "after"])
        await a.close()
        await b.close()
    finally:
        redis_server.stop()


async def test_dropped_messages_between_processes_are_healed_by_anti_entropy(
    team, redis_url, stop_all
):
    servers = await asyncio.to_thread(
        start_processes, 2, redis_url, COLLAB_TEST_DROP_EVERY_NTH_UPDATE="3"
    )
    stop_all.append(servers)
    doc_id, token = team["document"], team["owner"]
    a, b = await synced_clients(servers, doc_id, token)
    typed = []
    for n in range(12):
        a.text += f"x{n};"
        typed.append(f"x{n}")
        await asyncio.sleep(0.02)
    text = await converge([a, b], timeout=15)
    assert tokens_of(text) == sorted(typed)
    await a.close()
    await b.close()


async def test_presence_crosses_processes_and_leaves_with_its_client(team, redis_url, stop_all):
    servers = await asyncio.to_thread(start_processes, 2, redis_url)
    stop_all.append(servers)
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
    team, redis_url, stop_all
):
    servers = await asyncio.to_thread(start_processes, 2, redis_url)
    stop_all.append(servers)
    doc_id = team["document"]
    member = await YClient(ws_url(servers[1], doc_id, team["member"])).connect()
    await member.wait_synced()
    response = await asyncio.to_thread(
        requests.delete,
        f"{servers[0].http}/api/documents/{doc_id}/members/member/",
        headers={"Authorization": f"Bearer {team['owner']}"},
        timeout=10,
    )
    assert response.status_code == 204
    assert await member.wait_closed(timeout=2) == 4403
