"""`POST /api/documents/<id>/updates` on a real server: the same limits as a socket's updates.

A body over COLLAB_MAX_MESSAGE_BYTES is refused with 413 before it is read (the client that
announces a gigabyte and sends nothing still gets its answer); an update the write-behind buffer
has no room for is a 503 with Retry-After; one that would grow the document past its limit a 413.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import requests
from pycrdt import Doc, Text

from documents.models import ApiToken, Document
from tests.support.server import start_server
from tests.support.yclient import YClient


@pytest.fixture
def owned(transactional_db, make_user):
    owner = make_user("owner")
    document = Document.objects.create(title="limits", owner=owner)
    return str(document.id), ApiToken.issue(owner)[1]


@pytest.fixture
def server_with():
    started = []

    def start(**env):
        started.append(start_server(**env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def typed(text: str) -> bytes:
    doc = Doc()
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


def post_update(server, document_id, token, update):
    return requests.post(
        f"{server.http}/api/documents/{document_id}/updates",
        data=update,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
        timeout=10,
    )


def test_a_body_announced_over_the_limit_is_refused_413_before_it_is_sent(owned, server_with):
    document_id, token = owned
    server = server_with(COLLAB_MAX_MESSAGE_BYTES="65536")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/documents/{document_id}/updates HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Length: {1024**3}\r\n\r\n"
            ).encode()
        )  # ...and not one byte of the gigabyte
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/json" in head
    assert "65536" in json.loads(body)["detail"]
    # The server is fine, and an update within the limit still goes through.
    assert post_update(server, document_id, token, typed("small")).status_code == 204


def test_a_chunked_body_is_refused_413_once_it_passes_the_limit(owned, server_with):
    document_id, token = owned
    server = server_with(COLLAB_MAX_MESSAGE_BYTES="65536")
    chunk = b"\x00" * 70_000
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/documents/{document_id}/updates HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
            + f"{len(chunk):x}\r\n".encode()
            + chunk
            + b"\r\n"
        )  # no last chunk: the server must answer without waiting for the end
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 413")


async def editing(server, document_id, token) -> YClient:
    """A connected editor: the process now serves the document's room (and its buffer)."""
    client = await YClient(f"{server.ws}/ws/documents/{document_id}?token={token}").connect()
    await client.wait_synced()
    return client


async def test_an_update_the_buffer_has_no_room_for_is_a_503_with_retry_after(owned, server_with):
    document_id, token = owned
    server = server_with(COLLAB_PENDING_BYTES_LIMIT="64")
    client = await editing(server, document_id, token)
    response = await asyncio.to_thread(post_update, server, document_id, token, typed("x" * 200))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "try again" in response.json()["detail"]
    assert str(client.text) == ""
    await client.close()


async def test_an_update_that_would_grow_the_document_past_its_limit_is_a_413(owned, server_with):
    document_id, token = owned
    server = server_with(COLLAB_MAX_DOCUMENT_BYTES="256")
    client = await editing(server, document_id, token)
    fits = await asyncio.to_thread(post_update, server, document_id, token, typed("fits"))
    assert fits.status_code == 204
    response = await asyncio.to_thread(post_update, server, document_id, token, typed("y" * 400))
    assert response.status_code == 413
    assert "256" in response.json()["detail"]
    await client.wait_for(lambda: str(client.text) == "fits")
    await client.close()


def test_an_undecodable_update_is_a_400_and_changes_nothing(owned, server_with):
    document_id, token = owned
    server = server_with()
    response = post_update(server, document_id, token, b"\x01\xff\xff\xff")
    assert response.status_code == 400
    assert "undecodable" in response.json()["detail"]
