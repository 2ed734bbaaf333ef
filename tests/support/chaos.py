"""The chaos scenario of issue 12, shared by tests/e2e/test_chaos.py and scripts/chaos-soak.

Real y-websocket clients (tests/e2e/yjs-client/chaos.mjs, one Node process) type at random into
three documents (rich text as y-prosemirror writes it, a map, an array), move between two
`manage.py serve` processes and go offline and back, while each process is SIGKILLed and
restarted once and a private Redis restarts once. Then every client of a document must hold the
same content, and a cold server (a fresh process after the others stopped) must serve exactly
that content, over HTTP (`GET /api/documents/<id>/state`) and over a WebSocket.

The caller provides the database (the servers use the one Django is connected to).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import queue
import random
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.redis_server import RedisServer
from tests.support.server import ROOT, ServerProcess, free_port, server_env

NODE_CLIENT = ROOT / "tests" / "e2e" / "yjs-client" / "chaos.mjs"
KINDS = ("rich", "map", "array")
SHARED_TYPES = ("default", "map", "array")


@dataclass
class RoundResult:
    seed: int
    problems: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    phases: dict = field(default_factory=dict)

    def phase(self, name: str, since: float) -> float:
        now = time.monotonic()
        self.phases[name] = round(now - since, 1)
        return now

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        head = f"seed {self.seed}: {'ok' if self.ok else 'FAILED'} in {self.seconds:.0f} s"
        lines = [
            head,
            f"  faults: {', '.join(self.faults)}",
            f"  clients: {self.stats}",
            f"  phases (s): {self.phases}",
        ]
        lines += [f"  {line}" for problem in self.problems for line in problem.splitlines()]
        if not self.ok:
            lines.append("  logs: " + " ".join(str(path) for path in self.logs))
        return "\n".join(lines)


def create_documents(prefix: str) -> tuple[list[dict], str]:
    """An owner with one document per kind and an API token: ([{id, kind}], token)."""
    from django.contrib.auth import get_user_model

    from documents.models import ApiToken, Document

    owner = get_user_model().objects.create_user(username=f"{prefix}-owner", password="unused-pw")
    docs = [
        {"id": str(Document.objects.create(title=f"chaos {kind}", owner=owner).id), "kind": kind}
        for kind in KINDS
    ]
    return docs, ApiToken.issue(owner)[1]


class NodeClients:
    """The Node process: commands go in as JSON lines, events come back the same way."""

    def __init__(self, config: dict, log_path: Path):
        self.log_path = log_path
        with log_path.open("ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                ["node", str(NODE_CLIENT), json.dumps(config)],
                cwd=NODE_CLIENT.parent,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.events: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exited"})

    def send(self, **command) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def wait(self, *names: str, timeout: float) -> dict:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"Node clients sent no {names} within {timeout} s") from None
        if event["event"] not in names:
            raise RuntimeError(f"Node clients sent {event['event']!r}, expected {names}")
        return event

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        self._reader.join(10)  # it reads to the end of the dead process's output
        self.process.stdout.close()


class Faults:
    """Each server process SIGKILLed and restarted once, Redis restarted once, in a random order
    at random moments of the chaos window; each stays down a random while."""

    def __init__(self, rng: random.Random, servers: list[ServerProcess], redis: RedisServer):
        self.rng = rng
        self.servers = servers
        self.redis = redis
        self.done: list[str] = []

    def run(self, seconds: float) -> None:
        actions = [*(self._kill_server(i) for i in range(len(self.servers))), self._restart_redis]
        self.rng.shuffle(actions)
        slot = seconds * 0.8 / len(actions)
        started = time.monotonic()
        for n, action in enumerate(actions):
            at = started + seconds * 0.05 + slot * (n + self.rng.uniform(0.1, 0.6))
            time.sleep(max(0.0, at - time.monotonic()))  # the chaos schedule itself
            action()

    def _down_for(self) -> float:
        return self.rng.uniform(0.2, 2.5)

    def _kill_server(self, index: int):
        def kill_and_restart() -> None:
            server = self.servers[index]
            server.kill()
            down = self._down_for()
            time.sleep(down)  # the fault itself: how long the process stays dead
            server.start()
            self.done.append(f"SIGKILL server {index} ({down:.1f} s down)")

        return kill_and_restart

    def _restart_redis(self) -> None:
        self.redis.stop()
        down = self._down_for()
        time.sleep(down)  # the fault itself: how long Redis stays away
        self.redis.start()
        self.done.append(f"Redis restart ({down:.1f} s down)")


def run_round(seed: int, *, seconds: float = 35, clients_per_doc: int = 3) -> RoundResult:
    """One chaos round on fresh documents in the database Django is connected to."""
    rng = random.Random(seed)
    result = RoundResult(seed=seed)
    started = time.monotonic()
    tag = f"chaos{seed}-{uuid.uuid4().hex[:8]}"
    docs, token = create_documents(tag)
    log_dir = ROOT / "var" / "test-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis = RedisServer().start()
    env = server_env(
        REDIS_URL=redis.url,
        COLLAB_CHANNEL_PREFIX=tag.replace("-", ""),
        COLLAB_ANTI_ENTROPY_SECONDS="1",
        # compaction after every few commits, so it races with everything else
        COLLAB_COMPACT_AFTER_UPDATES="20",
        # reconnect storms after a kill must not be refused (4429 stops y-websocket for good)
        COLLAB_CONNECTIONS_PER_MINUTE="100000",
        PYTHONFAULTHANDLER="1",
    )
    servers = [ServerProcess(port=free_port(), env=env) for _ in range(2)]
    cold = ServerProcess(port=free_port(), env=env)
    clients = None
    mark = started
    try:
        for server in servers:
            server.start()
        mark = result.phase("start", mark)
        node_log = log_dir / f"{tag}-node.log"
        result.logs = [node_log, *(server.log_path for server in servers)]
        clients = NodeClients(
            {
                "servers": [server.ws for server in servers],
                "docs": docs,
                "token": token,
                "clientsPerDoc": clients_per_doc,
                "seed": seed,
            },
            node_log,
        )
        clients.wait("ready", timeout=60)
        mark = result.phase("clients ready", mark)
        clients.send(cmd="chaos", seconds=seconds)
        faults = Faults(rng, servers, redis)
        faults.run(seconds)
        result.faults = faults.done
        result.stats = clients.wait("chaos-done", timeout=seconds + 60)["stats"]
        mark = result.phase("chaos", mark)
        clients.send(cmd="settle", timeout=60)
        settled = clients.wait("settled", "unsettled", timeout=90)
        mark = result.phase("settle", mark)
        result.problems += compare_clients(docs, settled["docs"])
        if settled["event"] == "unsettled" and not result.problems:
            result.problems.append(f"clients did not settle: {settled['docs']}")
        reference = {doc_id: views[0] for doc_id, views in settled["docs"].items()}
        # SIGTERM commits what a process holds: one process with its clients still connected
        # (they hear 1001), the other after every client left (its rooms idle)
        result.problems += stop_gracefully(servers[0])
        clients.send(cmd="disconnect")
        clients.wait("disconnected", timeout=30)
        result.problems += stop_gracefully(servers[1])
        mark = result.phase("stop", mark)
        cold.start()
        mark = result.phase("cold start", mark)
        result.logs.append(cold.log_path)
        clients.send(cmd="verify", http=cold.http, ws=cold.ws, timeout=30)
        verified = clients.wait("verified", timeout=120)
        mark = result.phase("verify", mark)
        result.problems += compare_cold(docs, reference, verified["docs"])
    finally:
        if clients is not None:
            clients.stop()
        for server in [*servers, cold]:
            server.stop()
        redis.stop()
    result.seconds = time.monotonic() - started
    return result


def stop_gracefully(server: ServerProcess, timeout: float = 15) -> list[str]:
    """SIGTERM: whatever the process holds is committed first. One that hangs is dumped with
    SIGABRT (PYTHONFAULTHANDLER prints every thread's stack to its log)."""
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout)
        return []
    except subprocess.TimeoutExpired:
        server.process.send_signal(signal.SIGABRT)
        server.process.wait()
        return [
            f"server on port {server.port} did not exit {timeout} s after SIGTERM (stacks in "
            f"{server.log_path})"
        ]


