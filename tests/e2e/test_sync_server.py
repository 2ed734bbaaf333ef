"""The sync server end to end: a real `manage.py serve` process, real sockets, real clients
(pycrdt, and y-websocket's own WebsocketProvider in Node)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async
from pycrdt import Doc, Text

from documents.models import ApiToken, Document
from documents.storage import load_document_state
from documents.sync import protocol
from tests.support.yclient import YClient
from tests.unit.fakes import typed_update

NODE_CLIENT = Path(__file__).parent / "yjs-client"


@pytest.fixture
def shared_document(transactional_db, make_user):
    user = make_user("writer")
    document = Document.objects.create(title="e2e", owner=user)
    return str(document.id), ApiToken.issue(user)[1]


def url(server, document_id, token, extra=""):
    return f"{server.ws}/ws/documents/{document_id}?token={token}{extra}"


def stored_text(document_id: str) -> str:
    doc = Doc()
    state = load_document_state(document_id)
    if state:
        doc.apply_update(state)
    return str(doc.get("text", type=Text))


async def test_two_clients_co_edit_and_a_late_joiner_gets_everything(
    live_server_process, shared_document
):
    document_id, token = shared_document
    alice = await YClient(url(live_server_process, document_id, token)).connect()
    bob = await YClient(url(live_server_process, document_id, token)).connect()
    await alice.wait_synced()
    await bob.wait_synced()
    alice.text += "Hello "
    bob.text += "world"
    await alice.wait_for(lambda: len(str(alice.text)) == len(str(bob.text)) == 11)
    assert str(alice.text) == str(bob.text)
    late = await YClient(url(live_server_process, document_id, token)).connect()
    await late.wait_synced()
    assert str(late.text) == str(alice.text)
    # None asked for acknowledgements (?ack=1): none gets message type 100.
    assert not any(frame[0] == protocol.MESSAGE_ACK for c in (alice, bob) for frame in c.frames)
    for client in (alice, bob, late):
        await client.close()


async def test_content_survives_a_restart(servers, shared_document):
    document_id, token = shared_document
    server = await asyncio.to_thread(servers.start)
    writer = await YClient(url(server, document_id, token, "&ack=1")).connect()
    await writer.wait_synced()
    writer.text += "kept across restarts"
    await writer.wait_durable()
    await writer.close()
    await asyncio.to_thread(server.stop)
    server = await asyncio.to_thread(servers.start)
    reader = await YClient(url(server, document_id, token)).connect()
    await reader.wait_synced()
    assert str(reader.text) == "kept across restarts"
    await reader.close()


async def test_sigterm_stores_the_last_edit_then_closes_with_1001(servers, shared_document):
    document_id, token = shared_document
    server = await asyncio.to_thread(servers.start, held_store=True)
    client = await YClient(url(server, document_id, token)).connect()
    watcher = await YClient(url(server, document_id, token)).connect()
    await client.wait_synced()
    await watcher.wait_synced()
    client.text += "typed just before shutdown"
    await watcher.wait_for(lambda: str(watcher.text) == "typed just before shutdown")
    assert await database_sync_to_async(stored_text)(document_id) == ""  # accepted, not stored
    server.process.send_signal(signal.SIGTERM)
    server.release_store()  # the held commit goes on; the shutdown must wait for it
    assert await client.wait_closed() == 1001
    await asyncio.to_thread(server.process.wait, 30)
    assert await database_sync_to_async(stored_text)(document_id) == "typed just before shutdown"
    await watcher.close()


async def test_a_4_mib_update_passes_and_an_oversized_message_gets_1009(servers, shared_document):
    document_id, token = shared_document
    server = await asyncio.to_thread(servers.start, COLLAB_MAX_MESSAGE_BYTES=str(6 * 1024 * 1024))
    big = await YClient(url(server, document_id, token)).connect()
    await big.wait_synced()
    big.text += "x" * (4 * 1024 * 1024)
    reader = await YClient(url(server, document_id, token)).connect()
    await reader.wait_for(lambda: len(str(reader.text)) == 4 * 1024 * 1024, timeout=30)
    update = typed_update("y" * (7 * 1024 * 1024), client_id=77)
    with contextlib.suppress(websockets.ConnectionClosed):
        await big.send_raw(protocol.encode_update(update))
    assert await big.wait_closed() == 1009
    assert big.close_code == 1009 and reader.close_code is None
    await reader.close()


def run_node_client(server, document_id, token, text, wait_for):
    result = subprocess.run(
        ["node", "edit.mjs", server.ws, document_id, token, text, ",".join(wait_for)],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["text"]


async def test_y_websocket_provider_and_pycrdt_converge(live_server_process, shared_document):
    assert (NODE_CLIENT / "node_modules" / "y-websocket").exists(), (
        "run `make install` (npm ci in tests/e2e/yjs-client)"
    )
    document_id, token = shared_document
    py = await YClient(url(live_server_process, document_id, token)).connect()
    await py.wait_synced()
    py.text += "from-python;"
    node_text = await asyncio.to_thread(
        run_node_client,
        live_server_process,
        document_id,
        token,
        "from-node;",
        ["from-python;", "from-node;"],
    )
    await py.wait_for(lambda: "from-node;" in str(py.text))
    assert str(py.text) == node_text
    await py.close()
