"""Version history: take named versions, list them, restore one while people are editing.

Restoring makes the live document equal to the version for every connected editor, as a new
change: nobody reconnects, and what they type afterwards merges on top.
"""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import XmlElement, XmlFragment, XmlText

from documents.models import Document, DocumentVersion
from documents.storage import append_updates
from tests.support.api import api, metric, metrics
from tests.support.tiptap import paragraphs_document
from tests.support.waiting import eventually
from tests.support.yclient import YClient, synced_client


@pytest.fixture
def minutes(team):
    """The team's document with two paragraphs: (document id, owner's and editor's tokens)."""
    append_updates({team["document"]: [paragraphs_document("one", "two").get_update()]})
    return team["document"], team["owner"], team["member"]


@pytest.fixture
async def alice_and_bob(live_server_process, minutes):
    """The owner (alice) and the editor (bob) on a live server, synced; closed after the test."""
    document_id, alice_token, bob_token = minutes
    clients = [await connect(live_server_process, document_id, t) for t in (alice_token, bob_token)]
    yield clients
    for client in clients:
        await client.close()


def lines(client: YClient) -> list[str]:
    fragment = client.doc.get("default", type=XmlFragment)
    return [str(p.children[0]) if len(p.children) else "" for p in fragment.children]


async def connect(server, document_id, token, query="") -> YClient:
    return await synced_client(server, document_id, token, query)


def append_paragraph(client: YClient, text: str) -> None:
    fragment = client.doc.get("default", type=XmlFragment)
    fragment.children.append(XmlElement("paragraph", {}, [XmlText(text)]))


def type_into(client: YClient, index: int, text: str) -> None:
    paragraph_text = client.doc.get("default", type=XmlFragment).children[index].children[0]
    paragraph_text.insert(len(paragraph_text), text)


async def test_restore_while_two_clients_edit_converges_on_version_plus_later_edits(
    live_server_process, minutes, alice_and_bob
):
    document_id, alice_token, bob_token = minutes
    server = live_server_process
    alice, bob = alice_and_bob
    assert lines(alice) == lines(bob) == ["one", "two"]

    taken = await asyncio.to_thread(
        api, server, bob_token, "post", f"{document_id}/versions/", json={"name": "agreed"}
    )
    assert taken.status_code == 201
    version = taken.json()
    assert (version["name"], version["author"], version["preview"]) == (
        "agreed",
        "member",
        "one two",
    )

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


async def test_restoring_during_continuous_typing_leaves_everyone_equal(
    live_server_process, minutes, alice_and_bob
):
    document_id, alice_token, _ = minutes
    server = live_server_process
    alice, bob = alice_and_bob
    taken = await asyncio.to_thread(
        api, server, alice_token, "post", f"{document_id}/versions/", json={"name": "base"}
    )
    append_paragraph(alice, "scratch")
    await bob.wait_for(lambda: len(lines(bob)) == 3)

    async def keep_typing():
        for n in range(40):
            type_into(bob, 0, str(n % 10))
            append_paragraph(alice, f"line {n}")
            await asyncio.sleep(0.01)  # a pace: the restore lands amid the typing

    typing = asyncio.create_task(keep_typing())
    restored = await asyncio.to_thread(
        api, server, alice_token, "post", f"{document_id}/versions/{taken.json()['id']}/restore/"
    )
    await typing
    assert restored.status_code == 200

    def stored_lines():
        return api(server, alice_token, "get", f"{document_id}/content?format=text").text

    await alice.wait_for(lambda: lines(alice) == lines(bob), timeout=20)
    await eventually(
        lambda: asyncio.to_thread(lambda: stored_lines() == "\n".join(lines(bob))),
        timeout=30,
        what="the stored content equals the clients'",
    )
    assert "line 39" in lines(alice)  # typed after the restore began: kept


async def test_a_restore_reaches_a_client_of_a_room_that_was_not_open(servers, minutes):
    document_id, alice_token, _ = minutes
    server = await asyncio.to_thread(servers.start, COLLAB_ROOM_IDLE_SECONDS="0")
    taken = await asyncio.to_thread(
        api, server, alice_token, "post", f"{document_id}/versions/", json={"name": "v"}
    )
    writer = await connect(server, document_id, alice_token, "&ack=1")
    append_paragraph(writer, "later")
    await writer.wait_durable()
    await writer.close()
    await eventually(
        lambda: asyncio.to_thread(lambda: metric(metrics(server), "collab_open_rooms") == 0),
        timeout=30,
        what="the room unloaded",
    )
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


async def test_automatic_versions_are_taken_while_a_document_is_edited(servers, minutes):
    document_id, alice_token, _ = minutes
    server = await asyncio.to_thread(servers.start, COLLAB_AUTO_VERSION_MINUTES="0.01")
    alice = await connect(server, document_id, alice_token)
    append_paragraph(alice, "edited")

    def automatic_versions():
        listed = api(server, alice_token, "get", f"{document_id}/versions/").json()
        return [v for v in listed["results"] if v["automatic"]]

    async def versioned_while_typing():
        """Alice keeps typing (one key per look) until the server takes a version."""
        if found := await asyncio.to_thread(automatic_versions):
            return found
        type_into(alice, 2, ".")
        return None

    automatic = await eventually(versioned_while_typing, timeout=30, interval=0.05)
    assert automatic and automatic[0]["author"] is None
    assert automatic[0]["preview"].startswith("one two edited.")
    await alice.close()


def test_a_version_keeps_its_snapshot_and_preview(transactional_db, minutes):
    document_id, _, _ = minutes
    from documents import versions

    version = versions.create_version(Document.objects.get(id=document_id), name="v1")
    assert DocumentVersion.objects.get(id=version.id).preview == "one two"
