"""daphne (on autobahn and Twisted), adjusted to keep SPEC.md's promises, and made faster.

Two kinds of adjustment, kept apart in this file so that an upgrade can drop a speed-up without
touching a promise.

Promises: what SPEC.md needs and the ASGI interface alone cannot express.
- Close codes: autobahn lets an application close with 1000 or 3000-4999 only, but SPEC.md's
  table has 1001 (shutting down), 1011 and 1013: daphne's `serverClose` sends the close frame
  itself (`WebSocketProtocol.sendCloseFrame`, autobahn's public method below that check).
- 1009: autobahn fails a connection (a message over the size limit) by dropping TCP, so a
  client still sending never reads the code: the factory closes with a handshake instead
  (`failByDrop=False`), and its size limits are always COLLAB_MAX_MESSAGE_BYTES and its
  handshake timeout at least HANDSHAKE_TIMEOUT_SECONDS, however daphne was started.
- Request bodies: Twisted reads a whole body (spooled to disk) before daphne calls the
  application, so a body over COLLAB_MAX_MESSAGE_BYTES is refused with 413 as soon as its
  Content-Length (or, chunked, its running size) says so, without reading it.
- Slow readers: Twisted buffers everything written to a peer that stops reading, without
  bound. daphne's periodic `timeout_checker` also drops sockets whose unwritten output passed
  COLLAB_SEND_BUFFER_LIMIT (4408), read from Twisted's `FileDescriptor` write buffer.
- SIGTERM: daphne cancels every application at once. First stop the background work, commit
  every accepted update, then close each socket with 1001 (documents.server.graceful), then
  let daphne finish.

Speed only, each with what it saved (docs/benchmarks.md); removing one keeps every promise.
- Direct binary frames: a binary message on an open, uncompressed connection is one unmasked
  frame, written straight to the transport. autobahn's sendMessage -> sendFrame -> sendData
  cost tens of microseconds per frame (state checks, statistics, a debug log formatted even
  when off); daphne never uses autobahn's send queue, the only case where a direct write could
  overtake queued bytes.
- Sent at once: Twisted's `write` buffers every frame, registers the socket with the event loop
  for writing, and unregisters it once a later turn has written it: two `epoll_ctl` calls and
  a loop turn per frame, 12% of the server's CPU at 200 rooms. When nothing is buffered before
  it, a frame goes to the socket now, as asyncio's own transports do; what the socket does not
  take is buffered by Twisted as before.
- Inbound binary frames: autobahn parses every frame in Python through a dozen calls (header
  checks, a masker object from its native extension, frame and message callbacks, statistics,
  a debug log formatted even when off), 14% of the server's CPU at 200 rooms. A read that starts
  with complete, masked, final binary frames under the size limit, on an open, uncompressed
  connection with nothing buffered, has them unmasked here and handed to daphne's `onMessage`
  in order; anything else from that point on (a ping, a close, text, a fragment, a partial or
  oversized frame, a frame of 64 KiB or more) goes to autobahn as before, which keeps every
  check and close code. autobahn's traffic statistics (unused by daphne) do not count these.
- Reads without Twisted's log context: the asyncio reactor wraps every read event in
  `callWithLogger`, which builds a logging context (a prefix string and two dicts, four extra
  calls) for Twisted's legacy log, 6% of the server's CPU at 200 rooms. A socket's reads go
  straight to the reactor's `_readOrWrite`, which catches and logs a failed read itself.
- autobahn formats its whole configuration with `pformat` for a debug log on every
  connection, whether or not debug logging is on: only when it is, now.

Every attribute this module needs is named in INTERNALS; the versions are pinned in the lock
files, and tests/integration/test_server_internals.py fails naming any that has gone.
"""

from __future__ import annotations

import io
import json
import pprint
import struct

import autobahn.websocket.protocol as autobahn_protocol
import daphne.server
import txaio
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import defer, tcp
from twisted.internet.abstract import FileDescriptor
from twisted.internet.asyncioreactor import AsyncioSelectorReactor

