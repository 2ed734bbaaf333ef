"""The Redis-side broadcast: one batch message per turn for every room, what queued while Redis
was busy merged per room, and each process keeping only what concerns the rooms it holds."""

import asyncio

from pycrdt import Doc, Text

from documents.server.channel_layer_broadcast import (
    BATCH_PAYLOAD_BYTES,
    ChannelLayerBroadcast,
    merge_updates_per_room,
    split_batches,
)
from documents.sync.broadcast import KIND_AWARENESS, KIND_CONTROL, KIND_UPDATE
from tests.support.waiting import eventually
from tests.unit.fakes import typed_update


def test_a_backlog_of_updates_goes_out_as_one_merged_message_per_room():
    a1 = typed_update("a", client_id=1)
    a2 = typed_update("b", client_id=1, base=a1)
    b1 = typed_update("z", client_id=2)
    queued = [
        ("a", KIND_UPDATE, a1, 1, ""),
        ("b", KIND_UPDATE, b1, 1, ""),
        ("a", KIND_AWARENESS, b"presence", 0, ""),
        ("a", KIND_UPDATE, a2, 2, ""),
    ]
    out = merge_updates_per_room(queued)
    assert [(room, kind, seq) for room, kind, _, seq, _ in out] == [
        ("b", KIND_UPDATE, 1),
        ("a", KIND_AWARENESS, 0),
        ("a", KIND_UPDATE, 2),
    ]
    doc = Doc()
    doc.apply_update(out[-1][2])
    assert str(doc.get("text", type=Text)) == "ab"


def test_large_payloads_are_spread_over_several_batches_in_order():
    big = b"x" * (BATCH_PAYLOAD_BYTES // 2 + 1)
    messages = [("a", KIND_UPDATE, big, n, "") for n in range(1, 4)]
    batches = split_batches(messages)
    assert [[m[3] for m in batch] for batch in batches] == [[1], [2], [3]]


async def test_a_process_receives_what_concerns_its_rooms_and_every_control_message():
    alice, bob = ChannelLayerBroadcast(), ChannelLayerBroadcast()  # two processes, one layer
    received = []
    await alice.start(lambda envelope: None)
    await bob.start(received.append)
    await bob.subscribe("held")
    try:
        alice.publish("held", KIND_UPDATE, b"for bob", 1)
        alice.publish("elsewhere", KIND_UPDATE, b"not for bob", 1)
        alice.send_to("some-third-process", "held", KIND_UPDATE, b"not for bob either")
        alice.publish("", KIND_CONTROL, b"{}")
        alice.send_to(bob.process_id, "held", KIND_AWARENESS, b"to bob alone")
        await eventually(lambda: len(received) >= 3, what="three messages for bob")
        assert [(e.room, e.kind, e.payload) for e in received] == [
            ("held", KIND_UPDATE, b"for bob"),
            ("", KIND_CONTROL, b"{}"),
            ("held", KIND_AWARENESS, b"to bob alone"),
        ]
        assert all(envelope.origin == alice.process_id for envelope in received)
    finally:
        await alice.stop()
        await bob.stop()


async def test_a_process_started_while_redis_is_down_joins_the_others_once_it_is_back():
    """A process restarted during a Redis restart serves its own clients at once, and hears
    the other processes as soon as Redis answers (it used to fail every join until restarted)."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from tests.support.redis_server import RedisServer

    redis = RedisServer()  # a free port, nothing listening yet
    late = ChannelLayerBroadcast(layer=RedisPubSubChannelLayer(hosts=[redis.url]))
    received = []
    await late.start(received.append)  # returns although Redis is unreachable
    assert not late.healthy and not late.process_id
    await late.subscribe("held")
    other = ChannelLayerBroadcast(layer=RedisPubSubChannelLayer(hosts=[redis.url]))
    await asyncio.to_thread(redis.start)
    try:
        await other.start(lambda envelope: None)
        await eventually(lambda: late.process_id, timeout=15, what="connected after the outage")

        def published_and_received():  # pub/sub keeps nothing: publish until it arrives
            other.publish("held", KIND_UPDATE, b"after the outage", 1)
            return received

        await eventually(published_and_received, timeout=15, interval=0.1)
        assert late.healthy
        assert received[0].payload == b"after the outage"
    finally:
        await late.stop()
        await other.stop()
        await asyncio.to_thread(redis.stop)
