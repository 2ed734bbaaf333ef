"""Version history: take named versions, list them, restore one while people are editing.

Restoring makes the live document equal to the version for every connected editor, as a new
change: nobody reconnects, and what they type afterwards merges on top.
"""

from __future__ import annotations

import asyncio

import pytest
import requests
from pycrdt import XmlElement, XmlFragment, XmlText

from documents.models import ApiToken, Document, DocumentVersion, Membership
from documents.storage import append_updates
from tests.support.server import start_server
from tests.support.tiptap import paragraphs_document
from tests.support.yclient import YClient


@pytest.fixture
def team(transactional_db, make_user):
    owner = make_user("alice")
    editor = make_user("bob")
    document = Document.objects.create(title="minutes", owner=owner)
    Membership.objects.create(document=document, user=editor, role="editor")
    append_updates({str(document.id): [paragraphs_document("one", "two").get_update()]})
    return str(document.id), ApiToken.issue(owner)[1], ApiToken.issue(editor)[1]


def lines(client: YClient) -> list[str]:
    fragment = client.doc.get("default", type=XmlFragment)
    return [str(p.children[0]) if len(p.children) else "" for p in fragment.children]


def api(server, token, method, path, **kwargs):
    return requests.request(
        method,
        f"{server.http}/api/documents/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kwargs,
    )


async def connect(server, document_id, token) -> YClient:
    client = await YClient(f"{server.ws}/ws/documents/{document_id}?token={token}").connect()
    await client.wait_synced()
    return client


def append_paragraph(client: YClient, text: str) -> None:
    fragment = client.doc.get("default", type=XmlFragment)
    fragment.children.append(XmlElement("paragraph", {}, [XmlText(text)]))


def type_into(client: YClient, index: int, text: str) -> None:
    paragraph_text = client.doc.get("default", type=XmlFragment).children[index].children[0]
    paragraph_text.insert(len(paragraph_text), text)


async def test_restore_while_two_clients_edit_converges_on_version_plus_later_edits(
    live_server_process, team
):
    document_id, alice_token, bob_token = team
    server = live_server_process
    alice = await connect(server, document_id, alice_token)
    bob = await connect(server, document_id, bob_token)
    assert lines(alice) == lines(bob) == ["one", "two"]

    taken = await asyncio.to_thread(
        api, server, bob_token, "post", f"{document_id}/versions/", json={"name": "agreed"}
    )
    assert taken.status_code == 201
    version = taken.json()
    assert (version["name"], version["author"], version["preview"]) == ("agreed", "bob", "one two")

    append_paragraph(alice, "three")
    type_into(bob, 1, " and a half")
    await alice.wait_for(lambda: lines(alice) == lines(bob) == ["one", "two and a half", "three"])

    restored = await asyncio.to_thread(
        api, server, alice_token, "post", f"{document_id}/versions/{version['id']}/restore/"
    )
    assert restored.status_code == 200
    await alice.wait_for(lambda: lines(alice) == lines(bob) == ["one", "two"])
    assert alice.close_code is None and bob.close_code is None  # nobody reconnected

    type_into(alice, 0, "!")
    append_paragraph(bob, "after the restore")
    expected = ["one!", "two", "after the restore"]
    await alice.wait_for(lambda: lines(alice) == lines(bob) == expected)
    text = await asyncio.to_thread(
        api, server, bob_token, "get", f"{document_id}/content?format=text"
    )
    assert text.text.split("\n") == expected

    listed = await asyncio.to_thread(api, server, alice_token, "get", f"{document_id}/versions/")
    assert [v["name"] for v in listed.json()["results"]] == ["agreed"]  # history is kept
    for client in (alice, bob):
        await client.close()


async def test_restoring_during_continuous_typing_leaves_everyone_equal(live_server_process, team):
    document_id, alice_token, bob_token = team
    server = live_server_process
    alice = await connect(server, document_id, alice_token)
    bob = await connect(server, document_id, bob_token)
    taken = await asyncio.to_thread(
        api, server, alice_token, "post", f"{document_id}/versions/", json={"name": "base"}
    )
    append_paragraph(alice, "scratch")
    await bob.wait_for(lambda: len(lines(bob)) == 3)

    async def keep_typing():
        for n in range(40):
            type_into(bob, 0, str(n % 10))
            append_paragraph(alice, f"line {n}")
            await asyncio.sleep(0.01)

    typing = asyncio.create_task(keep_typing())
    restored = await asyncio.to_thread(
        api, server, alice_token, "post", f"{document_id}/versions/{taken.json()['id']}/restore/"
    )
    await typing
    assert restored.status_code == 200

    def stored_lines():
        return api(server, alice_token, "get", f"{document_id}/content?format=text").text

    await alice.wait_for(lambda: lines(alice) == lines(bob), timeout=20)
    for _ in range(100):
        if await asyncio.to_thread(stored_lines) == "\n".join(lines(alice)):
            break
        await asyncio.sleep(0.05)
    assert await asyncio.to_thread(stored_lines) == "\n".join(lines(bob))
    assert "line 39" in lines(alice)  # typed after the restore began: kept
    for client in (alice, bob):
        await client.close()


async def test_a_restore_reaches_a_client_of_a_room_that_was_not_open(team):
    document_id, alice_token, _ = team
    server = await asyncio.to_thread(start_server)
    try:
        taken = await asyncio.to_thread(
            api, server, alice_token, "post", f"{document_id}/versions/", json={"name": "v"}
        )
        writer = await connect(server, document_id, alice_token)
        append_paragraph(writer, "later")
        await asyncio.sleep(0.3)
        await writer.close()
        restored = await asyncio.to_thread(
            api,
            server,
            alice_token,
            "post",
            f"{document_id}/versions/{taken.json()['id']}/restore/",
        )
        assert restored.status_code == 200
        reader = await connect(server, document_id, alice_token)
        assert lines(reader) == ["one", "two"]
        await reader.close()
    finally:
        await asyncio.to_thread(server.stop)


async def test_automatic_versions_are_taken_while_a_document_is_edited(team):
    document_id, alice_token, _ = team
    server = await asyncio.to_thread(start_server, COLLAB_AUTO_VERSION_MINUTES="0.01")
    try:
        alice = await connect(server, document_id, alice_token)
        append_paragraph(alice, "edited")

        def automatic_versions():
            listed = api(server, alice_token, "get", f"{document_id}/versions/").json()
            return [v for v in listed["results"] if v["automatic"]]

        for _ in range(200):  # alice keeps typing until the server takes a version
            if await asyncio.to_thread(automatic_versions):
                break
            type_into(alice, 2, ".")
            await asyncio.sleep(0.05)
        automatic = await asyncio.to_thread(automatic_versions)
        assert automatic and automatic[0]["author"] is None
        assert automatic[0]["preview"].startswith("one two edited.")
        await alice.close()
    finally:
        await asyncio.to_thread(server.stop)


def test_a_version_keeps_its_snapshot_and_preview(transactional_db, team):
    document_id, _, _ = team
    from documents import versions

    version = versions.create_version(Document.objects.get(id=document_id), name="v1")
    assert DocumentVersion.objects.get(id=version.id).preview == "one two"
