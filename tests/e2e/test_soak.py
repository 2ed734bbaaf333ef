"""The endurance soak (issue 22, docs/endurance.md): three minutes of ordinary traffic on two
processes with the defaults users get, judged as an operator would: no 5xx, no lost edit (a cold
load of every document equals its clients), database connections within the pools, access
changes that take effect, automatic versions taken. Memory and latency spikes are judged by the
long runs (LONG_RUN_CRITERIA below).

The run is scripts/soak itself, in 10-second windows (each holds a minute's fresh documents,
sign-ins, access change and named version). Before the connection pool (main at 26ef42e) it
failed within 4 s: 53-56 Postgres connections against a bound of 41 (each HTTP request's thread
kept its own), and the soak stopped before exhausting the shared server.

The verdict's own rules are checked on made-up records below, so that what fails them is known
without a machine quiet enough to show it."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.support.server import ROOT
from tests.support.soak.verdict import check_line, judge

SOAK_MINUTES = 3
WINDOW_SECONDS = 10
# Judged by the long runs only (scripts/soak --minutes 20 or more; docs/endurance.md): three
# minutes cannot tell the allocator's warm-up from a leak (RSS rises 3-4 MB per 10 windows in
# any of them), and on a machine shared with the rest of the suite most windows' latency is the
# other tests' CPU. What a short run does judge: errors, lost edits, connections, access changes.
LONG_RUN_CRITERIA = {"RSS slope", "p99 spikes"}


@pytest.mark.timeout(600)
def test_three_minutes_of_ordinary_traffic_pass_the_soak(tmp_path):
    done = subprocess.run(
        [
            str(ROOT / "scripts" / "soak"),
            f"--minutes={SOAK_MINUTES}",
            f"--window-seconds={WINDOW_SECONDS}",
            f"--out={tmp_path}",
            "--seed=1",
        ],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=540,
    )
    print(done.stdout[-6000:], done.stderr[-3000:])
    report = json.loads((tmp_path / "soak.json").read_text())
    assert (tmp_path / "soak.png").stat().st_size > 10_000
    failed = [
        check_line(check)
        for check in report["checks"]
        if not check["ok"] and check["criterion"] not in LONG_RUN_CRITERIA
    ]
    assert not failed, "\n".join(failed) + f"\n(logs: {report['logs']})"
    assert len(report["rows"]) == SOAK_MINUTES * 60 // WINDOW_SECONDS
    assert report["edits"]["rooms"] >= 30 + len(report["rows"]) * 3  # every room left was checked


def record(**changes) -> dict:
    """A soak's record in which every criterion passes, with `changes`."""
    windows = 20
    rows = [
        {
            "t_s": 60.0 * n,
            "p99_ms": 10.0,
            "others_cpu": 0.1,
            "requests": 180,
            "http_5xx": 0,
            "http_errors": 0,
            "ws_unexpected_closes": 0,
            "ws_failed_joins": 0,
        }
        for n in range(1, windows + 1)
    ]
    samples = [
        {"t": 6.0 * n, "rss_mb": [120.0 + (n % 10) * 0.1, 118.0], "connections": 20}
        for n in range(windows * 10)
    ]
    base = {
        "options": {"window_seconds": 60},
        "cpus": 2,
        "connection_bound": 41,
        "rows": rows,
        "samples": samples,
        "edits": {
            "rooms": 90,
            "missing": 0,
            "disagreeing": [],
            "cold": {"checked": 90, "mismatches": []},
        },
        "problems": [],
        "automatic_versions": 60,
        "stopped_early": None,
    }
    return {**base, **changes}


def verdict(report: dict) -> dict[str, str]:
    return {check.criterion: ("pass" if check.ok else "FAIL") for check in judge(report)}


def test_a_record_of_a_good_week_passes_every_criterion():
    assert set(verdict(record()).values()) == {"pass"}


def test_half_a_megabyte_more_every_ten_minutes_is_flat_one_and_a_half_is_a_leak():
    def growing(mb_per_10_minutes):
        report = record()
        for sample in report["samples"]:
            sample["rss_mb"][1] += mb_per_10_minutes * sample["t"] / 600
        return verdict(report)["RSS slope"]

    assert growing(0.5) == "pass"
    assert growing(1.5) == "FAIL"


def test_one_connection_past_the_pools_fails():
    report = record()
    report["samples"][50]["connections"] = 42
    assert verdict(report)["connections"] == "FAIL"


def test_a_spike_fails_unless_the_machine_was_busy_with_something_else():
    report = record()
    report["rows"][7]["p99_ms"] = 31.0
    assert verdict(report)["p99 spikes"] == "FAIL"
    report["rows"][7]["others_cpu"] = 1.2  # another job had more than a quarter of the CPUs
    assert verdict(report)["p99 spikes"] == "pass"


def test_one_edit_missing_or_one_document_served_otherwise_fails():
    edits = record()["edits"]
    assert verdict(record(edits={**edits, "missing": 1}))["no lost edit"] == "FAIL"
    cold = {"checked": 90, "mismatches": [{"room": "x", "detail": "..."}]}
    assert verdict(record(edits={**edits, "cold": cold}))["no lost edit"] == "FAIL"


def test_a_5xx_fails():
    report = record()
    report["rows"][3]["http_5xx"] = 1
    assert verdict(report)["no 5xx"] == "FAIL"
