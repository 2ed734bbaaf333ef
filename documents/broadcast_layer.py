"""ChannelLayerBroadcast: the cross-process seam on Channels' channel layer (Redis).

Each process has ONE channel; it joins one group per open room (`collab.room.<id>`) and the
control group. A published message goes once to a room's group and reaches each other process
once; that process fans it out to its sockets in-process. Sending happens on a background task,
so the relay path never waits for Redis. Messages lost by the layer (channels-redis drops over
capacity, Redis restarts) are healed by the registry's anti-entropy, not here.
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

CONTROL_GROUP = "collab.control"
MESSAGE_TYPE = "collab.envelope"


def room_group(room: str) -> str:
    return "collab.room." + room.replace("-", "")


class ChannelLayerBroadcast:
    def __init__(self, alias: str = "default") -> None:
        self.layer = get_channel_layer(alias)
        self.process_id = ""  # the channel name, known after start()
        self.rooms: set[str] = set()
        self.healthy = True
        self._outbox: asyncio.Queue[tuple[str | None, dict]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._deliver: Deliver | None = None
        # Test hook (tests/e2e/test_scale_out.py): drop every Nth outgoing update on purpose.
        self._drop_every = int(os.environ.get("COLLAB_TEST_DROP_EVERY_NTH_UPDATE", "0") or 0)
        self._sent_updates = 0

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self.process_id = await self.layer.new_channel("collab.process.")
        await self.layer.group_add(CONTROL_GROUP, self.process_id)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._receive_loop(), name="broadcast-receive"),
            loop.create_task(self._send_loop(), name="broadcast-send"),
        ]

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
            for room in list(self.rooms):
                await self.layer.group_discard(room_group(room), self.process_id)
            await self.layer.group_discard(CONTROL_GROUP, self.process_id)

    async def subscribe(self, room: str) -> None:
        self.rooms.add(room)
        await self.layer.group_add(room_group(room), self.process_id)

    async def unsubscribe(self, room: str) -> None:
        self.rooms.discard(room)
        with contextlib.suppress(Exception):
            await self.layer.group_discard(room_group(room), self.process_id)

    async def renew_subscriptions(self) -> None:
        """Join our groups again: a restarted Redis has forgotten them."""
        await self.layer.group_add(CONTROL_GROUP, self.process_id)
        for room in list(self.rooms):
            await self.layer.group_add(room_group(room), self.process_id)

    def publish(self, room: str, kind: str, payload: bytes, seq: int = 0) -> None:
        if kind == KIND_UPDATE and self._drop_every:
            self._sent_updates += 1
            if self._sent_updates % self._drop_every == 0:
                return
        message = self._message(room, kind, payload, seq)
        group = CONTROL_GROUP if kind == KIND_CONTROL else room_group(room)
        self._outbox.put_nowait((group, message))

    def send_to(self, process_id: str, room: str, kind: str, payload: bytes) -> None:
        """A message for one process only (replies to a state-vector exchange)."""
        self._outbox.put_nowait((None, self._message(room, kind, payload, 0, to=process_id)))

    def _message(self, room: str, kind: str, payload: bytes, seq: int, to: str = "") -> dict:
        return {
            "type": MESSAGE_TYPE,
            "room": room,
            "kind": kind,
            "payload": payload,
            "origin": self.process_id,
            "seq": seq,
            "to": to,
        }

    async def _send_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            for group, message in merge_updates_per_room(batch):
                try:
                    if group is None:
                        await self.layer.send(message["to"], message)
                    else:
                        await self.layer.group_send(group, message)
                    self._mark_healthy(True)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Lost: anti-entropy repairs documents; awareness renews itself.
                    self._mark_healthy(False, exc)
                    await asyncio.sleep(0.5)

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
            if message.get("type") != MESSAGE_TYPE or self._deliver is None:
                continue
            envelope = Envelope(
                room=message["room"],
                kind=message["kind"],
                payload=message["payload"],
                origin=message["origin"],
                seq=message.get("seq", 0),
            )
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


def merge_updates_per_room(batch: list[tuple[str | None, dict]]) -> list[tuple[str | None, dict]]:
    """What queued while Redis was busy goes out with one update message per room: a room's
    published updates are merged into one, sent where its last one stood (content only ever
    moves later, never before a message that preceded it) with the last sequence number, which
    the `stored` confirmations count up to. Other messages keep their place and order."""

    def is_update(group, message) -> bool:
        return group is not None and message["kind"] == KIND_UPDATE and message["seq"] > 0

    pending: dict[str, list[bytes]] = {}
    last_index: dict[str, int] = {}
    for index, (group, message) in enumerate(batch):
        if is_update(group, message):
            pending.setdefault(group, []).append(message["payload"])
            last_index[group] = index
    out = []
    for index, (group, message) in enumerate(batch):
        if not is_update(group, message):
            out.append((group, message))
        elif last_index[group] == index:
            payloads = pending[group]
            merged = payloads[0] if len(payloads) == 1 else merge_updates(*payloads)
            out.append((group, dict(message, payload=merged)))
    return out


async def publish_from_outside(room: str, kind: str, payload: bytes) -> None:
    """Publish from outside any server loop (a management command, or a view in a process that
    serves no rooms): one group message, like a process would send."""
    group = CONTROL_GROUP if kind == KIND_CONTROL else room_group(room)
    await get_channel_layer().group_send(
        group,
        {
            "type": MESSAGE_TYPE,
            "room": room,
            "kind": kind,
            "payload": payload,
            "origin": "external",
            "seq": 0,
            "to": "",
        },
    )
