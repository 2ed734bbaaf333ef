"""After the database restarts or crashes, a server process serves again by itself within 5 s
of the database's return, and never answers 500 meanwhile (SPEC.md "Endurance")."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.postgres_server import PostgresServer
from tests.support.server import ROOT, ServerGroup, server_env
from tests.support.yclient import YClient, document_url, synced_client

RECOVERY_SECONDS = 5  # SPEC.md: serves again within 5 s of the database's return

PREPARE = """
from documents.models import ApiToken, Document
from django.contrib.auth.models import User
owner = User.objects.create_user("owner", password="pw-secret-123")
document = Document.objects.create(title="kept", owner=owner)
print(document.id, ApiToken.issue(owner)[1])
"""


@pytest.fixture
def private_postgres():
    postgres = PostgresServer().start()
    yield postgres
    postgres.remove()


def prepared_database(postgres: PostgresServer) -> tuple[str, str, str]:
    """A migrated Collab database on the private cluster: (url, document id, owner's token)."""
    url = postgres.create_database("collab")
    env = server_env(DATABASE_URL=url)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [*manage, "shell", "-c", PREPARE], cwd=ROOT, env=env, check=True, capture_output=True
    )
    document_id, token = out.stdout.decode().split()[-2:]
    return url, document_id, token


def list_documents(server, token: str) -> requests.Response:
    return requests.get(
        f"{server.http}/api/documents/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


async def joins(server, document_id: str, token: str) -> bool:
    """A client can join and sync the document (the handshake and the room's load)."""
    client = await YClient(document_url(server, document_id, token)).connect()
    try:
        await asyncio.wait_for(client.synced.wait(), 5)
        return True
    except TimeoutError:
        return False
    finally:
        await client.close()


async def time_until_served(server, document_id: str, token: str) -> float:
    """Seconds until both an API request and a WebSocket join succeed."""
    start = time.monotonic()
    while True:
        response = await asyncio.to_thread(list_documents, server, token)
        assert response.status_code in (200, 503), f"{response.status_code}: {response.text}"
        if response.status_code == 200 and await joins(server, document_id, token):
            return time.monotonic() - start
        assert time.monotonic() - start < 30, "never served again"


@pytest.mark.parametrize("outage", ["restart", "kill -9 of the postmaster"])
async def test_after_the_database_returns_every_process_serves_within_5_seconds(
    private_postgres, outage
):
    url, document_id, token = await asyncio.to_thread(prepared_database, private_postgres)
    with ServerGroup() as group:
        server = await asyncio.to_thread(group.start, DATABASE_URL=url)
        with ThreadPoolExecutor(16) as pool:  # the pool holds many connections, all to go stale
            statuses = set(pool.map(lambda _: list_documents(server, token).status_code, range(64)))
        assert statuses == {200}
        writer = await synced_client(server, document_id, token, "&ack=1")
        writer.text += "before "
        await writer.wait_durable()

        if outage == "restart":
            await asyncio.to_thread(private_postgres.stop)
        else:
            await asyncio.to_thread(private_postgres.kill_postmaster)
        writer.text += "during "  # kept by the process until the database returns
        joiner = await YClient(document_url(server, document_id, token)).connect()
        during = await asyncio.to_thread(list_documents, server, token)
        assert await joiner.wait_closed(timeout=30) == 1013  # try again later
        assert not joiner.synced.is_set()
        assert during.status_code == 503, during.text
        assert during.headers["Retry-After"].isdigit()
        assert "detail" in during.json()

        await asyncio.to_thread(private_postgres.start)
        served_after = await time_until_served(server, document_id, token)
        print(f"{outage}: served again {served_after:.2f} s after the database returned")
        assert served_after < RECOVERY_SECONDS

        # No stale connection is left to fail a later request or join.
        for _ in range(50):
            assert (await asyncio.to_thread(list_documents, server, token)).status_code == 200
        for _ in range(5):
            assert await joins(server, document_id, token)
        await writer.wait_durable()  # the edit made during the outage is stored
        reader = await synced_client(server, document_id, token)
        assert str(reader.text) == "before during "
        await reader.close()
        await writer.close()
