"""The garbage collector in a server process: what startup made is frozen, the thresholds are
CPython's own.

`gc.freeze()` once the application is loaded: what exists then (modules, settings, URL patterns)
lives as long as the process, so no collection scans it again. A reconnect storm of 1,500
clients spent 1.27 s of its 8.5 s of CPU in the collector before, 0.17 s with the freeze (and a
raised young generation, measured together).

The thresholds used to be raised too (50,000, 20, 100): a full collection then came about once
per 10^8 net allocations, in practice never, so whatever a served document or connection left
in a reference cycle stayed (RSS +5.5 MB per 100 documents served, linear), and when a full
collection did come it walked the grown heap (per-cycle p99 from ~5 ms to 229-529 ms). Measured
on the same machine back to back (shared/FINDINGS.md): with CPython's thresholds the same churn
levelled off (123 -> 135 MB), a join storm of 1,500 clients synced in 3.5 s against 3.4, and the
typing that followed had p99 79 ms against 207. The cycles themselves are broken at their source
since (tests/integration/test_connection_memory.py), so the collector has little left to find.
Keeping CPython's thresholds also keeps their meaning on 3.14, whose incremental collector reads
the three numbers differently.
"""

from __future__ import annotations

import gc


def settle_after_startup() -> None:
    """Call once, after the application and its URL map are loaded."""
    gc.collect()
    gc.freeze()
