"""deploy/Caddyfile, read through `caddy adapt` (Debian's caddy), then run in front of stand-in
replicas: routing by document whatever the query, fail-over, the token kept out of the logs,
/metrics not published."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.support.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]


# --- deploy/Caddyfile: read through `caddy adapt` (what Caddy itself makes of it) -------------


def caddy() -> str:
    """Debian's caddy; installed like scripts/container-smoke does when missing and root."""
    found = shutil.which("caddy")
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "caddy"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
        )
        found = shutil.which("caddy")
    if not found:
        pytest.fail("caddy is missing: apt-get install caddy (Debian's package)")
    return found


@pytest.fixture(scope="module")
def caddy_config() -> dict:
    result = subprocess.run(
        [
            caddy(),
            "adapt",
            "--config",
            str(ROOT / "deploy" / "Caddyfile"),
            "--adapter",
            "caddyfile",
        ],
        env={**os.environ, "COLLAB_DOMAIN": "collab.example.com"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def site_routes(config: dict) -> list[dict]:
    """The routes of the site block, in the order Caddy runs them."""
    (site,) = config["apps"]["http"]["servers"]["srv0"]["routes"]
    assert site["match"] == [{"host": ["collab.example.com"]}]
    (handlers,) = [
        handler["routes"]
        for route in site["handle"][0]["routes"]
        for handler in route["handle"]
        if handler["handler"] == "subroute"
    ]
    return handlers


def route_setting(routes: list[dict], operation: str) -> dict:
    """The route whose request-header operation `operation` names X-Collab-Route."""
    (route,) = [
        route
        for route in routes
        if route["handle"][0]["handler"] == "headers"
        and "X-Collab-Route" in json.dumps(route["handle"][0].get("request", {}).get(operation, ""))
    ]
    return route


def test_the_proxy_sends_every_request_of_a_document_to_one_replica(caddy_config):
    routes = site_routes(caddy_config)
    handlers = [handler for route in routes for handler in route["handle"]]
    (proxy,) = [handler for handler in handlers if handler["handler"] == "reverse_proxy"]
    # The routing key is a header the proxy sets, not the URI: `uri_hash` would hash the query
    # (`?token=`, `?ack=1`) and split one document's clients over the replicas.
    assert proxy["load_balancing"]["selection_policy"] == {
        "policy": "header",
        "field": "X-Collab-Route",
    }
    assert "uri_hash" not in json.dumps(caddy_config)
    route = route_setting(routes, "set")
    dropped, keyed = routes.index(route_setting(routes, "delete")), routes.index(route)
    assert dropped < keyed < len(routes) - 1, "a client's own key is dropped, then the proxy's set"
    assert route["handle"][0]["request"]["set"]["X-Collab-Route"] == ["{http.regexp.document.1}"]
    pattern = re.compile(route["match"][0]["path_regexp"]["pattern"])

    def key(path: str) -> str | None:
        found = pattern.search(path)
        return found.group(1) if found else None

    document, other = "0b6c2f6e-3f1a-4d55-9a43-6f0b1b0c7d11", "7e0c6f83-02f4-4f59-b8d5-3c9f1a2b4c5d"
    same = {
        key(f"/ws/documents/{document}"),
        key(f"/ws/documents/{document}/"),
        key(f"/api/documents/{document}/state"),
        key(f"/api/documents/{document}/updates"),
    }
    assert same == {document}
    assert key(f"/ws/documents/{other}") == other
    assert key("/api/documents/") is None and key("/d/" + document) is None


def test_a_stopped_replica_hands_its_documents_to_the_others(caddy_config):
    (proxy,) = [
        handler
        for route in site_routes(caddy_config)
        for handler in route["handle"]
        if handler["handler"] == "reverse_proxy"
    ]
    assert proxy["load_balancing"]["try_duration"] >= 2 * 10**9  # retried on another replica
    assert proxy["health_checks"]["passive"]["fail_duration"] > 0
    active = proxy["health_checks"]["active"]
    assert active["uri"] == "/healthz"
    assert active["headers"]["Host"] == ["collab.example.com"]  # a host Collab accepts


def test_the_token_in_a_query_never_reaches_caddys_logs(caddy_config):
    logs = caddy_config["logging"]["logs"]
    assert set(logs) == {"default", "log0"}, "the access log and Caddy's own (errors) both"
    for name, log in logs.items():
        encoder = log["encoder"]
        assert encoder["format"] == "filter" and encoder["wrap"] == {"format": "json"}, name
        assert encoder["fields"]["request>uri"] == {
            "filter": "query",
            "actions": [{"type": "replace", "parameter": "token", "value": "REDACTED"}],
        }, name


def test_metrics_are_not_published_through_the_proxy_unless_asked(caddy_config):
    routes = site_routes(caddy_config)
    (hidden,) = [route for route in routes if route["handle"][0]["handler"] == "static_response"]
    assert hidden["handle"][0]["status_code"] == 404
    (matcher,) = hidden["match"]
    assert "/metrics" in matcher["path"]
    assert matcher["expression"] == '{env.COLLAB_PUBLISH_METRICS} != "1"'
    assert routes.index(hidden) == 0, "answered before anything reaches a replica"


# --- deploy/Caddyfile run: Caddy in front of two stand-in replicas (seconds, no Collab) ---------


class StandInReplica:
    """An HTTP server that answers every request with its own address: which replica served."""

    def __init__(self):
        self.paths: list[str] = []
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                replica.paths.append(self.path)
                body = replica.address.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningCaddy:
    def __init__(self, workdir: Path, upstreams: list[StandInReplica], **env: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.https_port = free_port()
        self.log = workdir / "caddy.log"
        self._log_file = self.log.open("w")
        self.ca = workdir / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        self.process = subprocess.Popen(
            [caddy(), "run", "--config", str(ROOT / "deploy" / "Caddyfile")],
            env={
                **os.environ,
                "COLLAB_DOMAIN": "localhost",
                "COLLAB_UPSTREAMS": " ".join(upstream.address for upstream in upstreams),
                "CADDY_HTTPS_PORT": str(self.https_port),
                "CADDY_HTTP_PORT": str(free_port()),
                "CADDY_ADMIN": "off",
                "XDG_DATA_HOME": str(workdir / "data"),
                "XDG_CONFIG_HOME": str(workdir / "config"),
                **env,
            },
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            eventually_sync(self._ready, timeout=30, interval=0.1, what="Caddy answers")
        except (AssertionError, RuntimeError):
            self.stop()
            pytest.fail(f"Caddy did not start:\n{self.log.read_text()}")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("caddy exited")
        if not self.ca.exists():
            return False
        try:
            return self.get("/").status_code == 200
        except requests.RequestException:
            return False

    def get(self, path: str, **kwargs) -> requests.Response:
        url = f"https://localhost:{self.https_port}{path}"
        return requests.get(url, verify=str(self.ca), timeout=10, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@pytest.fixture
def replicas():
    started = [StandInReplica() for _ in range(3)]
    yield started
    for replica in started:
        with contextlib.suppress(Exception):
            replica.stop()


@pytest.fixture
def start_caddy(tmp_path):
    """`start_caddy(name, upstreams, **env)`: a Caddy of its own folder; all stopped after."""
    started = []

    def start(name: str, upstreams: list[StandInReplica], **env: str) -> RunningCaddy:
        started.append(RunningCaddy(tmp_path / name, upstreams, **env))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def proxy(start_caddy, replicas):
    return start_caddy("proxy", replicas)


DOCUMENTS = [f"00000000-0000-4000-8000-{number:012d}" for number in range(48)]


def served_by(proxy: RunningCaddy, path: str, **kwargs) -> str:
    response = proxy.get(path, **kwargs)
    assert response.status_code == 200, (path, response.status_code)
    assert response.headers["X-Collab-Replica"] == response.text, "Caddy names the replica"
    return response.text


def test_a_documents_clients_reach_one_replica_whatever_their_query(proxy, replicas):
    chosen = {}
    for document in DOCUMENTS:
        seen = {
            served_by(proxy, f"/ws/documents/{document}?token=secret-a"),
            served_by(proxy, f"/ws/documents/{document}/?token=secret-b&ack=1"),
            served_by(proxy, f"/ws/documents/{document}", headers={"X-Collab-Route": "mine"}),
            served_by(proxy, f"/api/documents/{document}/state"),
        }
        assert len(seen) == 1, f"{document} went to {seen}"
        chosen[document] = seen.pop()
    assert set(chosen.values()) == {r.address for r in replicas}, "documents spread over all"


def test_a_stopped_replicas_documents_move_to_the_others_and_only_those(proxy, replicas):
    before = {document: served_by(proxy, f"/ws/documents/{document}") for document in DOCUMENTS}
    stopped = replicas[0].address
    replicas[0].stop()
    after = {document: served_by(proxy, f"/ws/documents/{document}?a=1") for document in DOCUMENTS}
    assert stopped not in after.values()
    # Rendezvous hashing: the documents of the replicas still up stay where they are.
    assert all(after[doc] == before[doc] for doc in DOCUMENTS if before[doc] != stopped)


def test_a_replica_added_takes_documents_from_the_others_and_moves_no_other(start_caddy, replicas):
    two = start_caddy("two", replicas[:2])
    before = {document: served_by(two, f"/ws/documents/{document}") for document in DOCUMENTS}
    two.stop()
    three = start_caddy("three", replicas)
    after = {document: served_by(three, f"/ws/documents/{document}") for document in DOCUMENTS}
    moved = [doc for doc in DOCUMENTS if after[doc] != before[doc]]
    assert moved and all(after[doc] == replicas[2].address for doc in moved)


def test_the_access_log_keeps_the_path_but_never_the_token(proxy):
    served_by(proxy, f"/ws/documents/{DOCUMENTS[0]}?token=never-logged-1234&ack=1")
    served_by(proxy, "/api/documents/", headers={"Authorization": "Bearer never-logged-5678"})
    eventually_sync(
        lambda: f"/ws/documents/{DOCUMENTS[0]}?" in proxy.log.read_text(), what="request logged"
    )
    log = proxy.log.read_text()
    assert "token=REDACTED" in log
    assert "never-logged" not in log


def test_metrics_answer_404_at_the_proxy_unless_published(proxy, replicas, start_caddy):
    assert proxy.get("/metrics").status_code == 404
    assert proxy.get("/metrics/").status_code == 404
    assert not any(path.startswith("/metrics") for r in replicas for path in r.paths)
    proxy.stop()
    published = start_caddy("published", replicas, COLLAB_PUBLISH_METRICS="1")
    assert published.get("/metrics").status_code == 200
