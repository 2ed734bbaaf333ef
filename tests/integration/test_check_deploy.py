"""Production settings: `manage.py check --deploy` is clean with the documented environment, and
COLLAB_LOG_FORMAT=json writes log records a collector can parse.

"The documented environment" is read from the deploy files themselves (compose.yaml's replica
environment, filled in from .env.example), so the test breaks when they drift apart.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from collab.logging import JsonFormatter
from tests.support.server import free_port
from tests.support.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]


def env_example() -> dict[str, str]:
    values = dict(
        re.findall(r"^(\w+)=(.*)$", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)
    )
    # The two values an operator must make up themselves.
    values["SECRET_KEY"] = secrets.token_urlsafe(50)
    values["POSTGRES_PASSWORD"] = secrets.token_hex(24)
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} forms."""

    def one(match: re.Match) -> str:
        name, form, rest = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        if form == ":-":
            return rest
        raise AssertionError(f"compose.yaml needs {name}, which .env.example leaves empty")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, str(value))


def production_env() -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    variables = env_example()
    replica = compose["services"]["collab-1"]["environment"]
    env = {name: interpolate(value, variables) for name, value in replica.items()}
    # Only what a container would have: nothing of this shell's DEBUG, test keys and the like.
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment():
    env = production_env()
    assert env["COLLAB_SSL_REDIRECT"] == "1" and int(env["COLLAB_HSTS_SECONDS"]) > 0
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_deployment_without_https_redirect_and_hsts():
    env = {**production_env(), "COLLAB_SSL_REDIRECT": "0", "COLLAB_HSTS_SECONDS": "0"}
    result = check_deploy(env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_json_formatter_keeps_extras_and_the_traceback_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("collab.test").makeRecord(
            "collab.test",
            logging.ERROR,
            __file__,
            1,
            "flush failed for %s",
            ("doc-1",),
            sys.exc_info(),
            extra={"document": "doc-1", "pending": 3},
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "collab.test"
    assert entry["message"] == "flush failed for doc-1"
    assert entry["document"] == "doc-1" and entry["pending"] == 3
    assert "ValueError: boom" in entry["exception"]


def test_server_with_json_log_format_writes_json_lines_to_stdout(tmp_path):
    port = free_port()
    env = {
        **production_env(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'collab.sqlite3'}",
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "COLLAB_LOG_FORMAT": "json",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answers() -> bool:
            assert server.poll() is None, server.stderr.read()
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
            except requests.ConnectionError:
                return False

        eventually_sync(answers, timeout=30, interval=0.1, what="the server started")
        # Django logs a request for a missing page as a warning.
        headers = {"X-Forwarded-Proto": "https"}
        missing = requests.get(f"http://127.0.0.1:{port}/no-such-page", headers=headers)
        assert missing.status_code == 404
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            stdout, stderr = server.communicate()
    records = [
        json.loads(line)
        for line in stdout.splitlines()
        if line.strip() and not line.startswith("Collab serving on")
    ]
    assert any(
        r["level"] == "WARNING"
        and r["logger"] == "django.request"
        and "/no-such-page" in r["message"]
        for r in records
    ), stdout + stderr
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
