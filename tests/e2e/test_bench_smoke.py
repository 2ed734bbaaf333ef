"""The bench still runs: a short fan-out against Collab and the two Node servers it is compared
with, writing a result file of the shape docs/benchmarks.md is built from.

Never asserts speed (the machine is shared); only that the load generator connected, sent,
and counted deliveries with latencies, on every target. The Node peers are pinned in
bench/peers; `npm ci` there takes a few seconds and runs here when they are not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.npm import npm_ci

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "peers"
TARGETS = ["collab-daphne", "y-websocket", "hocuspocus"]


def test_bench_fanout_writes_results_for_every_target(tmp_path):
    npm_ci(PEERS)
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--no-plot",
            "--scenarios=fanout",
            f"--targets={','.join(TARGETS)}",
            f"--out={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [result_file] = tmp_path.glob("*-quick.json")
    report = json.loads(result_file.read_text())

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
