"""The daphne adapter's internals are all there (documents/server/adapters/daphne.py).

daphne, autobahn and Twisted are pinned in the lock files; an upgrade that renames or removes
one of these attributes fails here, naming it, instead of silently turning a guard off."""

from __future__ import annotations

import contextlib
import gc
import itertools
import struct
import weakref

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory
from daphne.ws_protocol import WebSocketProtocol
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def client_frame(opcode: int, payload: bytes, mask: bytes, *, fin: bool = True) -> bytes:
    """A client-to-server frame as RFC 6455 writes it (masked, shortest length encoding)."""
    head = bytes(((0x80 if fin else 0) | opcode,))
    if len(payload) < 126:
        head += bytes((0x80 | len(payload),))
    elif len(payload) < 1 << 16:
        head += struct.pack("!BH", 0x80 | 126, len(payload))
    else:
        head += struct.pack("!BQ", 0x80 | 127, len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class ClosableTransport(StringTransport):
    """A StringTransport autobahn can also drop (it unregisters a producer it never set), and
    that reports an abort at once: the protocol is CLOSED before the rest of a read is seen."""

    protocol = None

    def unregisterProducer(self) -> None:
        self.producer = None

    def abortConnection(self) -> None:
        from twisted.internet.error import ConnectionAborted
        from twisted.python.failure import Failure

        super().loseConnection()
        self.protocol.connectionLost(Failure(ConnectionAborted()))


def open_protocol(limit: int) -> tuple[WebSocketProtocol, list]:
    """A connected protocol past its handshake whose messages are recorded, not queued."""
    protocol = WebSocketProtocol()
    protocol.factory = WebSocketServerFactory()
    transport = ClosableTransport()
    transport.protocol = protocol
    protocol.makeConnection(transport)
    protocol.onClose = lambda was_clean, code, reason: None  # daphne's needs its server
    protocol.state = WebSocketProtocol.STATE_OPEN
    protocol.inside_message, protocol.current_frame = False, None
    protocol.websocket_version = 13  # what the handshake negotiated
    protocol.maxMessagePayloadSize = protocol.maxFramePayloadSize = limit
    received: list = []

    def on_message(payload: bytes, binary: bool) -> None:
        received.append((payload, binary))
        if payload == CLOSE_ME:  # an application that closes while frames are still unread
            protocol.sendCloseFrame(code=4400, isReply=False)
        if payload == DROP_ME:  # or drops the connection
            protocol.dropConnection(abort=True)

    protocol.onMessage = on_message
    return protocol, received


CLOSE_ME = b"close me"
DROP_ME = b"drop me"


def frame_streams():
    masks = st.binary(min_size=4, max_size=4)
    payloads = st.one_of(
        st.binary(max_size=300),
        st.sampled_from([125, 126, 127, 65_535, 65_536]).map(lambda n: b"\x07" * n),
    )
    frame = st.one_of(
        st.builds(lambda p, m: client_frame(0x2, p, m), payloads, masks),
        st.builds(lambda p, m: client_frame(0x1, p.hex().encode(), m), payloads, masks),
        st.builds(lambda p, m: client_frame(0x9, p[:125], m), payloads, masks),
        st.builds(  # a binary message in two fragments
            lambda p, m: client_frame(0x2, p[:3], m, fin=False) + client_frame(0x0, p[3:], m),
            payloads,
            masks,
        ),
        st.builds(lambda p: b"\x82" + bytes((len(p[:125]),)) + p[:125], payloads),  # unmasked
        st.just(b"\x82\xfe\x00\x05abcd" + b"12345"),  # length 5 in the 126 form
        st.builds(lambda m: client_frame(0x8, b"\x03\xe8", m), masks),  # close
        st.builds(lambda m: client_frame(0x2, CLOSE_ME, m), masks),
        st.builds(lambda m: client_frame(0x2, DROP_ME, m), masks),
    )
    return st.tuples(st.lists(frame, max_size=12), st.lists(st.integers(1, 200), max_size=8))


def chunks_of(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut * len(stream) // 200 for cut in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(frame_streams(), st.sampled_from([0, 100, 70_000]))
def test_the_inbound_fast_path_receives_exactly_what_autobahn_receives(stream_and_cuts, limit):
    """The same bytes, cut the same ways, give the same messages, the same replies (pongs,
    closes) and the same final state with the adapter's frame reader as with autobahn's."""
    frames, cuts = stream_and_cuts
    fast, fast_received = open_protocol(limit)
    reference, reference_received = open_protocol(limit)
    for piece in chunks_of(b"".join(frames), cuts):
        adapter._data_received(fast, piece)
        reference._dataReceived(piece)  # autobahn's own frame reader
    assert fast_received == reference_received
    assert fast.transport.value() == reference.transport.value()
    assert (fast.state, fast.data, fast.inside_message) == (
        reference.state,
        reference.data,
        reference.inside_message,
    )
    assert fast.transport.disconnecting == reference.transport.disconnecting


def test_a_read_of_several_binary_frames_is_taken_without_autobahns_frame_reader(monkeypatch):
    protocol, received = open_protocol(1 << 20)
    monkeypatch.setattr(protocol, "_dataReceived", lambda data: pytest.fail("went to autobahn"))
    frames = [bytes([n % 251]) * n for n in (0, 1, 125, 126, 300, 65_535)]
    stream = b"".join(client_frame(0x2, frame, b"\x9a\x01\xff\x33") for frame in frames)
    adapter._data_received(protocol, stream)
    assert received == [(f, True) for f in frames]


class StubDaphneServer:
    """What daphne's HTTP and WebSocket protocols ask of their `Server` for one connection."""

    root_path = ""
    proxy_forwarded_address_header = None
    proxy_forwarded_port_header = None
    proxy_forwarded_proto_header = None
    server_name = "Daphne"
    websocket_timeout = 86400
    websocket_connect_timeout = 30
    action_logger = None

    def __init__(self) -> None:
        import daphne.server

        adapter.install()
        self.http_factory = daphne.server.HTTPFactory(self)
        self.ws_factory = daphne.server.WebSocketFactory(self, server=self.server_name)
        self.connections: dict = {}

    def protocol_connected(self, protocol) -> None:
        self.connections[protocol] = {}

    def protocol_disconnected(self, protocol) -> None:
        self.connections.pop(protocol, None)

    def create_application(self, protocol, scope):
        import asyncio

        return asyncio.Queue()

    def log_action(self, *args) -> None:
        pass


@contextlib.contextmanager
def collector_off():
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_a_closed_websocket_connection_is_freed_without_the_garbage_collector():
    """Every object of a connection goes when it closes, by reference counting: left in
    reference cycles, the HTTP request it began as (request <-> channel) and the WebSocket
    protocol (protocol <-> autobahn's `is_closed`) waited for a full collection, 13 KiB a
    connection, and made the process grow with every document served."""
    from twisted.internet.address import IPv4Address
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    server = StubDaphneServer()
    peer = IPv4Address("TCP", "127.0.0.1", 40000)
    transport = StringTransport(peerAddress=peer)
    with collector_off():
        http = server.http_factory.buildProtocol(peer)
        http.makeConnection(transport)
        channel = weakref.ref(http._channel)
        http.dataReceived(
            b"GET /ws/documents/x HTTP/1.1\r\nHost: collab\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        request = weakref.ref(channel().requests[0])
        websocket = transport.protocol
        websocket.serverAccept()  # what daphne does on the application's websocket.accept
        assert transport.value().startswith(b"HTTP/1.1 101 ")
        protocol = weakref.ref(websocket)
        del http, websocket
        # The connection ends: Twisted tells the protocol and forgets the producer.
        transport.protocol.connectionLost(Failure(ConnectionDone()))
        transport.protocol = None
        transport.unregisterProducer()
        assert request() is None, "the upgraded HTTP request outlived its connection"
        assert channel() is None, "the HTTP channel outlived its connection"
        assert protocol() is None, "the WebSocket protocol outlived its connection"
