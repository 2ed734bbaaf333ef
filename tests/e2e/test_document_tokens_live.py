"""Document-scoped tokens against real server processes (SPEC.md, "Document-scoped tokens"):
what a product embedding Collab sees. A token minted through the API and a JWT signed with
COLLAB_JWT_SECRET open their one document with at most their role; revoking a token or reaching
a credential's expiry closes the sockets opened with it with 4401 within 2 seconds, on both
processes of a 2-process cluster (Redis between them).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import datetime

import pytest
import requests

from tests.support.api import api
from tests.support.embedding import JWT_SECRET, WRONG_SECRET, mint, signed_jwt
from tests.support.server import ROOT
from tests.support.yclient import YClient, document_url, synced_client

WITHIN_SECONDS = 2.0
UNKNOWN_DOCUMENT = "00000000-0000-0000-0000-000000000000"
NODE_CLIENT = ROOT / "tests" / "e2e" / "yjs-client"


@pytest.fixture
def server(servers):
    return servers.start(COLLAB_JWT_SECRET=JWT_SECRET)


@pytest.fixture
def cluster_with_jwts(servers, redis_url):
    return servers.start_cluster(2, redis_url, COLLAB_JWT_SECRET=JWT_SECRET)


async def minted(server, owner_token, document_id, **body) -> dict:
    response = await asyncio.to_thread(mint, server, owner_token, document_id, **body)
    assert response.status_code == 201, response.text
    return response.json()


async def close_code_of(server, document_id: str, token: str) -> int | None:
    """The code a handshake with `token` is closed with; None if it synced instead."""
    client = await YClient(document_url(server, document_id, token)).connect()
    synced = asyncio.ensure_future(client.wait_synced(10))
    closed = asyncio.ensure_future(client.wait_closed(10))
    await asyncio.wait([synced, closed], return_when=asyncio.FIRST_COMPLETED)
    for waiting in (synced, closed):
        waiting.cancel()
    if client.closed.is_set():
        return client.close_code
    await client.close()
    return None


async def closed_at(client: YClient, timeout: float = 15) -> tuple[int | None, float]:
    code = await client.wait_closed(timeout)
    return code, time.time()


async def assert_still_syncing(writer: YClient, reader: YClient, tag: str) -> None:
    writer.text += tag
    await reader.wait_for(lambda: tag in str(reader.text), timeout=5)
    assert writer.close_code is None and reader.close_code is None


async def test_a_scoped_viewer_token_reads_the_document_but_its_edits_are_dropped(
    server, owned_document
):
    document_id, owner_token = owned_document
    owner = await synced_client(server, document_id, owner_token)
    owner.text += "written by the owner;"
    token = (await minted(server, owner_token, document_id, role="viewer"))["token"]

    viewer = await synced_client(server, document_id, token)
    await viewer.wait_for(lambda: "written by the owner;" in str(viewer.text))
    viewer.text += "viewer-edit;"
    await assert_still_syncing(owner, viewer, "after;")

    assert "viewer-edit" not in str(owner.text)
    state = await asyncio.to_thread(api, server, owner_token, "get", f"{document_id}/state")
    assert b"viewer-edit" not in state.content
    assert viewer.close_code is None
    await owner.close()
    await viewer.close()


@pytest.mark.parametrize("kind", ["token", "jwt"])
async def test_another_document_is_4403_on_the_socket_and_403_over_http(
    server, owned_document, kind
):
    document_id, owner_token = owned_document
    created = await asyncio.to_thread(api, server, owner_token, "post", "", json={"title": "b"})
    other_id = created.json()["id"]
    if kind == "token":
        token = (await minted(server, owner_token, document_id, role="editor"))["token"]
    else:
        token = signed_jwt(document_id, "editor")

    assert await close_code_of(server, document_id, token) is None
    assert await close_code_of(server, other_id, token) == 4403
    refused = await asyncio.to_thread(api, server, token, "get", f"{other_id}/")
    assert refused.status_code == 403 and refused.json()["detail"]
    listing = await asyncio.to_thread(api, server, token, "get", "")
    assert listing.status_code == 403


@pytest.mark.parametrize(
    "claims",
    [{"secret": WRONG_SECRET}, {"expires_in": -5}, {"doc": UNKNOWN_DOCUMENT}],
    ids=["bad-signature", "expired", "unknown-document"],
)
async def test_a_jwt_that_does_not_verify_is_4401_and_401(server, owned_document, claims):
    document_id, _ = owned_document
    assert await close_code_of(server, document_id, signed_jwt(document_id)) is None

    bad = signed_jwt(document_id, **claims)

    assert await close_code_of(server, document_id, bad) == 4401
    refused = await asyncio.to_thread(api, server, bad, "get", f"{document_id}/")
    assert refused.status_code == 401 and refused.json()["detail"]


async def test_a_server_without_COLLAB_JWT_SECRET_refuses_jwts(servers, server, owned_document):
    document_id, _ = owned_document
    token = signed_jwt(document_id, "editor")
    without = await asyncio.to_thread(servers.start)

    assert await close_code_of(server, document_id, token) is None
    assert await close_code_of(without, document_id, token) == 4401
    refused = await asyncio.to_thread(api, without, token, "get", f"{document_id}/")
    assert refused.status_code == 401
    assert "COLLAB_JWT_SECRET" in refused.json()["detail"]


async def test_revoking_a_token_closes_its_sockets_with_4401_within_2_s_on_both_processes(
    cluster_with_jwts, owned_document
):
    servers, (document_id, owner_token) = cluster_with_jwts, owned_document
    revoked = await minted(servers[0], owner_token, document_id, role="editor", label="revoked")
    kept = await minted(servers[0], owner_token, document_id, role="editor", label="kept")
    doomed = [await synced_client(s, document_id, revoked["token"]) for s in servers]
    staying = [await synced_client(s, document_id, kept["token"]) for s in servers]

    started = time.time()
    response = await asyncio.to_thread(
        requests.delete,
        f"{servers[1].http}/api/documents/{document_id}/tokens/{revoked['id']}/",
        headers={"Authorization": f"Bearer {owner_token}"},
        timeout=30,
    )
    assert response.status_code == 204

    results = await asyncio.gather(*(closed_at(client) for client in doomed))
    assert [code for code, _ in results] == [4401, 4401]
    assert max(at - started for _, at in results) < WITHIN_SECONDS, results
    await assert_still_syncing(staying[0], staying[1], "kept-token;")
    assert await close_code_of(servers[0], document_id, revoked["token"]) == 4401
    for client in staying:
        await client.close()


@pytest.mark.parametrize("kind", ["jwt", "token"])
async def test_a_credential_expiring_while_connected_is_closed_4401_within_2_s_on_both_processes(
    cluster_with_jwts, owned_document, kind
):
    servers, (document_id, owner_token) = cluster_with_jwts, owned_document
    if kind == "jwt":
        expires_at = int(time.time()) + 3
        token = signed_jwt(document_id, "editor", exp=expires_at)
    else:
        shown = await minted(servers[0], owner_token, document_id, role="editor", expires_in=3)
        token, expires_at = shown["token"], datetime.fromisoformat(shown["expires_at"]).timestamp()
    expiring = [await synced_client(s, document_id, token) for s in servers]
    owners = [await synced_client(s, document_id, owner_token) for s in servers]

    results = await asyncio.gather(*(closed_at(client) for client in expiring))

    assert [code for code, _ in results] == [4401, 4401]
    for _, at in results:
        assert expires_at - 0.2 <= at < expires_at + WITHIN_SECONDS, at - expires_at
    await assert_still_syncing(owners[0], owners[1], "owners-stay;")
    for client in owners:
        await client.close()


def run_refreshing_provider(server, document_id, first, fresh, text, wait_for) -> dict:
    """docs/embedding.md's browser code (tests/e2e/yjs-client/refresh.mjs) in Node."""
    result = subprocess.run(
        ["node", "refresh.mjs", server.ws, document_id, first, fresh, text, ",".join(wait_for)],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


async def test_y_websocket_provider_gets_a_fresh_jwt_after_4401_and_keeps_editing(
    server, owned_document
):
    assert (NODE_CLIENT / "node_modules" / "y-websocket").exists(), (
        "run `make install` (npm ci in tests/e2e/yjs-client)"
    )
    document_id, owner_token = owned_document
    owner = await synced_client(server, document_id, owner_token)
    owner.text += "from-owner;"
    expiring = signed_jwt(document_id, "editor", exp=int(time.time()) + 3)
    fresh = signed_jwt(document_id, "editor", expires_in=600)

    result = await asyncio.to_thread(
        run_refreshing_provider,
        server,
        document_id,
        expiring,
        fresh,
        "after-refresh;",
        ["from-owner;", "after-refresh;"],
    )

    assert result["closes"] == [4401]
    await owner.wait_for(lambda: "after-refresh;" in str(owner.text))
    assert str(owner.text) == result["text"]
    await owner.close()
