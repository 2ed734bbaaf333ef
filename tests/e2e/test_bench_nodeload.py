"""The Node load generator counts what a user would: every update of a room reaches each other
client of the room exactly once, an echo to the sender is not a delivery, and a join storm
syncs every socket. Tiny sizes against Collab (1 process on Postgres) and both Node servers
(the plain and the Hocuspocus dialect). Never asserts speed (the machine is shared).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.bench import run_quick_bench
from tests.support.npm import npm_ci

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ["collab-daphne-postgres", "y-websocket", "hocuspocus"]


def _bench_env() -> dict:
    """The bench drops and creates its database: one of its own, named after the test one."""
    database = urlsplit(os.environ["DATABASE_URL"])
    bench_db = database._replace(path=database.path + "_nodeload").geturl()
    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    return dict(os.environ, BENCH_DATABASE_URL=bench_db, BENCH_REDIS_URL=redis)


def test_rooms_and_join_storm_count_every_delivery_once(tmp_path):
    npm_ci(ROOT / "bench" / "peers")
    npm_ci(ROOT / "bench" / "nodeload")
    report = run_quick_bench(tmp_path, "rooms,join_storm", TARGETS, timeout=600, env=_bench_env())

    for name in TARGETS:
        results = report["targets"][name]["results"]
        runs = results["rooms"]
        assert [run["documents"] for run in runs] == [5, 10], (name, runs)
        for run in runs:
            assert run["connected"] == run["clients"] == run["documents"] * 3, (name, run)
            assert run["updates"] == run["clients"] * 10  # 5 updates/s for 2 s each
            assert run["expected"] == run["updates"] * 2  # the two others of the room
            assert run["delivered"] == run["expected"], (name, run)
            assert run["missing"] == run["duplicates"] == run["misrouted"] == 0, (name, run)
            assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
            assert run["generator_cpu_s"] > 0 and len(run["load"]) == 3
            # y-websocket and Hocuspocus send an update back to its sender; Collab does not.
            assert run["echoes"] == (0 if name.startswith("collab") else run["updates"]), name
        storm = results["join_storm"]
        assert storm["synced"] == storm["clients"] == 60, (name, storm)
        assert storm["refused"] == storm["timed_out"] == 0
        assert 0 < storm["time_to_sync"]["p50_ms"] <= storm["time_to_sync"]["max_ms"]
