"""Hostile and greedy clients: every limit answers with its close code and disturbs nobody else."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from documents.sync import protocol
from tests.support.server import UNDER_DAPHNE
from tests.support.waiting import eventually
from tests.support.yclient import YClient, document_url, synced_client
from tests.unit.fakes import typed_update
from tests.unit.test_protocol import SLOW_RANDOM_UPDATES, Y_CRDT_415, rich_document_update


def url(server, document_id, token):
    return document_url(server, document_id, token)


async def test_too_many_connections_from_one_address_get_4429(owned_document, servers):
    document_id, token = owned_document
    server = await asyncio.to_thread(servers.start, COLLAB_CONNECTIONS_PER_MINUTE="3")
    accepted = [await YClient(url(server, document_id, token)).connect() for _ in range(3)]
    for client in accepted:
        await client.wait_synced()
    refused = await YClient(url(server, document_id, token)).connect()
    assert await refused.wait_closed() == 4429
    assert refused.frames == []  # refused before any document data
    for client in accepted:
        assert client.close_code is None
        await client.close()


async def test_an_update_that_would_make_the_document_too_large_gets_4413(owned_document, servers):
    document_id, token = owned_document
    server = await asyncio.to_thread(servers.start, COLLAB_MAX_DOCUMENT_BYTES="20000")
    greedy = await YClient(url(server, document_id, token)).connect()
    bystander = await YClient(url(server, document_id, token)).connect()
    await greedy.wait_synced()
    await bystander.wait_synced()
    greedy.text += "fits;"
    await bystander.wait_for(lambda: str(bystander.text) == "fits;")
    greedy.text += "x" * 30000
    assert await greedy.wait_closed() == 4413
    late = await synced_client(server, document_id, token)
    assert str(late.text) == "fits;"  # the oversized update was not applied
    late.text += "marker;"  # relayed after anything the bystander could have been sent before
    await bystander.wait_for(lambda: "marker;" in str(bystander.text))
    assert str(bystander.text) == "fits;marker;" and bystander.close_code is None
    await bystander.close()
    await late.close()


def raw_websocket(port: int, path: str) -> socket.socket:
    """A client that completes the handshake and then never reads."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


@pytest.mark.parametrize("way", ["serve", "serve --server uvicorn"])
async def test_a_client_that_stops_reading_is_dropped_and_others_go_on(
    way, owned_document, servers
):
    """Under daphne (the default) the stalled socket is dropped at once; under uvicorn the room
    stops sending to it and uvicorn's ping timeout ends it later (docs/self-hosting.md)."""
    document_id, token = owned_document
    server = await asyncio.to_thread(
        servers.start, way=way, COLLAB_SEND_BUFFER_LIMIT=str(1024 * 1024)
    )
    stalled = raw_websocket(server.port, f"/ws/documents/{document_id}?token={token}")
    writer = await YClient(url(server, document_id, token)).connect()
    reader = await YClient(url(server, document_id, token)).connect()
    await writer.wait_synced()
    await reader.wait_synced()
    for n in range(40):  # ~20 MB towards the stalled socket, far past its buffers
        writer.text += f"{n:03d}" + "y" * (512 * 1024)
        await asyncio.sleep(0.05)  # a pace: the stalled socket's buffers fill over time
    await reader.wait_for(lambda: len(str(reader.text)) == 40 * (512 * 1024 + 3), timeout=60)
    stalled.setblocking(False)

    def peer_gone() -> bool:
        try:
            while True:
                if stalled.recv(1 << 20) == b"":
                    return True
        except BlockingIOError:
            return False
        except ConnectionError:
            return True

    if way in UNDER_DAPHNE:  # daphne checks buffers every 2 s
        await eventually(lambda: asyncio.to_thread(peer_gone), timeout=30, interval=0.2)
    assert writer.close_code is None and reader.close_code is None
    stalled.close()
    await writer.close()
    await reader.close()


hostile_frames = st.one_of(
    st.binary(max_size=80),
    st.sampled_from([Y_CRDT_415, *SLOW_RANDOM_UPDATES]).map(protocol.encode_update),
    st.binary(min_size=1, max_size=40).map(lambda b: b"\x00\x02" + b),
    st.binary(max_size=40).map(lambda b: b"\x01" + b),
)


def rejected(frame: bytes) -> bool:
    try:
        protocol.parse_message(frame)
    except protocol.ProtocolError:
        return True
    return False


async def test_hostile_frames_close_only_their_sender_and_change_nothing(owned_document, servers):
    document_id, token = owned_document
    server = await asyncio.to_thread(servers.start, COLLAB_CONNECTIONS_PER_MINUTE="100000")
    honest = await synced_client(server, document_id, token, "&ack=1")
    honest.text += "precious;"
    await honest.wait_durable()  # the server has it before the attackers come
    frames = []

    @settings(max_examples=150, suppress_health_check=list(HealthCheck), database=None)
    @given(hostile_frames)
    def collect(frame):
        if rejected(frame):
            frames.append(frame)

    collect()
    mutated = bytearray(protocol.encode_update(rich_document_update()))
    for i in range(0, len(mutated), 7):
        candidate = bytearray(mutated)
        candidate[i] ^= 0xFF
        if rejected(bytes(candidate)):
            frames.append(bytes(candidate))
    frames.append(protocol.encode_update(Y_CRDT_415))
    for frame in frames:
        attacker = await YClient(url(server, document_id, token)).connect()
        await attacker.send_raw(frame)
        assert await attacker.wait_closed() == 4400
    late = await YClient(url(server, document_id, token)).connect()
    await late.wait_synced()
    assert str(late.text) == "precious;" == str(honest.text)
    assert honest.close_code is None
    honest.text += "still-served;"
    await late.wait_for(lambda: "still-served;" in str(late.text))
    await honest.close()
    await late.close()
    assert server.process.poll() is None  # the server is still up


async def test_valid_text_frames_are_refused_with_4400(owned_document, servers):
    document_id, token = owned_document
    server = await asyncio.to_thread(servers.start)
    client = await YClient(url(server, document_id, token)).connect()
    await client.wait_synced()
    await client.send_raw("not binary")
    assert await client.wait_closed() == 4400
    ok = await YClient(url(server, document_id, token)).connect()
    watcher = await YClient(url(server, document_id, token)).connect()
    await ok.wait_synced()
    await watcher.wait_synced()
    await ok.send_raw(protocol.encode_update(typed_update("fine", client_id=5)))
    await watcher.wait_for(lambda: str(watcher.text) == "fine")
    await ok.close()
    await watcher.close()
