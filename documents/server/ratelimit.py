"""Budgets: connections per address per minute, counted in this process (4429 past the limit),
and messages per connection per second (a token bucket; past it only the newest one waits).

Connections: a sliding window of timestamps per address; addresses with no recent connection
are forgotten, so the table stays as small as the set of recent visitors. Behind a proxy, the
address is the one from X-Forwarded-For (COLLAB_BEHIND_PROXY), so one proxy does not look like
one visitor.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class ConnectionRateLimit:
    def __init__(self, per_minute: int, window: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._last_sweep = time.monotonic()

    def allow(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._sweep(now)
        stamps = self._seen.setdefault(address, deque())
        while stamps and now - stamps[0] >= self.window:
            stamps.popleft()
        if len(stamps) >= self.per_minute:
            return False
        stamps.append(now)
        return True

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self.window:
            return
        self._last_sweep = now
        for address in [a for a, s in self._seen.items() if not s or now - s[-1] >= self.window]:
            del self._seen[address]


class TokenBucket:
    """`rate` events per second with bursts of `burst`; `take` says whether one may pass now."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def seconds_until_next(self) -> float:
        return max(0.0, (1 - self.tokens) / self.rate)


class NewestOnly:
    """A token bucket in front of `deliver`, for messages of which only the latest matters (a
    presence state, a sync step 1): within the rate each passes at once; past it the newest
    waits, replacing the one that waited, and is delivered as soon as the bucket allows."""

    def __init__(self, rate: float, burst: float, deliver: Callable[[object], None]) -> None:
        self.bucket = TokenBucket(rate, burst)
        self._deliver = deliver
        self._waiting: object | None = None

    def admit(self, item: object) -> bool:
        """True: pass `item` on now. False: it waits (and `deliver` gets it later)."""
        if self.bucket.take():
            return True
        first = self._waiting is None
        self._waiting = item
        if first:
            asyncio.get_running_loop().call_later(self.bucket.seconds_until_next(), self._release)
        return False

    def _release(self) -> None:
        item, self._waiting = self._waiting, None
        if item is not None:
            self.bucket.take()
            self._deliver(item)
