"""ChannelLayerBroadcast: the cross-process seam on Channels' channel layer (Redis).

Every process has ONE channel and joins one group, which all processes share. What a process
publishes in one event-loop turn (updates, awareness, state vectors, replies to one process,
control messages, for all its rooms) goes out as ONE batch message: one Redis round trip per
batch, whatever the number of rooms, where a group per room cost one round trip per message
(at 200 rooms x 3 typists, thousands per second). Each receiver keeps the messages for rooms it
holds and drops the rest; with the proxy routing each document to one process, little crosses
at all. Sending happens on a background task, so the relay path never waits for Redis.
Messages lost by the layer (channels-redis drops over capacity, Redis restarts) are healed by
the registry's anti-entropy, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from channels.layers import get_channel_layer
from pycrdt import merge_updates

from documents.sync.broadcast import KIND_CONTROL, KIND_UPDATE, Deliver, Envelope

log = logging.getLogger("collab.broadcast")

PROCESSES_GROUP = "collab.processes"
BATCH_TYPE = "collab.batch"
# A batch's payloads are kept under this size (a single larger update still goes, alone):
# one huge message would hold up every room's updates behind it in Redis and in the receiver.
BATCH_PAYLOAD_BYTES = 1024 * 1024

CONNECT_WAIT_SECONDS = 2.0
# Under load, at most one batch per window: a process publishing each turn's few updates sent
# one Redis message per update at a few hundred updates/s, and both processes spent a quarter
# of their CPU publishing and parsing them (docs/benchmarks.md). A quiet process sends at once.
BATCH_WINDOW_SECONDS = 0.005
Outgoing = tuple[str, str, bytes, int, str]  # room, kind, payload, seq, to ("" = every process)


class ChannelLayerBroadcast:
    def __init__(self, alias: str = "default", layer=None) -> None:
        self.layer = layer if layer is not None else get_channel_layer(alias)
        self.process_id = ""  # the channel name, known once Redis has been reached
        self.rooms: set[str] = set()
        self.healthy = True
        self._outbox: asyncio.Queue[tuple[str | None, dict]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._deliver: Deliver | None = None
        self._connected = asyncio.Event()
        # Test hook (tests/e2e/test_scale_out.py): drop every Nth outgoing update on purpose.
        self._drop_every = int(os.environ.get("COLLAB_TEST_DROP_EVERY_NTH_UPDATE", "0") or 0)
        self._sent_updates = 0

    async def start(self, deliver: Deliver) -> None:
        """Start listening; wait a moment for Redis, but never fail for want of it. A process
        that starts while Redis is down (restarting beside it) serves its own clients at once
        and joins the others when Redis is back; anti-entropy then brings what it missed."""
        self._deliver = deliver
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._connect_and_receive(), name="broadcast-receive"),
            loop.create_task(self._send_loop(), name="broadcast-send"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), CONNECT_WAIT_SECONDS)

    async def _connect_and_receive(self) -> None:
        backoff = 0.1
        while not self.process_id:
            try:
                channel = await self.layer.new_channel("collab.process.")
                await self.layer.group_add(PROCESSES_GROUP, channel)
                self.process_id = channel
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._mark_healthy(False, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        self._mark_healthy(True)
        self._connected.set()
        await self._receive_loop()

    async def stop(self) -> None:
        # A cancellation that lands while a send to Redis is in flight can be swallowed inside
        # channels-redis / redis-py: a task dump of a process that never exited on SIGTERM
        # (tests/e2e/test_chaos.py) showed the send task "cancelling" yet parked on its next
        # outbox.get(). Cancel again until the tasks are done, within a bound.
        for _attempt in range(20):
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.25)
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved, so asyncio does not warn about it at exit
        with contextlib.suppress(Exception):
            await self.layer.group_discard(PROCESSES_GROUP, self.process_id)

    async def subscribe(self, room: str) -> None:
        self.rooms.add(room)

    async def unsubscribe(self, room: str) -> None:
        self.rooms.discard(room)

    async def renew_subscriptions(self) -> None:
        """Join the group again: a restarted Redis has forgotten it."""
        await self.layer.group_add(PROCESSES_GROUP, self.process_id)

    def publish(self, room: str, kind: str, payload: bytes, seq: int = 0) -> None:
        if kind == KIND_UPDATE and self._drop_every:
            self._sent_updates += 1
            if self._sent_updates % self._drop_every == 0:
                return
        self._outbox.put_nowait((room, kind, payload, seq, ""))

    def send_to(self, process_id: str, room: str, kind: str, payload: bytes) -> None:
        """A message for one process only (replies to a state-vector exchange)."""
        self._outbox.put_nowait((room, kind, payload, 0, process_id))

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_send = float("-inf")
        while True:
            queued = [await self._outbox.get()]
            if (wait := last_send + BATCH_WINDOW_SECONDS - loop.time()) > 0:
                await asyncio.sleep(wait)  # busy: gather the rest of the window into this batch
            last_send = loop.time()
            while not self._outbox.empty():
                queued.append(self._outbox.get_nowait())
            if not self.process_id:
                continue  # Redis not reached yet: dropped, as in an outage (anti-entropy heals)
            for batch in split_batches(merge_updates_per_room(queued)):
                try:
                    await self.layer.group_send(PROCESSES_GROUP, self._batch_message(batch))
                    self._mark_healthy(True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Lost: anti-entropy repairs documents; awareness renews itself.
                    self._mark_healthy(False, exc)
                    await asyncio.sleep(0.5)

    def _batch_message(self, batch: list[Outgoing]) -> dict:
        return {"type": BATCH_TYPE, "origin": self.process_id, "messages": [list(m) for m in batch]}

    async def _receive_loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self.layer.receive(self.process_id)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._mark_healthy(False, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if message.get("type") != BATCH_TYPE or self._deliver is None:
                continue
            origin = message["origin"]
            if origin == self.process_id:
                continue
            for room, kind, payload, seq, to in message["messages"]:
                if to and to != self.process_id:
                    continue
                if kind != KIND_CONTROL and room not in self.rooms:
                    continue
                envelope = Envelope(room=room, kind=kind, payload=payload, origin=origin, seq=seq)
                try:
                    self._deliver(envelope)
                except Exception:
                    log.exception("handling a %s message failed", envelope.kind)

    def _mark_healthy(self, healthy: bool, exc: Exception | None = None) -> None:
        if healthy != self.healthy:
            if healthy:
                log.warning("the channel layer (Redis) is reachable again")
            else:
                log.error("the channel layer (Redis) is unreachable: %r", exc)
        self.healthy = healthy


def merge_updates_per_room(queued: list[Outgoing]) -> list[Outgoing]:
    """What queued while Redis was busy goes out with one update message per room: a room's
    published updates are merged into one, sent where its last one stood (content only ever
    moves later, never before a message that preceded it) with the last sequence number, which
    the `stored` confirmations count up to. Other messages keep their place and order."""

    def is_update(message: Outgoing) -> bool:
        _room, kind, _payload, seq, to = message
        return kind == KIND_UPDATE and seq > 0 and not to

    pending: dict[str, list[bytes]] = {}
    last_index: dict[str, int] = {}
    for index, message in enumerate(queued):
        if is_update(message):
            pending.setdefault(message[0], []).append(message[2])
            last_index[message[0]] = index
    out = []
    for index, message in enumerate(queued):
        if not is_update(message):
            out.append(message)
        elif last_index[message[0]] == index:
            payloads = pending[message[0]]
            merged = payloads[0] if len(payloads) == 1 else merge_updates(*payloads)
            out.append((message[0], message[1], merged, message[3], message[4]))
    return out


def split_batches(messages: list[Outgoing]) -> list[list[Outgoing]]:
    """Consecutive runs of messages whose payloads stay within BATCH_PAYLOAD_BYTES."""
    batches: list[list[Outgoing]] = []
    size = 0
    for message in messages:
        if not batches or (size + len(message[2]) > BATCH_PAYLOAD_BYTES and batches[-1]):
            batches.append([])
            size = 0
        batches[-1].append(message)
        size += len(message[2])
    return batches


async def publish_from_outside(room: str, kind: str, payload: bytes) -> None:
    """Publish from outside any server loop (a management command, or a view in a process that
    serves no rooms): a batch of one message, like a process would send."""
    await get_channel_layer().group_send(
        PROCESSES_GROUP,
        {"type": BATCH_TYPE, "origin": "external", "messages": [[room, kind, payload, 0, ""]]},
    )
