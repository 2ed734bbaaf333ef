"""The HTTP API against a real server process: what it changes reaches connected editors."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from pycrdt import Doc, Text, XmlElement, XmlFragment, XmlText

from documents.storage import load_document_state
from tests.support.api import api, post_update, typed
from tests.support.waiting import eventually
from tests.support.yclient import synced_client


@pytest.fixture
async def watcher(live_server_process, owner_and_viewer):
    """The owner, connected and synced; closed after the test."""
    document_id, owner_token, _ = owner_and_viewer
    client = await synced_client(live_server_process, document_id, owner_token)
    yield client
    await client.close()


async def test_an_update_posted_over_http_reaches_a_connected_client(
    live_server_process, owner_and_viewer, watcher
):
    document_id, owner_token, _ = owner_and_viewer
    server = live_server_process
    response = await asyncio.to_thread(post_update, server, document_id, owner_token, typed("hi"))
    assert response.status_code == 204
    await watcher.wait_for(lambda: str(watcher.text) == "hi")
    state = await asyncio.to_thread(api, server, owner_token, "get", f"{document_id}/state")
    doc = Doc()
    doc.apply_update(state.content)
    assert str(doc.get("text", type=Text)) == "hi"


async def test_a_viewers_update_is_refused_and_reaches_nobody(
    live_server_process, owner_and_viewer, watcher
):
    document_id, owner_token, viewer_token = owner_and_viewer
    server = live_server_process
    refused = await asyncio.to_thread(post_update, server, document_id, viewer_token, typed("no"))
    assert refused.status_code == 403
    accepted = await asyncio.to_thread(post_update, server, document_id, owner_token, typed("ok"))
    assert accepted.status_code == 204
    await watcher.wait_for(lambda: str(watcher.text) == "ok")


async def test_the_content_endpoint_sees_edits_not_yet_stored(servers, owner_and_viewer):
    document_id, owner_token, _ = owner_and_viewer
    server = await asyncio.to_thread(servers.start, held_store=True)
    client = await synced_client(server, document_id, owner_token)
    fragment = client.doc.get("default", type=XmlFragment)
    fragment.children.append(XmlElement("paragraph", {}, [XmlText("typed just now")]))

    def content_text():
        return api(server, owner_token, "get", f"{document_id}/content?format=text").text

    await eventually(
        lambda: asyncio.to_thread(lambda: content_text() == "typed just now"),
        timeout=30,
        what="the content endpoint shows the edit",
    )
    stored = await database_sync_to_async(load_document_state)(document_id)
    assert b"typed just now" not in (stored or b"")  # accepted, not stored yet
    server.release_store()
    await client.close()
