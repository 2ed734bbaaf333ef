"""The daphne adapter's internals are all there (documents/server/adapters/daphne.py).

daphne, autobahn and Twisted are pinned in the lock files; an upgrade that renames or removes
one of these attributes fails here, naming it, instead of silently turning a guard off."""

from __future__ import annotations

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet.abstract import FileDescriptor
from twisted.internet.testing import StringTransport

from documents.server.adapters import daphne as adapter


@pytest.mark.parametrize(
    ("owner", "name"), adapter.INTERNALS, ids=[f"{o.__name__}.{n}" for o, n in adapter.INTERNALS]
)
def test_the_adapter_finds_what_it_touches(owner, name):
    assert hasattr(owner, name), f"{owner.__name__}.{name} is gone: update the daphne adapter"


def connected_protocol() -> WebSocketProtocol:
    protocol = WebSocketProtocol()
    protocol.factory = WebSocketServerFactory()
    protocol.makeConnection(StringTransport())
    return protocol


@pytest.mark.parametrize(
    ("owner", "name"),
    adapter.INSTANCE_INTERNALS,
    ids=[f"{o.__name__}.{n}" for o, n in adapter.INSTANCE_INTERNALS],
)
def test_connected_instances_carry_what_the_adapter_reads(owner, name):
    instance = connected_protocol() if owner is WebSocketProtocol else FileDescriptor()
    assert hasattr(instance, name), f"{owner.__name__}().{name} is gone: update the adapter"


def test_the_slow_reader_measure_reads_twisteds_write_buffer():
    protocol = connected_protocol()
    descriptor = FileDescriptor()
    descriptor.dataBuffer, descriptor.offset, descriptor._tempDataLen = b"x" * 100, 40, 7
    protocol.transport = descriptor
    assert adapter.buffered_bytes(protocol) == 100 - 40 + 7


def test_autobahn_formats_its_configuration_only_when_debugging(settings):
    import autobahn.websocket.protocol as autobahn_protocol

    adapter.install()
    assert autobahn_protocol.pformat({"a": 1}) == ""


class RecordingReactor:
    """Just what a Twisted TCP connection asks of its reactor, and a record of the writers."""

    def __init__(self) -> None:
        self.writers: list = []

    def addWriter(self, writer) -> None:
        if writer not in self.writers:  # a reactor registers a writer once
            self.writers.append(writer)

    def removeWriter(self, writer) -> None:
        if writer in self.writers:
            self.writers.remove(writer)

    def addReader(self, reader) -> None:
        pass

    def removeReader(self, reader) -> None:
        pass


@pytest.fixture
def plain_tcp_connection():
    """A Twisted TCP connection on one end of a socket pair, and the other end."""
    import socket

    from twisted.internet import tcp

    ours, peer = socket.socketpair()
    reactor = RecordingReactor()
    connection = tcp.Connection(ours, protocol=None, reactor=reactor)
    connection.connected = 1
    yield connection, peer, reactor
    ours.close()
    peer.close()


def test_a_frame_goes_to_the_socket_at_once_when_nothing_waits_before_it(plain_tcp_connection):
    connection, peer, reactor = plain_tcp_connection
    adapter.write_now(connection, b"frame one")
    adapter.write_now(connection, b"frame two")
    assert reactor.writers == []  # never registered with the event loop for writing
    assert peer.recv(100) == b"frame oneframe two"


def test_what_the_socket_does_not_take_is_buffered_by_twisted_in_order(plain_tcp_connection):
    connection, peer, reactor = plain_tcp_connection
    big = bytes(range(256)) * 40_000  # 10 MB: more than the socket buffers take
    adapter.write_now(connection, big)
    adapter.write_now(connection, b"after")  # must queue behind the rest, not overtake it
    assert reactor.writers == [connection]
    waiting = len(connection.dataBuffer) - connection.offset + connection._tempDataLen
    assert 0 < waiting < len(big) + len(b"after")
    received = bytearray()
    peer.setblocking(False)
    while len(received) < len(big) + len(b"after"):
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            connection.doWrite()  # what the reactor does when the socket is writable again
            continue
        received += chunk
    assert bytes(received) == big + b"after"


def test_a_socket_read_reaches_the_reactor_without_twisteds_log_context():
    import asyncio
    import socket

    from twisted.internet.asyncioreactor import AsyncioSelectorReactor
    from twisted.python import log

    adapter.install()
    loop = asyncio.new_event_loop()
    ours, peer = socket.socketpair()
    try:
        reactor = AsyncioSelectorReactor(loop)

        class Reader:
            reads = 0

            def fileno(self):
                return ours.fileno()

            def logPrefix(self):
                return "test"

            def doRead(self):
                Reader.reads += 1
                ours.recv(100)
                loop.stop()

        reader = Reader()
        reactor.addReader(reader)
        handle = loop._selector.get_key(ours.fileno()).data[0]
        assert handle._callback is not log.callWithLogger
        peer.send(b"x")
        loop.run_forever()
        assert Reader.reads == 1
        reactor.removeReader(reader)
    finally:
        loop.close()
        ours.close()
        peer.close()