LISTEN_BACKLOG = 2048  # Twisted's 50 overflowed in a reconnect storm (docs/benchmarks.md)
# A reconnect storm queues handshakes behind each other's authorization: daphne's 5 s reset a
# quarter of 1,500 clients, who then came back to the same queue. Slow beats refused.
HANDSHAKE_TIMEOUT_SECONDS = 30

# (owner, attribute) for every internal touched here, by the kind of adjustment that needs it,
# and the attributes that instances carry once connected (the test builds a connected protocol
# to see them).
PROMISE_INTERNALS = [
    (WebSocketProtocol, "serverClose"),
    (WebSocketProtocol, "sendCloseFrame"),
    (WebSocketProtocol, "dropConnection"),
    (WebSocketFactory, "setProtocolOptions"),
    (daphne.server, "WebSocketFactory"),
    (daphne.server, "HTTPFactory"),
    (Server, "timeout_checker"),
    (Server, "kill_all_applications"),
    (WebRequest, "gotLength"),
    (WebRequest, "handleContentChunk"),
    (WebRequest, "process"),
    (HTTPFactory, "buildProtocol"),
    (FileDescriptor, "dataBuffer"),
    (FileDescriptor, "offset"),
]
SPEED_INTERNALS = [
    (WebSocketProtocol, "serverSend"),
    (WebSocketProtocol, "STATE_OPEN"),
    (FileDescriptor, "connected"),
    (FileDescriptor, "disconnecting"),
    (FileDescriptor, "_writeDisconnected"),
    (tcp.Connection, "TLS"),
    (AsyncioSelectorReactor, "addReader"),
    (AsyncioSelectorReactor, "_readOrWrite"),
    (autobahn_protocol, "pformat"),
    (WebSocketProtocol, "dataReceived"),
    (WebSocketProtocol, "_dataReceived"),
    (WebSocketProtocol, "onMessage"),
    (WebSocketProtocol, "_cancelAutoPingTimeoutCall"),
]
INTERNALS = PROMISE_INTERNALS + SPEED_INTERNALS
INSTANCE_INTERNALS = [
    (FileDescriptor, "_tempDataLen"),  # the slow-reader bound, and sent at once
    # speed only: direct frames, sent at once, inbound frames
    (WebSocketProtocol, "state"),
    (WebSocketProtocol, "_perMessageCompress"),
    (WebSocketProtocol, "transport"),
    (WebSocketProtocol, "data"),
    (WebSocketProtocol, "autoPingTimeoutCall"),
    (WebSocketProtocol, "autoPingRestartOnAnyTraffic"),
    (WebSocketProtocol, "maxMessagePayloadSize"),
    (WebSocketProtocol, "logOctets"),
    (WebSocketProtocol, "logFrames"),
]


# -- Promises --------------------------------------------------------------------------------------
class Limits:
    """Collab's settings as this adapter applies them (set by `install`)."""

    max_message_bytes: int = 16 * 1024 * 1024
    send_buffer_bytes: int = 64 * 1024 * 1024


def _server_close(self, code=None):
    self.sendCloseFrame(code=1000 if code is None else int(code), isReply=False)


def _forget_result(_protocol) -> None:
    return None


class CollabWebSocketProtocol(WebSocketProtocol):
    """daphne's protocol, freed by reference counting once its connection is lost."""

    def connectionLost(self, reason):
        super().connectionLost(reason)
        # autobahn resolves `is_closed` with the protocol itself: the protocol holds the
        # Deferred, the Deferred its result, a cycle that kept each closed connection's
        # protocol, buffers, headers and application queue (9.5 KiB) until a full collection.
        # Nothing waits on it (daphne does not use it); a later callback would get None.
        self.is_closed.addCallback(_forget_result)


class CollabWebSocketFactory(WebSocketFactory):
    """Collab's limits whatever options daphne passes (its command line's defaults are 1 MiB
    messages and a 5 s handshake), and Collab's protocol."""

    protocol = CollabWebSocketProtocol

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setProtocolOptions(failByDrop=False)

    def setProtocolOptions(self, **options):
        if "maxMessagePayloadSize" in options or "maxFramePayloadSize" in options:
            options["maxMessagePayloadSize"] = Limits.max_message_bytes
            options["maxFramePayloadSize"] = Limits.max_message_bytes
        if "openHandshakeTimeout" in options:
            options["openHandshakeTimeout"] = max(
                options["openHandshakeTimeout"] or 0, HANDSHAKE_TIMEOUT_SECONDS
            )
        super().setProtocolOptions(**options)


