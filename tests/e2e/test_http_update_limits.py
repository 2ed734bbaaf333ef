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

from tests.support.api import post_update, typed
from tests.support.yclient import synced_client


def post_by_hand(server, document_id: str, token: str, framing: str, body: bytes = b"") -> bytes:
    """POST an update with the body `framing` header given (Content-Length or chunked) and only
    `body` of it sent; the server's whole answer (it closes the connection)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST /api/documents/{document_id}/updates HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"{framing}\r\n\r\n"
            ).encode()
            + body
        )
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response


@pytest.mark.parametrize("way", ["serve", "serve --server uvicorn"])  # each refuses its own way
def test_a_body_announced_over_the_limit_is_refused_413_before_it_is_sent(
    way, owned_document, servers
):
    document_id, token = owned_document
    server = servers.start(way=way, COLLAB_MAX_MESSAGE_BYTES="65536")
    # a gigabyte announced, and not one byte of it sent
    response = post_by_hand(server, document_id, token, f"Content-Length: {1024**3}")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/json" in head
    assert "65536" in json.loads(body)["detail"]
    # The server is fine, and an update within the limit still goes through.
    assert post_update(server, document_id, token, typed("small")).status_code == 204


@pytest.mark.parametrize("way", ["serve", "serve --server uvicorn"])  # each refuses its own way
def test_a_chunked_body_is_refused_413_once_it_passes_the_limit(way, owned_document, servers):
    document_id, token = owned_document
    server = servers.start(way=way, COLLAB_MAX_MESSAGE_BYTES="65536")
    chunk = b"\x00" * 70_000
    # no last chunk: the server must answer without waiting for the end
    response = post_by_hand(
        server,
        document_id,
        token,
        "Transfer-Encoding: chunked",
        f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n",
    )
    assert response.startswith(b"HTTP/1.1 413")


async def test_an_update_the_buffer_has_no_room_for_is_a_503_with_retry_after(
    owned_document, servers
):
    document_id, token = owned_document
    server = servers.start(COLLAB_PENDING_BYTES_LIMIT="64")
    client = await synced_client(server, document_id, token)  # the room and its buffer live
    response = await asyncio.to_thread(post_update, server, document_id, token, typed("x" * 200))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "try again" in response.json()["detail"]
    assert str(client.text) == ""
    await client.close()


async def test_an_update_that_would_grow_the_document_past_its_limit_is_a_413(
    owned_document, servers
):
    document_id, token = owned_document
    server = servers.start(COLLAB_MAX_DOCUMENT_BYTES="256")
    client = await synced_client(server, document_id, token)
    fits = await asyncio.to_thread(post_update, server, document_id, token, typed("fits"))
    assert fits.status_code == 204
    response = await asyncio.to_thread(post_update, server, document_id, token, typed("y" * 400))
    assert response.status_code == 413
    assert "256" in response.json()["detail"]
    await client.wait_for(lambda: str(client.text) == "fits")
    await client.close()


def test_an_undecodable_update_is_a_400_and_changes_nothing(owned_document, servers):
    document_id, token = owned_document
    server = servers.start()
    response = post_update(server, document_id, token, b"\x01\xff\xff\xff")
    assert response.status_code == 400
    assert "undecodable" in response.json()["detail"]
