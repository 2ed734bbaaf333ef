"""A small y-websocket client on pycrdt and `websockets`, for tests and benchmarks.

It does what y-websocket's provider does: answers the server's sync step 1, sends its own, sends
local changes as updates, and applies what the server relays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import websockets
from pycrdt import Doc, Text, XmlFragment

from documents.sync import protocol
from documents.sync.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_state_vector,
)
from documents.sync.varint import Reader
from tests.support.waiting import eventually


class YClient:
    def __init__(
        self,
        url: str,
        *,
        headers: dict | None = None,
        origin: str | None = None,
        doc: Doc | None = None,
    ):
        """`doc`: reconnect with a document kept from an earlier connection (offline edits)."""
        self.url = url
        self.headers = headers or {}
        self.origin = origin
        self.doc = doc if doc is not None else Doc()
        self.text = self.doc.get("text", type=Text)
        self.awareness: dict[int, dict | None] = {}
        self.acks: list[bytes] = []
        self.frames: list[bytes] = []
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.ws = None
        self._task: asyncio.Task | None = None
        self._applying_remote = False
        self._held: list[bytes] | None = None
        self._subscription = self.doc.observe(self._on_local_change)

    async def connect(self) -> YClient:
        self.ws = await websockets.connect(
            self.url,
            additional_headers=self.headers,
            origin=self.origin,
            max_size=None,
            open_timeout=10,
        )
        self._task = asyncio.get_running_loop().create_task(self._read())
        await self._send(protocol.encode_sync_step1(self.doc.get_state()))
        return self

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, str):
                    continue
                self.frames.append(frame)
                self._handle(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    def _handle(self, frame: bytes) -> None:
        reader = Reader(frame)
        if reader.read_var_uint() == protocol.MESSAGE_ACK:
            self.acks.append(reader.read_var_bytes())
            return
        message = protocol.parse_message(frame)
        if isinstance(message, SyncStep1):
            reply = protocol.encode_sync_step2(self.doc.get_update(message.state_vector))
            asyncio.get_running_loop().create_task(self._send(reply))
        elif isinstance(message, SyncStep2 | SyncUpdate):
            self._applying_remote = True
            try:
                self.doc.apply_update(message.update)
            finally:
                self._applying_remote = False
            if isinstance(message, SyncStep2):
                self.synced.set()
        elif isinstance(message, AwarenessUpdate):
            for entry in message.entries:
                self.awareness[entry.client_id] = (
                    None if entry.is_removal else json.loads(entry.state_json)
                )

    def _on_local_change(self, event) -> None:
        if not self._applying_remote and self.ws is not None:
            frame = protocol.encode_update(event.update)
            if self._held is not None:
                self._held.append(frame)
            else:
                asyncio.get_running_loop().create_task(self._send(frame))

    def hold_updates(self) -> None:
        """From now on local changes stay on this machine, as on a slow network, until
        `release_updates`; what the server sends still arrives."""
        self._held = []

    async def release_updates(self) -> None:
        held, self._held = self._held or [], None
        for frame in held:
            await self._send(frame)

    async def _send(self, frame: bytes) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(frame)

    async def send_raw(self, frame: bytes | str) -> None:
        await self.ws.send(frame)

    async def set_awareness(self, state: dict | None, clock: int = 1) -> None:
        entry = AwarenessEntry(self.doc.client_id, clock, json.dumps(state))
        payload = protocol.encode_awareness_entries([entry])
        await self.ws.send(protocol.encode_awareness(payload))

    async def wait_synced(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def wait_closed(self, timeout: float = 10) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout)
        return self.close_code

    async def wait_for(self, predicate, timeout: float = 10) -> None:
        await eventually(predicate, timeout=timeout)

    def own_clock(self) -> int:
        """How many changes this client made (its clock in its own state vector)."""
        return decode_state_vector(self.doc.get_state()).get(self.doc.client_id, 0)

    def acknowledged_clock(self) -> int:
        """This client's clock in the server's latest durable acknowledgement (message 100)."""
        if not self.acks:
            return 0
        return decode_state_vector(self.acks[-1]).get(self.doc.client_id, 0)

    async def wait_durable(self, timeout: float = 30) -> None:
        """Wait until the server acknowledged every edit this client made so far as stored.
        Needs a connection opened with `?ack=1` (SPEC.md, durable acknowledgement)."""
        clock = self.own_clock()
        await eventually(
            lambda: self.acknowledged_clock() >= clock,
            timeout=timeout,
            what=f"durable acknowledgement of clock {clock} (connected with ?ack=1?)",
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            self.doc.unobserve(self._subscription)
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


def fragment_text(doc: Doc) -> str:
    return str(doc.get("default", type=XmlFragment))


def document_url(server, document_id: str, token: str, query: str = "") -> str:
    """The WebSocket URL of a document on a test server, with a token (and `&...` extras)."""
    return f"{server.ws}/ws/documents/{document_id}?token={token}{query}"


async def synced_client(server, document_id: str, token: str, query: str = "") -> YClient:
    """A client connected to the document and synced with the server."""
    client = await YClient(document_url(server, document_id, token, query)).connect()
    await client.wait_synced()
    return client
