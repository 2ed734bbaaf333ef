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
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

from tests.support.held_store import RELEASE_SIGNAL
from tests.support.waiting import eventually_sync

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
UNDER_DAPHNE = {"serve", "daphne"}  # the ways that run daphne; the others run uvicorn
HELD_STORE_LAUNCHER = ["-m", "tests.support.held_store"]  # in place of manage.py


@dataclass
class ServerProcess:
    port: int
    env: dict
    way: str = "serve"
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=lambda: Path("/dev/null"))
    # manage.py run through tests.support.held_store: commits wait for release_store()
    held_store: bool = False
    log_dir: Path = ROOT / "var" / "test-logs"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServerProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"serve-{self.port}.log"
        argv = [arg.format(port=self.port) for arg in WAYS_TO_RUN[self.way]]
        if self.held_store:
            assert argv[0] == "manage.py", f"a held store needs manage.py, not {self.way}"
            argv[:1] = HELD_STORE_LAUNCHER
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            eventually_sync(
                self._healthy, timeout=timeout, interval=0.1, what=f"/healthz; see {self.log_path}"
            )
        except BaseException:
            self.kill()  # never leave a half-started process behind
            raise
        return self

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited early; see {self.log_path}")
        try:
            return requests.get(self.http + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def release_store(self) -> None:
        """Let a held store (`start_server(held_store=True)`) commit."""
        assert self.held_store, "this server's store is not held"
        self.process.send_signal(RELEASE_SIGNAL)

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


def start_server(
    way: str = "serve", *, held_store: bool = False, **env_overrides: str
) -> ServerProcess:
    """A server on a free port, run one of WAYS_TO_RUN; `held_store`: it commits nothing until
    `release_store()`."""
    env = server_env(**env_overrides)
    return ServerProcess(port=free_port(), env=env, way=way, held_store=held_store).start()


class ServerGroup:
    """Servers started for one test, all stopped on exit (a fixture's finalizer)."""

    def __init__(self) -> None:
        self.started: list[ServerProcess] = []

    def start(self, **options) -> ServerProcess:
        """`start_server(**options)`, remembered for the stop."""
        server = start_server(**options)
        self.started.append(server)
        return server

    def start_cluster(self, count: int, redis_url: str, **env: str) -> list[ServerProcess]:
        """`count` processes serving together: one Redis, a channel prefix of their own (tests
        never hear each other on the shared Redis)."""
        prefix = "t" + uuid.uuid4().hex[:10]
        return [
            self.start(REDIS_URL=redis_url, COLLAB_CHANNEL_PREFIX=prefix, **env)
            for _ in range(count)
        ]

    def __enter__(self) -> ServerGroup:
        return self

    def __exit__(self, *exc_info) -> None:
        for server in self.started:
            server.stop()
