"""Cross-process path: RedisChannelLayer against RedisPubSubChannelLayer (docs/scaling.md).

One process publishes updates to a room's group the way
documents.server.channel_layer_broadcast does (one group_send per update), another receives on
its process channel. Both layers run in this one
script with separate connections, against the same Redis, in the same run.

    .venv/bin/python bench/layer_compare.py [--messages 5000] [--redis redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


async def measure(layer_class, redis_url: str, messages: int, rate: float | None) -> dict:
    sender = layer_class(hosts=[redis_url], prefix="bench", capacity=100_000)
    receiver = layer_class(hosts=[redis_url], prefix="bench", capacity=100_000)
    channel = await receiver.new_channel("bench.process.")
    await receiver.group_add("bench.room", channel)
    await asyncio.sleep(0.2)
    latencies: list[float] = []
    payload = b"\x00\x02" + b"u" * 30  # a keystroke-sized update

    async def receive():
        while len(latencies) < messages:
            message = await receiver.receive(channel)
            latencies.append(time.perf_counter() - message["sent"])

    receiving = asyncio.create_task(receive())
    started = time.perf_counter()
    for n in range(messages):
        await sender.group_send(
            "bench.room",
            {"type": "collab.envelope", "payload": payload, "sent": time.perf_counter()},
        )
        if rate:
            await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
    try:
        await asyncio.wait_for(receiving, timeout=60)
    except TimeoutError:
        receiving.cancel()
    elapsed = time.perf_counter() - started
    await receiver.group_discard("bench.room", channel)
    for layer in (sender, receiver):
        if hasattr(layer, "flush"):
            await layer.flush()
    latencies.sort()
    return {
        "layer": layer_class.__name__,
        "rate": rate or "max",
        "messages": messages,
        "delivered": len(latencies),
        "per_second": round(len(latencies) / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2) if latencies else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    results = []
    for rate in (200.0, None):
        for layer_class in (RedisChannelLayer, RedisPubSubChannelLayer):
            count = min(args.messages, 2000) if rate else args.messages
            results.append(await measure(layer_class, args.redis, count, rate))
            print(json.dumps(results[-1]))


if __name__ == "__main__":
    asyncio.run(main())
