"""SocketClient: frames reach the server in order, at once when it does not wait, behind a
bounded backlog when it does (documents/server/socket_client.py)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from documents.models import Role
from documents.server.socket_client import SocketClient
from documents.sync.closecodes import CloseCode
from tests.support.waiting import eventually


class PeerServer:
    """An ASGI `send` like a server's: writes at once unless the peer has stopped reading."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closes: list[int] = []
        self.reading = asyncio.Event()
        self.reading.set()
        self.gone = False

    async def send(self, message: dict) -> None:
        if self.gone:
            raise ConnectionResetError("peer went away")
        if message["type"] == "websocket.close":
            self.closes.append(message["code"])
            return
        await self.reading.wait()  # as uvicorn does when the transport's buffer is full
        self.written.append(message["bytes"])


def client_of(server: PeerServer, **limits) -> SocketClient:
    client = SocketClient(
        send=server.send,
        scope={"user": SimpleNamespace(pk=1)},
        address="127.0.0.1",
        role=Role.EDITOR,
        wants_ack=False,
    )
    client._limit = limits.get("frames", client._limit)
    client._byte_limit = limits.get("bytes", client._byte_limit)
    return client


async def test_a_frame_is_written_before_send_returns_when_the_server_does_not_wait():
    server = PeerServer()
    client = client_of(server)
    client.send(b"one")
    client.send(b"two")
    assert server.written == [b"one", b"two"]  # no task switch needed
    assert server.closes == []


async def test_frames_sent_while_the_peer_stalls_follow_in_order_once_it_reads_again():
    server = PeerServer()
    client = client_of(server)
    server.reading.clear()
    for n in range(5):
        client.send(b"frame %d" % n)
    assert server.written == []
    server.reading.set()
    await asyncio.wait_for(client.flushed(), timeout=5)
    assert server.written == [b"frame %d" % n for n in range(5)]
    client.send(b"after")  # the backlog is empty again: straight through
    assert server.written[-1] == b"after"


async def test_a_stalled_peer_is_closed_with_4408_past_the_bound_and_its_backlog_dropped():
    server = PeerServer()
    client = client_of(server, frames=3)
    server.reading.clear()
    for n in range(10):
        client.send(b"frame %d" % n)
    assert client.closing
    await eventually(lambda: server.closes == [CloseCode.TOO_SLOW], what="4408")
    await asyncio.wait_for(client.flushed(), timeout=5)  # the waiting send was given up
    server.reading.set()
    client.send(b"late")
    assert server.written == []


@pytest.mark.parametrize("stalled_first", [False, True])
async def test_a_peer_that_went_away_stops_the_sending_without_an_error(stalled_first):
    server = PeerServer()
    client = client_of(server)
    if stalled_first:
        server.reading.clear()
        client.send(b"waits")
        server.gone = True
        client.send(b"queued")
        server.reading.set()
        await asyncio.wait_for(client.flushed(), timeout=5)
    else:
        server.gone = True
        client.send(b"lost")
    assert client.closing
    client.send(b"more")  # dropped quietly: the server's disconnect cleans up
    assert server.closes == []
