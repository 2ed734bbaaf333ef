"""The container image, built and run on this machine: scripts/container-smoke.

The script builds the image (making local base images where no registry is reachable), runs
migrations, a user and a token through it, drives edits over HTTP and WebSocket, checks SIGTERM
(1001, exit 0, JSON logs), a restart, and two replicas behind deploy/Caddyfile over https/wss:
routing by document (one replica per document whatever the query string), and a replica stopped
mid-session whose clients move to the other with every edit kept (clients and a cold load).
It installs Debian's docker.io, debootstrap and caddy when they are missing; when that is not
possible the test fails with the script's reason (docs/self-hosting.md: the smoke test).
About 2.5 to 6 minutes on a cold machine, a minute or two with the base images cached.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT_SECONDS = 1200


@pytest.mark.timeout(LIMIT_SECONDS + 60)
def test_image_builds_serves_an_edit_and_stops_cleanly_on_sigterm():
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "container-smoke")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = script.communicate(timeout=LIMIT_SECONDS)
    except subprocess.TimeoutExpired:
        # SIGTERM, so the script's clean-up stops the containers and the dockerd it started.
        os.killpg(script.pid, signal.SIGTERM)
        output, _ = script.communicate(timeout=60)
        pytest.fail(f"scripts/container-smoke took over {LIMIT_SECONDS} s:\n{output[-6000:]}")
    assert script.returncode == 0, f"scripts/container-smoke failed:\n{output[-6000:]}"
    assert "container-smoke: PASSED" in output
