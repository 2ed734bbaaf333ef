"""Relay counters for /metrics, kept as plain numbers so the engine needs no metrics library.

One set per process (metrics are per process). documents.server.metrics reads the totals and drains
the recent fan-out durations into its histogram at each scrape; a deque keeps that hand-over safe
between the event loop and the scraping thread, and bounded if nobody scrapes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from pycrdt import YMessageType

_SYNC_PREFIX = bytes((YMessageType.SYNC,))  # looked up once: an enum attribute costs ~0.1 us


@dataclass
class RelayStats:
    updates_relayed: int = 0  # update frames queued to clients (one per recipient)
    awareness_relayed: int = 0
    bytes_relayed: int = 0
    fan_out_seconds: deque = field(default_factory=lambda: deque(maxlen=10_000))

    def record(self, frame: bytes, recipients: int, seconds: float) -> None:
        if frame[:1] == _SYNC_PREFIX:
            self.updates_relayed += recipients
        else:
            self.awareness_relayed += recipients
        self.bytes_relayed += len(frame) * recipients
        self.fan_out_seconds.append(seconds)


RELAY = RelayStats()