def compare_clients(docs: list[dict], views_by_doc: dict) -> list[str]:
    problems = []
    for doc in docs:
        views = views_by_doc[doc["id"]]
        first = views[0]
        for view in views:
            state = (
                f"server {view['server']}, connected {view['connected']}, synced {view['synced']}"
            )
            differences = describe_difference(first, view, first["client"], view["client"])
            if view["pending"]:
                differences.insert(0, f"{view['client']} holds pending content")
            if differences or not view["synced"]:
                problems.append(
                    f"document {doc['id']} ({doc['kind']}): clients disagree ({state})\n"
                    + "\n".join(differences)
                )
    return problems


def compare_cold(docs: list[dict], reference: dict, verified: dict) -> list[str]:
    problems = []
    for doc in docs:
        expected = reference[doc["id"]]
        for path in ("http", "ws"):
            served = verified[doc["id"]][path]
            differences = describe_difference(expected, served, "clients", f"cold server {path}")
            if served.get("status", 200) != 200 or served.get("synced") is False:
                differences.insert(0, f"cold server {path} answered {served}")
            if served["pending"]:
                differences.insert(
                    0, f"cold server {path} serves content with missing dependencies"
                )
            if differences:
                problems.append(
                    f"document {doc['id']} ({doc['kind']}): the cold server ({path}) serves other "
                    "content than the clients hold\n" + "\n".join(differences)
                )
    return problems


def describe_difference(expected: dict, actual: dict, expected_name: str, actual_name: str):
    """Which shared types and which clients' clocks differ, with a short diff of each type."""
    differences = []
    for name in SHARED_TYPES:
        want, got = expected["content"][name], actual["content"][name]
        if want != got:
            diff = difflib.unified_diff(
                json.dumps(want, indent=1, sort_keys=True).splitlines(),
                json.dumps(got, indent=1, sort_keys=True).splitlines(),
                expected_name,
                actual_name,
                lineterm="",
                n=1,
            )
            lines = list(diff)
            shown = lines[:40] + (
                [f"... {len(lines) - 40} more diff lines"] if len(lines) > 40 else []
            )
            differences.append(f"shared type {name!r} differs:\n" + "\n".join(shown))
    if expected["sv"] != actual["sv"]:
        clocks = {
            client: (expected["sv"].get(client, 0), actual["sv"].get(client, 0))
            for client in sorted({*expected["sv"], *actual["sv"]})
            if expected["sv"].get(client, 0) != actual["sv"].get(client, 0)
        }
        differences.append(
            f"state vectors differ (client: {expected_name} clock, {actual_name} clock): {clocks}"
        )
    return differences
