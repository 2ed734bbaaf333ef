"""The bench still runs: a short fan-out against Collab and the two Node servers it is compared
with, writing a result file of the shape docs/benchmarks.md is built from.

Never asserts speed (the machine is shared); only that the load generator connected, sent,
and counted deliveries with latencies, on every target. The Node peers are pinned in
bench/peers; `npm ci` there takes a few seconds and runs here when they are not installed.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.bench import run_quick_bench
from tests.support.npm import npm_ci

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "peers"
TARGETS = ["collab-daphne", "y-websocket", "hocuspocus"]


def test_bench_fanout_writes_results_for_every_target(tmp_path):
    npm_ci(PEERS)
    report = run_quick_bench(tmp_path, "fanout", TARGETS, timeout=300)

    assert report["machine"]["nproc"] >= 1
    assert len(report["load_before"]) == 3
    assert list(report["targets"]) == TARGETS
    for name, target in report["targets"].items():
        assert target["target"]["name"] == name
        runs = target["results"]["fanout"]
        assert [run["offered_rate"] for run in runs] == [200, 1000]
        for run in runs:
            assert run["delivered"] > 0, (name, run)
            assert run["delivered"] <= run["expected"] == run["updates"] * run["readers"]
            assert run["deliveries_per_s"] > 0
            assert 0 < run["p50_ms"] <= run["p99_ms"] <= run["max_ms"]
            assert len(run["load"]) == 3
