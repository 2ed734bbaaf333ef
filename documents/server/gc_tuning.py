"""The garbage collector, tuned for a server that holds thousands of long-lived objects.

With CPython's defaults (a young-generation collection every 700 net allocations, full ones as
the heap grows by a quarter) a reconnect storm of 1,500 clients spent 1.27 s of its 8.5 s of
CPU in the collector, rescanning Django, the URL map and every open room again and again
(docs/benchmarks.md). Two standard remedies, measured together: 0.17 s, and the storm synced
in 5.1 s instead of 6.9 s.

- `gc.freeze()` once the application is loaded: what exists then (modules, settings, URL
  patterns) lives as long as the process, so the collector stops scanning it.
- A larger young generation: a WebSocket frame's objects are freed by reference counting
  within the turn; a collection every 50,000 net allocations instead of 700 finds the same few
  cycles at a fraction of the cost (each takes a few tens of milliseconds at most).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def settle_after_startup() -> None:
    """Call once, after the application and its URL map are loaded."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
