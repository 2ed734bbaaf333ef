"""A private Postgres cluster on a free port, for tests that restart or kill the database (never
the machine's shared one). Debian's server binaries; run as the `postgres` user when the tests
run as root (Postgres refuses to run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.support.server import free_port
from tests.support.waiting import eventually_sync


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"Postgres' {name} is not installed (apt-get install postgresql)")
    return found[-1]


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="collab-postgres-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._run(_bin("initdb"), "-D", self.data, "--auth=trust", "-U", "postgres", "-E", "UTF8")

    def _run(self, *argv) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run(
            [*prefix, *map(str, argv)], check=True, stdout=subprocess.DEVNULL, cwd=self.dir
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir}"
        self._run(_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "start")
        eventually_sync(self.answers, timeout=20, what="private Postgres answers")
        return self

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=1) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def stop(self) -> None:
        if self.running():
            self._run(_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        try:
            os.kill(self.postmaster_pid(), 0)
        except (FileNotFoundError, ProcessLookupError):
            return False  # never started, stopped, or killed (a stale postmaster.pid)
        return True

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill_postmaster(self) -> None:
        """kill -9 of the postmaster, as a crash would; returns once its backends have gone
        (they notice the postmaster's death by themselves) so that it can start again."""
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGKILL)
        eventually_sync(lambda: not self._backends_alive(pid), timeout=20, what="backends gone")

    def _backends_alive(self, postmaster_pid: int) -> bool:
        for status in glob.glob("/proc/[0-9]*/status"):
            try:
                text = Path(status).read_text()
            except OSError:
                continue
            if "State:\tZ" in text:
                continue  # exited, not yet reaped
            if f"PPid:\t{postmaster_pid}\n" in text or status == f"/proc/{postmaster_pid}/status":
                return True
        return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
