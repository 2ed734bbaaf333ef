"""Operations endpoints: /healthz, /readyz (database and Redis), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio

import pytest
import requests
import websockets
from channels.db import database_sync_to_async
from django.test import Client

from documents.storage import append_updates
from tests.support.api import metric
from tests.support.waiting import eventually_sync
from tests.support.yclient import YClient
from tests.unit.fakes import typed_update


def test_healthz_says_the_process_is_alive(db):
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers(db):
    response = Client().get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def wait_status(url: str, status: int) -> requests.Response:
    answers = []  # (a Response is falsy when it is an error: eventually_sync cannot return it)

    def answered() -> bool:
        answers.append(requests.get(url, timeout=10))
        return answers[-1].status_code == status

    eventually_sync(answered, timeout=30, interval=0.1, what=f"{url} answers {status}")
    return answers[-1]


def test_readyz_turns_503_while_redis_is_unreachable_and_back(servers, private_redis):
    server = servers.start(REDIS_URL=private_redis.url)  # its port is closed until started
    down = wait_status(f"{server.http}/readyz", 503)
    assert "redis unreachable" in down.json()["detail"]
    assert requests.get(f"{server.http}/healthz", timeout=10).status_code == 200
    private_redis.start()
    assert wait_status(f"{server.http}/readyz", 200).json() == {"status": "ready"}
    private_redis.stop()
    wait_status(f"{server.http}/readyz", 503)


async def test_metrics_count_connections_updates_relays_and_refusals(
    live_server_process, owned_document
):
    document_id, token = owned_document
    server = live_server_process
    url = f"{server.ws}/ws/documents/{document_id}"
    alice = await YClient(f"{url}?token={token}&ack=1").connect()
    bob = await YClient(f"{url}?token={token}").connect()
    await alice.wait_synced()
    await bob.wait_synced()
    alice.text += "measured"
    await bob.wait_for(lambda: str(bob.text) == "measured")
    async with websockets.connect(url) as stranger:  # no credentials: refused with 4401
        with pytest.raises(websockets.ConnectionClosed):
            await stranger.recv()
    assert stranger.close_code == 4401
    await alice.wait_durable()  # committed: the flush is counted

    response = await asyncio.to_thread(requests.get, f"{server.http}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert metric(text, "collab_open_connections") == 2
    assert metric(text, "collab_open_rooms") == 1
    assert metric(text, "collab_updates_received_total") >= 1
    assert metric(text, "collab_received_bytes_total") > 0
    assert metric(text, "collab_updates_relayed_total") >= 1
    assert metric(text, "collab_relayed_bytes_total") > 0
    assert metric(text, 'collab_connections_refused_total{code="4401"}') == 1
    assert metric(text, "collab_flush_seconds_count") >= 1
    assert metric(text, "collab_fan_out_seconds_count") >= 1
    for client in (alice, bob):
        await client.close()


async def test_metrics_show_a_stored_edit_that_waits_for_an_edit_it_depends_on(
    live_server_process, owned_document
):
    document_id, token = owned_document
    first = typed_update("ab", client_id=1)
    await database_sync_to_async(append_updates)(
        {document_id: [typed_update("c", client_id=2, base=first)]}
    )
    url = f"{live_server_process.ws}/ws/documents/{document_id}?token={token}"
    client = await YClient(url).connect()
    await client.wait_synced()  # the server loaded the document, and found the edit waiting

    response = await asyncio.to_thread(
        requests.get, f"{live_server_process.http}/metrics", timeout=10
    )
    assert metric(response.text, "collab_storage_waiting_updates") == 1
    await client.close()
