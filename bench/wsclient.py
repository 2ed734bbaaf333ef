"""A minimal RFC 6455 WebSocket client on an asyncio Protocol, for load generation.

Why not the `websockets` library: a reader in the fan-out scenario receives tens of thousands
of frames a second, and the load generator shares two cores with the server it measures. This
client parses frames straight out of `data_received` (no per-frame task or future) and hands
each binary payload to a callback with the time its bytes arrived. It offers no extensions (no
permessage-deflate), so every server is measured on plain frames. It answers pings, and
replies to a close frame.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

OnFrame = Callable[[bytes, float], None]


def encode_frame(payload: bytes, opcode: int = OP_BINARY) -> bytes:
    """A masked client frame (RFC 6455 5.3: clients must mask)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    mask = os.urandom(4)
    if not payload:
        return header + mask
    key = int.from_bytes((mask * (length // 4 + 1))[:length], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(length, "big")
    return header + mask + masked


class _Protocol(asyncio.Protocol):
    def __init__(self, client: WsClient) -> None:
        self.client = client
        self.buffer = bytearray()
        self.handshaken = False
        self.fragments: list[bytes] = []

    def connection_made(self, transport) -> None:
        self.client.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.handshaken:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            self.handshaken = True
            status = head.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                self.client._opened.set_exception(ConnectionError(status.decode("latin-1")))
                return
            self.client._opened.set_result(None)
        self._parse(now)

    def _parse(self, now: float) -> None:
        buf = self.buffer
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = struct.unpack_from("!H", buf, pos + 2)[0]
                header = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = struct.unpack_from("!Q", buf, pos + 2)[0]
                header = 10
            if second & 0x80:  # servers never mask; tolerate it anyway
                header += 4
            if size - pos < header + length:
                break
            payload = bytes(buf[pos + header : pos + header + length])
            pos += header + length
            self._frame(first & 0x80, first & 0x0F, payload, now)
        if pos:
            del buf[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        client = self.client
        if opcode == OP_PING:
            client.transport.write(encode_frame(payload, OP_PONG))
        elif opcode == OP_CLOSE:
            client.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if not client.closing:
                client.closing = True
                client.transport.write(encode_frame(payload[:2], OP_CLOSE))
            client.transport.close()
        elif opcode in (OP_BINARY, OP_TEXT, OP_CONT):
            if not fin:
                self.fragments.append(payload)
                return
            if self.fragments:
                payload = b"".join(self.fragments) + payload
                self.fragments = []
            client.frames_received += 1
            client.on_frame(payload, now)

    def connection_lost(self, exc) -> None:
        if not self.client._opened.done():
            self.client._opened.set_exception(exc or ConnectionError("closed before handshake"))
        self.client.closed.set()


class WsClient:
    """One WebSocket connection. `on_frame(payload, arrival_time)` sees every message."""

    def __init__(self, url: str, on_frame: OnFrame) -> None:
        self.url = url
        self.on_frame = on_frame
        self.transport: asyncio.Transport | None = None
        self.closing = False
        self.close_code: int | None = None
        self.frames_received = 0
        self.closed = asyncio.Event()
        self._opened: asyncio.Future = asyncio.get_running_loop().create_future()

    async def connect(self, timeout: float = 30) -> WsClient:
        parts = urlsplit(self.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(
            loop.create_connection(lambda: _Protocol(self), parts.hostname, parts.port or 80),
            timeout,
        )
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.transport.write(request.encode())
        await asyncio.wait_for(self._opened, timeout)
        return self

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(payload))

    async def close(self, timeout: float = 2) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if not self.closing:
            self.closing = True
            self.transport.write(encode_frame(struct.pack("!H", 1000), OP_CLOSE))
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except TimeoutError:
            self.transport.abort()
