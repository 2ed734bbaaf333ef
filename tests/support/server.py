"""Start real `manage.py serve` processes for end-to-end tests.

The process serves the same database the test writes to (pytest-django's test database), so a
test that uses it must use `transactional_db` (its rows are committed, the server sees them).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_of_test_db() -> str:
    """A DATABASE_URL naming the database the running test uses."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


# The documented ways to run Collab (docs/self-hosting.md), as the command each one starts.
WAYS_TO_RUN = {
    "serve": ["manage.py", "serve", "--port", "{port}"],
    "serve --server uvicorn": ["manage.py", "serve", "--server", "uvicorn", "--port", "{port}"],
    "daphne": ["-m", "daphne", "-p", "{port}", "collab.asgi:application"],
    "uvicorn": ["-m", "uvicorn", "--port", "{port}", "collab.asgi:application"],
}


@dataclass
class ServerProcess:
    port: int
    env: dict
    way: str = "serve"
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=lambda: Path("/dev/null"))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServerProcess:
        log_dir = ROOT / "var" / "test-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"serve-{self.port}.log"
        argv = [arg.format(port=self.port) for arg in WAYS_TO_RUN[self.way]]
        self.process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early; see {self.log_path}")
            try:
                if requests.get(self.http + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not come up; see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(**overrides: str) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url_of_test_db(),
            "SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_SETTINGS_MODULE": "collab.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("REDIS_URL", None)
    env.update(overrides)
    return env


def start_server(way: str = "serve", **env_overrides: str) -> ServerProcess:
    return ServerProcess(port=free_port(), env=server_env(**env_overrides), way=way).start()
