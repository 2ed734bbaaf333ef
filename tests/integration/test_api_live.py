"""The HTTP API against a real server process: what it changes reaches connected editors."""

from __future__ import annotations

import asyncio

import pytest
import requests
from pycrdt import Doc, Text

from documents.models import ApiToken, Document, Membership
from tests.support.yclient import YClient


@pytest.fixture
def shared(transactional_db, make_user):
    owner = make_user("owner")
    viewer = make_user("viewer")
    document = Document.objects.create(title="live", owner=owner)
    Membership.objects.create(document=document, user=viewer, role="viewer")
    return str(document.id), ApiToken.issue(owner)[1], ApiToken.issue(viewer)[1]


def typed(text: str) -> bytes:
    doc = Doc()
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


def post_update(server, document_id, token, update):
    return requests.post(
        f"{server.http}/api/documents/{document_id}/updates",
        data=update,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
        timeout=10,
    )


async def test_an_update_posted_over_http_reaches_a_connected_client(live_server_process, shared):
    document_id, owner_token, _ = shared
    server = live_server_process
    watcher = await YClient(f"{server.ws}/ws/documents/{document_id}?token={owner_token}").connect()
    await watcher.wait_synced()
    response = await asyncio.to_thread(post_update, server, document_id, owner_token, typed("hi"))
    assert response.status_code == 204
    await watcher.wait_for(lambda: str(watcher.text) == "hi")
    state = await asyncio.to_thread(
        requests.get,
        f"{server.http}/api/documents/{document_id}/state",
        headers={"Authorization": f"Bearer {owner_token}"},
        timeout=10,
    )
    doc = Doc()
    doc.apply_update(state.content)
    assert str(doc.get("text", type=Text)) == "hi"
    await watcher.close()


async def test_a_viewers_update_is_refused_and_reaches_nobody(live_server_process, shared):
    document_id, owner_token, viewer_token = shared
    server = live_server_process
    watcher = await YClient(f"{server.ws}/ws/documents/{document_id}?token={owner_token}").connect()
    await watcher.wait_synced()
    refused = await asyncio.to_thread(post_update, server, document_id, viewer_token, typed("no"))
    assert refused.status_code == 403
    accepted = await asyncio.to_thread(post_update, server, document_id, owner_token, typed("ok"))
    assert accepted.status_code == 204
    await watcher.wait_for(lambda: str(watcher.text) == "ok")
    await watcher.close()


async def test_the_content_endpoint_sees_edits_not_yet_flushed(shared):
    from tests.support.server import start_server

    document_id, owner_token, _ = shared
    server = await asyncio.to_thread(start_server, COLLAB_FLUSH_INTERVAL_MS="60000")
    try:
        url = f"{server.ws}/ws/documents/{document_id}?token={owner_token}"
        client = await YClient(url).connect()
        await client.wait_synced()
        from pycrdt import XmlElement, XmlFragment, XmlText

        fragment = client.doc.get("default", type=XmlFragment)
        fragment.children.append(XmlElement("paragraph", {}, [XmlText("typed just now")]))

        def content_text():
            return requests.get(
                f"{server.http}/api/documents/{document_id}/content?format=text",
                headers={"Authorization": f"Bearer {owner_token}"},
                timeout=10,
            ).text

        for _ in range(100):
            if await asyncio.to_thread(content_text) == "typed just now":
                break
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(content_text) == "typed just now"
        await client.close()
    finally:
        await asyncio.to_thread(server.stop)
