"""SPEC.md's close codes and graceful stop hold however Collab is run: `manage.py serve` with
either server, plain `daphne collab.asgi:application`, plain `uvicorn collab.asgi:application`
(documents.server.adapters)."""

from __future__ import annotations

import asyncio
import re
import signal

import pytest
import requests
import websockets
from channels.db import database_sync_to_async
from pycrdt import Doc, Text

from documents.models import ApiToken, Document
from documents.storage import load_document_state
from documents.sync import protocol
from tests.support.server import UNDER_DAPHNE, WAYS_TO_RUN, start_server
from tests.support.waiting import eventually
from tests.support.yclient import YClient

pytestmark = pytest.mark.parametrize("way", list(WAYS_TO_RUN))


@pytest.fixture
def document(transactional_db, make_user):
    user = make_user("runner")
    return str(Document.objects.create(title="ways", owner=user).id), ApiToken.issue(user)[1]


@pytest.fixture
def serve(way):
    started = []

    async def start(**env):
        server = await asyncio.to_thread(start_server, way, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def url(server, document_id: str, token: str) -> str:
    return f"{server.ws}/ws/documents/{document_id}?token={token}"


def open_connections(server) -> float:
    metrics = requests.get(server.http + "/metrics", timeout=5).text
    return float(re.search(r"^collab_open_connections (\S+)$", metrics, re.M).group(1))


def stored_text(document_id: str) -> str:
    doc = Doc()
    doc.apply_update(load_document_state(document_id) or b"\x00\x00")
    return str(doc.get("text", type=Text))


async def test_sigterm_stores_what_was_accepted_then_closes_with_1001(way, serve, document):
    document_id, token = document
    server = await serve(COLLAB_FLUSH_INTERVAL_MS="5000")
    writer = await YClient(url(server, document_id, token)).connect()
    reader = await YClient(url(server, document_id, token)).connect()
    await writer.wait_synced()
    await reader.wait_synced()
    writer.text += "typed just before shutdown"
    await reader.wait_for(lambda: str(reader.text) == "typed just before shutdown")  # accepted
    exit_code = await asyncio.to_thread(server.stop)
    assert await writer.wait_closed() == 1001
    assert await reader.wait_closed() == 1001
    assert await database_sync_to_async(stored_text)(document_id) == "typed just before shutdown"
    # Plain uvicorn ends by raising the signal again once it has stopped (its own convention).
    assert exit_code == (-signal.SIGTERM if way == "uvicorn" else 0), server.log()


async def test_a_message_over_the_limit_gets_1009_and_a_malformed_one_4400(serve, document):
    document_id, token = document
    server = await serve(COLLAB_MAX_MESSAGE_BYTES=str(64 * 1024))
    async with websockets.connect(url(server, document_id, token), max_size=None) as socket:
        await socket.recv()  # sync step 1: the connection is open
        with pytest.raises(websockets.ConnectionClosed):
            # Still sending when the server closes: the close code must arrive all the same.
            for _ in range(20):
                await socket.send(protocol.encode_update(b"\x01" * (96 * 1024)))
            await socket.recv()
    assert socket.close_code == 1009, (socket.close_code, socket.close_reason)
    async with websockets.connect(url(server, document_id, token)) as socket:
        await socket.recv()
        await socket.send(b"\x00\x02\x05\xff")  # an update whose length passes its frame
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await socket.recv()
    assert socket.close_code == 4400


async def test_clients_that_vanish_at_once_leave_no_traceback_in_the_log(serve, document):
    document_id, token = document
    server = await serve()
    writer = await YClient(url(server, document_id, token)).connect()
    clients = [await YClient(url(server, document_id, token)).connect() for _ in range(30)]
    for client in (writer, *clients):
        await client.wait_synced()

    async def keep_typing():  # so that the server is sending to them as they disappear
        while True:
            writer.text += "x"
            await asyncio.sleep(0.002)  # the typing pace

    typing = asyncio.get_running_loop().create_task(keep_typing())
    for client in clients:
        await client.wait_for(lambda c=client: len(str(c.text)) > 0)
    for client in clients:
        client.ws.transport.abort()  # no closing handshake: the peer just disappears

    async def only_the_writer_left() -> bool:
        return await asyncio.to_thread(open_connections, server) == 1

    await eventually(only_the_writer_left, timeout=20, what="the server saw every client go")
    typing.cancel()
    await writer.close()
    await asyncio.to_thread(server.stop)
    log = server.log()
    assert not re.search(r"Traceback|never retrieved|Exception inside application", log), log


async def test_each_way_is_served_by_the_server_it_names(way, serve):
    """`manage.py serve` runs daphne unless told otherwise (SPEC.md); each server names itself
    in the `Server` header of its HTTP responses."""
    server = await serve()
    response = await asyncio.to_thread(requests.get, server.http + "/healthz", timeout=5)
    expected = "daphne" if way in UNDER_DAPHNE else "uvicorn"
    assert response.status_code == 200
    assert response.headers.get("Server", "").lower().startswith(expected)
