"""The servers under test, each started fresh on free ports of 127.0.0.1 and stopped after.

- Collab under daphne (`manage.py serve`, what `make run` and the container run) or uvicorn
  (`uvicorn collab.asgi:application`), on an embedded SQLite database in a temp dir, or on
  Postgres with two processes sharing Redis;
- the y-websocket reference server (@y/websocket-server's own `server.js`, as shipped);
- Hocuspocus (`new Server({port})`, defaults, no extensions: bench/peers/hocuspocus.mjs).
The Node peers keep documents in memory only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.request import urlopen

from ysync import Dialect

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEERS = BENCH / "peers"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/collab_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Target:
    name = "?"
    dialect_kind = "plain"

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.logs = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Target:
        raise NotImplementedError

    def _spawn(self, argv: list[str], env: dict, health_path: str) -> None:
        port = self.ports[len(self.processes)]
        log = (self.logs / f"server-{port}.log").open("ab")
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {log.name} in {self.logs}")
            try:
                with urlopen(f"http://127.0.0.1:{port}{health_path}", timeout=1):
                    return
            except OSError as exc:
                if getattr(exc, "code", None):  # an HTTP error status: it is serving
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up; see {self.logs}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def log_tail(self, lines: int = 15) -> list[str]:
        """The last distinct error lines of the server logs (for a failed scenario)."""
        out: list[str] = []
        for path in sorted(self.logs.glob("server-*.log")):
            text = path.read_text(errors="replace").splitlines()
            errors = [line for line in text if "ERROR" in line or "Error" in line]
            out += [f"{path.name}: {line[:300]}" for line in dict.fromkeys(errors)][-lines:]
        return out

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def rss(self) -> int:
        return sum(rss_bytes(pid) for pid in self.pids)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    # -- documents ---------------------------------------------------------------------------
    def new_documents(self, count: int) -> list[str]:
        return [str(uuid.uuid4()) for _ in range(count)]

    def url(self, document: str, process: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ports[process % len(self.ports)]}/{document}"

    def dialect(self, document: str) -> Dialect:
        return Dialect(self.dialect_kind, document)

    def seed(self, document: str, updates: list[bytes]) -> bool:
        """Store a history without a client (Collab only); False where nothing is stored."""
        return False

    def describe(self) -> dict:
        return {"name": self.name}


class NodePeer(Target):
    script: Path

    def start(self) -> NodePeer:
        if not (PEERS / "node_modules").is_dir():
            raise RuntimeError("bench/peers/node_modules is missing: run bench/setup.sh")
        self.ports = [free_port()]
        env = dict(os.environ, HOST="127.0.0.1", PORT=str(self.ports[0]), NODE_ENV="production")
        self._spawn(["node", str(self.script)], env, "/")
        return self

    def describe(self) -> dict:
        lock = json.loads((PEERS / "package-lock.json").read_text())
        package = self.package
        version = lock["packages"][f"node_modules/{package}"]["version"]
        yjs = lock["packages"]["node_modules/yjs"]["version"]
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
        return {
            "name": self.name,
            "package": f"{package}@{version}",
            "yjs": yjs,
            "node": node.strip(),
        }


class YWebsocket(NodePeer):
    name = "y-websocket"
    package = "@y/websocket-server"
    script = PEERS / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"


class Hocuspocus(NodePeer):
    name = "hocuspocus"
    package = "@hocuspocus/server"
    dialect_kind = "hocuspocus"
    script = PEERS / "hocuspocus.mjs"

    def url(self, document: str, process: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ports[0]}/"


class Collab(Target):
    """Collab as an operator runs it; `server` is daphne or uvicorn."""

    def __init__(
        self,
        server: str = "daphne",
        postgres: bool = False,
        processes: int = 1,
        redis: bool = True,
        coalesce: bool = True,
    ):
        self.server = server
        self.coalesce = coalesce
        self.postgres = postgres
        self.redis = postgres and redis
        self.process_count = processes
        self.name = f"collab-{server}"
        if postgres:
            self.name += "-postgres-redis" if self.redis else "-postgres"
        if processes > 1:
            self.name += f"-{processes}proc"
        if not coalesce:
            self.name += "-nocoalesce"
        super().__init__()
        self.token = ""
        self.env: dict = {}

    def start(self) -> Collab:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="collab.settings",
            SECRET_KEY="collab-bench-only",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
            # The bench opens thousands of sockets from one address within a minute.
            COLLAB_CONNECTIONS_PER_MINUTE="100000000",
            # Unload idle rooms soon, so that a cold load can be measured twice in one run.
            COLLAB_ROOM_IDLE_SECONDS="2",
            COLLAB_COALESCE="1" if self.coalesce else "0",
        )
        if self.postgres:
            env.update(DATABASE_URL=PG_URL)
            if self.redis:
                env.update(REDIS_URL=REDIS_URL)
            self.admin("recreate-postgres", env=env)
        else:
            env["DATABASE_URL"] = f"sqlite:///{self.logs}/db.sqlite3"
        self.env = env
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        self.token = self.admin("token")["token"]
        self.ports = [free_port() for _ in range(self.process_count)]
        for port in self.ports:
            self._spawn(self._argv(port), env, "/healthz")
        return self

    def _argv(self, port: int) -> list[str]:
        # What an operator runs: `manage.py serve`, with the server named (its default is
        # not what the target measures).
        return [sys.executable, "manage.py", "serve", "--server", self.server, "--port", str(port)]

    def admin(self, *args: str, env: dict | None = None) -> dict:
        done = subprocess.run(
            [sys.executable, str(BENCH / "collab_admin.py"), *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"collab_admin {args[0]} failed:\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def new_documents(self, count: int) -> list[str]:
        return self.admin("documents", str(count))["ids"]

    def url(self, document: str, process: int = 0) -> str:
        port = self.ports[process % len(self.ports)]
        return f"ws://127.0.0.1:{port}/ws/documents/{document}?token={self.token}"

    def seed(self, document: str, updates: list[bytes]) -> bool:
        path = self.logs / "history.bin"
        with path.open("wb") as out:
            for update in updates:
                out.write(len(update).to_bytes(4, "big") + update)
        self.admin("seed", document, str(path))
        return True

    def describe(self) -> dict:
        from importlib.metadata import version

        server = {"daphne": "daphne", "uvicorn": "uvicorn"}[self.server]
        described = {
            "name": self.name,
            "server": f"{server} {version(server)}",
            "pycrdt": version("pycrdt"),
            "python": sys.version.split()[0],
            "database": "postgres" if self.postgres else "sqlite (temp dir)",
            "processes": self.process_count,
            "coalesce": self.coalesce,
            "redis": REDIS_URL if self.redis else None,
        }
        if self.server == "uvicorn":
            described["uvicorn_ws"] = "auto (websockets sans-I/O)"
        return described

    def stop(self) -> None:
        super().stop()
        if not self.postgres:
            shutil.rmtree(self.logs / "db.sqlite3", ignore_errors=True)


class CollabBehindProxy(Collab):
    """Two Collab processes (Postgres, Redis) behind Caddy, which routes by document: every
    client of a document reaches the same process (`lb_policy header` on a header copied from
    the path; `uri_hash` would hash the query, i.e. the token, too)."""

    CADDYFILE = """{{
\tadmin off
\tauto_https off
}}
http://127.0.0.1:{port} {{
\trequest_header X-Collab-Document {{path}}
\treverse_proxy {upstreams} {{
\t\tlb_policy header X-Collab-Document
\t}}
}}
"""

    def __init__(self) -> None:
        super().__init__("daphne", postgres=True, processes=2)
        self.name += "-caddy"
        self.proxy_port = 0

    def start(self) -> CollabBehindProxy:
        caddy = shutil.which("caddy")
        if caddy is None:
            raise RuntimeError("caddy is not installed: the proxy target is skipped")
        super().start()
        try:
            self._start_proxy(caddy)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_proxy(self, caddy: str) -> None:
        self.proxy_port = free_port()
        upstreams = " ".join(f"127.0.0.1:{port}" for port in self.ports)
        config = self.logs / "Caddyfile"
        config.write_text(self.CADDYFILE.format(port=self.proxy_port, upstreams=upstreams))
        self.ports.append(self.proxy_port)  # _spawn health-checks ports[len(processes)]
        self._spawn(
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
            {
                **os.environ,
                "HOME": str(self.logs),
                "XDG_DATA_HOME": str(self.logs),
                "XDG_CONFIG_HOME": str(self.logs),
            },
            "/healthz",
        )
        self.ports.pop()

    def url(self, document: str, process: int = 0) -> str:
        return f"ws://127.0.0.1:{self.proxy_port}/ws/documents/{document}?token={self.token}"

    def describe(self) -> dict:
        version = subprocess.run(["caddy", "version"], capture_output=True, text=True).stdout
        return {**super().describe(), "proxy": f"caddy {version.split()[0]}, lb_policy header"}


def make_target(name: str) -> Target:
    return {
        "collab-daphne": lambda: Collab("daphne"),
        "collab-uvicorn": lambda: Collab("uvicorn"),
        "collab-daphne-postgres": lambda: Collab("daphne", postgres=True, redis=False),
        "collab-uvicorn-postgres": lambda: Collab("uvicorn", postgres=True, redis=False),
        "collab-daphne-postgres-nocoalesce": lambda: Collab(
            "daphne", postgres=True, redis=False, coalesce=False
        ),
        "collab-daphne-postgres-redis-2proc": lambda: Collab("daphne", postgres=True, processes=2),
        "collab-daphne-postgres-redis-2proc-caddy": CollabBehindProxy,
        "y-websocket": YWebsocket,
        "hocuspocus": Hocuspocus,
    }[name]()