class BoundedRequest(WebRequest):
    """An HTTP request whose body may not pass the limit: past it, 413 and close."""

    _refused = False
    _received = 0

    def gotLength(self, length):
        if length is not None and length > Limits.max_message_bytes:
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self._refused:
            return
        self._received += len(data)
        if self._received > Limits.max_message_bytes:
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self):
        if self._refused:
            return
        super().process()
        if self.transport is None and self.channel is not None:
            # daphne took the transport for a WebSocket protocol: this request and its HTTP
            # channel are done, yet hold each other (`channel.requests`, `request.channel`;
            # Twisted unlinks them when the channel's connection is lost, which now never
            # reaches the channel). Unlinked here, both are freed at once instead of at the
            # next full collection (3.8 KiB per connection).
            self.channel = None

    def _refuse(self) -> None:
        self._refused = True
        self.content = io.BytesIO()  # Twisted still expects a body file; nothing goes into it
        detail = f"the request body is larger than {Limits.max_message_bytes} bytes"
        body = json.dumps({"detail": detail}).encode()
        head = (
            "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.channel.transport.write(head.encode() + body)
        self.channel.loseConnection()  # stops reading: the rest of the body is never taken


class BoundedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BoundedRequest
        return protocol


def buffered_bytes(protocol: WebSocketProtocol) -> int:
    """Bytes Twisted holds for this connection because the peer is not reading them. Only
    plain TCP transports are measured (daphne behind a TLS-terminating proxy, as shipped)."""
    transport = protocol.transport
    if not isinstance(transport, FileDescriptor):
        return 0
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


_daphne_timeout_checker = Server.timeout_checker
_daphne_kill_all_applications = Server.kill_all_applications


def _timeout_checker(self):
    """daphne calls this every 2 s; also drop sockets whose unread output passed the limit."""
    for protocol in list(self.connections):
        if (
            isinstance(protocol, WebSocketProtocol)
            and buffered_bytes(protocol) > Limits.send_buffer_bytes
        ):
            protocol.sendCloseFrame(code=4408, isReply=False)
            protocol.dropConnection(abort=True)
    _daphne_timeout_checker(self)


def _kill_all_applications(self):
    import asyncio

    from documents.server.graceful import persist_and_close

    done = defer.Deferred.fromFuture(asyncio.ensure_future(persist_and_close()))
    done.addBoth(lambda _: _daphne_kill_all_applications(self))
    return done


def install_promises() -> None:
    from django.conf import settings

    Limits.max_message_bytes = settings.COLLAB_MAX_MESSAGE_BYTES
    Limits.send_buffer_bytes = settings.COLLAB_SEND_BUFFER_LIMIT
    WebSocketProtocol.serverClose = _server_close
    daphne.server.WebSocketFactory = CollabWebSocketFactory
    daphne.server.HTTPFactory = BoundedHTTPFactory
    Server.timeout_checker = _timeout_checker
    Server.kill_all_applications = _kill_all_applications


# -- Speed only ------------------------------------------------------------------------------------
def _frame_header(length: int) -> bytes:
    if length < 126:
        return bytes((0x82, length))
    if length < 1 << 16:
        return struct.pack("!BBH", 0x82, 126, length)
    return struct.pack("!BBQ", 0x82, 127, length)


_autobahn_server_send = WebSocketProtocol.serverSend


def _server_send(self, content, binary=False):
    if binary and self.state == self.STATE_OPEN and self._perMessageCompress is None:
        write_now(self.transport, _frame_header(len(content)) + content)
        return
    _autobahn_server_send(self, content, binary)


def write_now(transport, data: bytes) -> None:
    """Send `data` on a plain TCP connection now if nothing waits before it; whatever the socket
    does not take (or any other transport) goes through Twisted's buffered `write`."""
    if (
        isinstance(transport, tcp.Connection)
        and not transport.TLS
        and transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not transport._tempDataLen
        and transport.offset >= len(transport.dataBuffer)
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:  # full (EAGAIN, ENOBUFS) or gone: Twisted's own write finds out which
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


def unmask(data: bytes, start: int, end: int, mask: bytes) -> bytes:
    """`data[start:end]` XORed with the repeated 4-byte `mask` (RFC 6455 5.3), at C speed."""
    length = end - start
    key = (mask * (length // 4 + 1))[:length]
    payload = int.from_bytes(data[start:end], "little") ^ int.from_bytes(key, "little")
    return payload.to_bytes(length, "little")


def _data_received(self, data: bytes) -> None:
    if not (
        self.state == self.STATE_OPEN
        and not self.data
        and self.current_frame is None
        and not self.inside_message
        and self._perMessageCompress is None
        and not self.logOctets
        and not self.logFrames
    ):
        self._dataReceived(data)
        return
    limit = self.maxMessagePayloadSize
    size = len(data)
    at = 0
    while at + 6 <= size and data[at] == 0x82:  # FIN, no RSV bits, binary
        length = data[at + 1] ^ 0x80  # the mask bit must be set: otherwise length > 127
        if length < 126:
            start = at + 6
        elif length == 126 and at + 8 <= size:
            length = data[at + 2] << 8 | data[at + 3]
            if length < 126:  # not the shortest encoding: autobahn refuses it
                break
            start = at + 8
        else:  # 64 KiB or more, unmasked, or a header cut short
            break
        end = start + length
        if end > size or 0 < limit < length:
            break
        payload = unmask(data, start, end, data[start - 4 : start])
        at = end
        self.onMessage(payload, True)
        if self.state != self.STATE_OPEN:
            break
    if at and self.autoPingTimeoutCall and self.autoPingRestartOnAnyTraffic:
        self._cancelAutoPingTimeoutCall()  # as autobahn does on any data frame
    if at < size:
        self._dataReceived(data[at:] if at else data)


_twisted_add_reader = AsyncioSelectorReactor.addReader


def _add_reader(self, reader):
    _twisted_add_reader(self, reader)
    fd = self._readers.get(reader)  # absent: polled continuously (not a socket)
    if fd is not None:
        self._asyncioEventloop.add_reader(fd, self._readOrWrite, reader, True)


def _pformat_when_debugging(value) -> str:
    if txaio.get_global_log_level() in ("debug", "trace"):
        return pprint.pformat(value)
    return ""


def install_speedups() -> None:
    WebSocketProtocol.serverSend = _server_send
    WebSocketProtocol.dataReceived = _data_received
    AsyncioSelectorReactor.addReader = _add_reader
    autobahn_protocol.pformat = _pformat_when_debugging


def install() -> None:
    """Adjust daphne's classes before it builds a server (idempotent)."""
    install_promises()
    install_speedups()


def serve(application, host: str, port: int, *, behind_proxy: bool) -> None:
    """What `manage.py serve` runs by default."""
    from daphne.endpoints import build_endpoint_description_strings
    from twisted.internet import reactor

    from documents.server import background

    install()
    # The process's background work starts with the server, not with its first request. A
    # timer, not a startup trigger: those fire before the asyncio loop runs.
    reactor.callLater(0, background.start)
    proxy = {}
    if behind_proxy:
        proxy = {
            "proxy_forwarded_address_header": "X-Forwarded-For",
            "proxy_forwarded_port_header": "X-Forwarded-Port",
            "proxy_forwarded_proto_header": "X-Forwarded-Proto",
        }
    Server(
        application=application,
        endpoints=[
            endpoint + f":backlog={LISTEN_BACKLOG}"
            for endpoint in build_endpoint_description_strings(host=host, port=port)
        ],
        websocket_max_message_size=Limits.max_message_bytes,
        websocket_max_frame_size=Limits.max_message_bytes,
        application_close_timeout=10,
        websocket_handshake_timeout=HANDSHAKE_TIMEOUT_SECONDS,
        websocket_connect_timeout=HANDSHAKE_TIMEOUT_SECONDS,
        verbosity=0,
        **proxy,
    ).run()
