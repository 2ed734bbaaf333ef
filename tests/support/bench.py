"""Run bench/run.py the way its smoke tests do: quick, no plots, into a folder of the test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.server import ROOT


def run_quick_bench(
    out: Path, scenarios: str, targets: list[str], *, timeout: float, env: dict | None = None
) -> dict:
    """`bench/run.py --quick` for these scenarios and targets; its report (the JSON it wrote).
    subprocess.run kills the bench if it outlives `timeout`."""
    done = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--no-plot",
            f"--scenarios={scenarios}",
            f"--targets={','.join(targets)}",
            f"--out={out}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [result_file] = out.glob("*-quick.json")
    return json.loads(result_file.read_text())
