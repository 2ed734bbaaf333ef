"""Load-generating y-websocket clients and what they measure.

A `SyncClient` does the sync handshake a provider does (its step 1, an empty step 2 in answer to
the server's step 1) and then only listens: it records the markers (bench/ysync.py) of every
sync update it receives, with the time the bytes arrived. Writers send pre-generated updates
on a schedule and note when each left. Latency of a delivery = arrival - departure, on the
one monotonic clock of this process.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from pycrdt import YMessageType, YSyncMessageType
from wsclient import WsClient
from ysync import MARKER, Dialect

from documents.sync.protocol import EMPTY_UPDATE


@dataclass
class Recorder:
    """Departures by sequence number; arrivals as (client index, markers, time)."""

    sent: dict[int, float] = field(default_factory=dict)
    arrivals: list[tuple[int, list[bytes], float]] = field(default_factory=list)
    delivered: int = 0

    def latencies(self, expected_receivers: dict[int, set[int]] | None = None) -> list[float]:
        """Latency of each (receiver, update) delivered, counting a duplicate once."""
        seen: set[tuple[int, int]] = set()
        out = []
        for index, markers, arrived in self.arrivals:
            for raw in markers:
                seq = int(raw)
                departed = self.sent.get(seq)
                if departed is None or (index, seq) in seen:
                    continue
                seen.add((index, seq))
                out.append(arrived - departed)
        return out


class SyncClient:
    def __init__(self, url: str, dialect: Dialect, index: int, recorder: Recorder | None):
        self.dialect = dialect
        self.index = index
        self.recorder = recorder
        self.ws = WsClient(url, self._on_frame)
        self.synced = asyncio.Event()
        self.synced_at: float | None = None
        self.connect_started: float | None = None
        self.own: set[bytes] = set()  # markers this client sent (some servers echo them back)

    async def connect(self) -> SyncClient:
        self.connect_started = time.monotonic()
        await self.ws.connect()
        for frame in self.dialect.hello():
            self.ws.send(frame)
        return self

    def send_update(self, update: bytes) -> None:
        self.ws.send(self.dialect.update(update))

    def _on_frame(self, payload: bytes, now: float) -> None:
        message_type, sub_type = self.dialect.kind_of(payload)
        if message_type != YMessageType.SYNC:
            return
        if sub_type == YSyncMessageType.SYNC_UPDATE:
            if self.recorder is not None:
                markers = MARKER.findall(payload)
                if self.own:
                    markers = [m for m in markers if m not in self.own]
                if markers:
                    self.recorder.arrivals.append((self.index, markers, now))
                    self.recorder.delivered += len(markers)
        elif sub_type == YSyncMessageType.SYNC_STEP1:
            # Nothing the server lacks: updates go out as they are made.
            self.ws.send(self.dialect.sync_step2(EMPTY_UPDATE))
        elif sub_type == YSyncMessageType.SYNC_STEP2 and not self.synced.is_set():
            self.synced_at = now
            self.synced.set()

    async def wait_synced(self, timeout: float = 30) -> float:
        """Seconds from the start of the connection until sync step 2 arrived."""
        await asyncio.wait_for(self.synced.wait(), timeout)
        return self.synced_at - self.connect_started

    async def close(self) -> None:
        await self.ws.close()


async def connect_all(clients: list[SyncClient], batch: int = 100) -> None:
    """Connect and sync in batches: a thundering herd would measure the accept queue."""
    for start in range(0, len(clients), batch):
        group = clients[start : start + batch]
        await asyncio.gather(*(client.connect() for client in group))
        await asyncio.gather(*(client.wait_synced() for client in group))


async def close_all(clients: list[SyncClient]) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


Schedule = list[tuple[float, SyncClient, bytes, int]]  # (offset s, sender, update, seq)


async def send_on_schedule(schedule: Schedule, recorder: Recorder) -> float:
    """Send each update at its offset from now (late ones at once); return the start time."""
    started = time.monotonic()
    burst = 0
    for offset, client, update, seq in schedule:
        delay = started + offset - time.monotonic()
        if delay > 0.0005:
            await asyncio.sleep(delay)
            burst = 0
        elif burst >= 200:  # sending flat out: let the readers record arrivals meanwhile
            await asyncio.sleep(0)
            burst = 0
        recorder.sent[seq] = time.monotonic()
        client.send_update(update)
        burst += 1
    return started


async def wait_delivered(
    recorder: Recorder, expected: int, quiet: float = 2.0, limit: float = 60.0
) -> None:
    """Until every delivery arrived, nothing arrived for `quiet` s, or `limit` s passed."""
    deadline = time.monotonic() + limit
    last_count, last_change = -1, time.monotonic()
    while recorder.delivered < expected and time.monotonic() < deadline:
        if recorder.delivered != last_count:
            last_count, last_change = recorder.delivered, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            return
        await asyncio.sleep(0.02)


def summarize(recorder: Recorder, expected: int, started: float) -> dict:
    latencies = sorted(recorder.latencies())
    delivered = len(latencies)
    last_arrival = max((arrived for _, _, arrived in recorder.arrivals), default=started)
    elapsed = max(last_arrival - started, 1e-9)
    return {
        "expected": expected,
        "delivered": delivered,
        "delivered_fraction": round(delivered / expected, 4) if expected else None,
        "p50_ms": _ms(percentile(latencies, 50)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "max_ms": _ms(latencies[-1] if latencies else None),
        "mean_ms": _ms(statistics.fmean(latencies) if latencies else None),
        "deliveries_per_s": round(delivered / elapsed),
        "elapsed_s": round(elapsed, 3),
    }


def percentile(sorted_values: list[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    rank = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
