"""Who may open a document's socket, and the close code everyone else gets (SPEC.md table).

Runs the consumer in-process through Channels' WebsocketCommunicator. A refused connection
must receive nothing before its close frame."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from collab.asgi import application
from documents.sync import protocol
from tests.unit.fakes import typed_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shut_down_rooms")]


@pytest.fixture
def world(shared_plan):
    return shared_plan


async def open_socket(path: str, headers=None) -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator, await communicator.receive_output(timeout=5)


async def sockets_of(document, tokens, *roles: str) -> list[WebsocketCommunicator]:
    """One accepted socket on the document per role (each with its own token), greeting read."""
    path = f"/ws/documents/{document.id}"
    return [(await open_socket(f"{path}?token={tokens[role]}"))[0] for role in roles]


async def close_code_of(path: str, headers=None) -> int | None:
    communicator, first = await open_socket(path, headers)
    await communicator.disconnect()
    return first.get("code") if first["type"] == "websocket.close" else None


def session_cookie(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


@pytest.mark.parametrize(
    "who, expected",
    [("owner", None), ("editor", None), ("viewer", None), ("staff", None), ("stranger", 4403)],
)
async def test_token_in_query_by_role(world, who, expected):
    document, _, tokens = world
    assert await close_code_of(f"/ws/documents/{document.id}?token={tokens[who]}") == expected


async def test_bearer_header_is_accepted(world):
    document, _, tokens = world
    headers = [(b"authorization", f"Bearer {tokens['editor']}".encode())]
    assert await close_code_of(f"/ws/documents/{document.id}", headers) is None


async def test_session_cookie_is_accepted_with_a_trailing_slash(world):
    document, people, _ = world
    cookie = await database_sync(session_cookie, people["editor"])
    assert await close_code_of(f"/ws/documents/{document.id}/", cookie) is None


async def test_anonymous_gets_4401(world):
    document, _, _ = world
    assert await close_code_of(f"/ws/documents/{document.id}") == 4401


async def test_bad_token_gets_4401_even_with_a_session(world):
    document, people, _ = world
    cookie = await database_sync(session_cookie, people["editor"])
    assert await close_code_of(f"/ws/documents/{document.id}?token=collab_nope", cookie) == 4401


async def test_unknown_document_gets_4404(world):
    _, _, tokens = world
    path = f"/ws/documents/00000000-0000-0000-0000-000000000000?token={tokens['owner']}"
    assert await close_code_of(path) == 4404
    assert await close_code_of(f"/ws/documents/not-a-uuid?token={tokens['owner']}") == 4404


async def test_foreign_browser_origin_is_refused_and_allowed_origin_accepted(world):
    document, people, _ = world
    cookie = await database_sync(session_cookie, people["editor"])
    path = f"/ws/documents/{document.id}"
    evil = [*cookie, (b"origin", b"https://evil.example")]
    assert await close_code_of(path, evil) == 4403
    ours = [*cookie, (b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")]
    assert await close_code_of(path, ours) is None


async def test_accepted_client_is_greeted_with_sync_step1(world):
    document, _, tokens = world
    communicator, first = await open_socket(f"/ws/documents/{document.id}?token={tokens['viewer']}")
    assert isinstance(protocol.parse_message(first["bytes"]), protocol.SyncStep1)
    await communicator.disconnect()


async def test_viewer_updates_are_dropped_and_the_viewer_stays_connected(world):
    document, _, tokens = world
    viewer, editor = await sockets_of(document, tokens, "viewer", "editor")
    await viewer.send_to(bytes_data=protocol.encode_update(typed_update("spam", client_id=7)))
    assert await editor.receive_nothing(timeout=0.3)
    await editor.send_to(bytes_data=protocol.encode_update(typed_update("real", client_id=8)))
    relayed = await viewer.receive_from(timeout=5)
    assert isinstance(protocol.parse_message(relayed), protocol.SyncUpdate)
    await viewer.disconnect()
    await editor.disconnect()


async def test_text_frames_and_bad_frames_close_only_their_sender_with_4400(world):
    document, _, tokens = world
    path = f"/ws/documents/{document.id}"
    bad, good = await sockets_of(document, tokens, "editor", "owner")
    await bad.send_to(text_data="hello")
    assert (await bad.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4400}
    worse, _ = await open_socket(f"{path}?token={tokens['editor']}")
    await worse.send_to(bytes_data=b"\x00\x02\x09\x01")
    assert (await worse.receive_output(timeout=5))["code"] == 4400
    await good.send_to(bytes_data=protocol.encode_update(typed_update("fine", client_id=3)))
    await good.send_to(bytes_data=b"\x03")  # still served: query awareness is answered
    assert (await good.receive_from(timeout=5))[0] == protocol.MESSAGE_AWARENESS
    await good.disconnect()


async def test_awareness_of_a_client_is_removed_for_others_when_it_disconnects(world):
    document, _, tokens = world
    leaving, staying = await sockets_of(document, tokens, "editor", "owner")
    entry = protocol.AwarenessEntry(4242, 1, '{"user":{"name":"editor"}}')
    frame = protocol.encode_awareness(protocol.encode_awareness_entries([entry]))
    await leaving.send_to(bytes_data=frame)
    seen = protocol.parse_message(await staying.receive_from(timeout=5))
    assert seen.entries[0].client_id == 4242
    await leaving.disconnect()
    gone = protocol.parse_message(await staying.receive_from(timeout=5))
    assert [(e.client_id, e.is_removal) for e in gone.entries] == [(4242, True)]
    await staying.disconnect()


def delete_as(user, path: str) -> int:
    """An HTTP DELETE by `user` (session), as the browser would send it; its status code."""
    client = Client()
    client.force_login(user)
    return client.delete(path).status_code


async def database_sync(function, *args):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(function)(*args)


async def test_deleting_a_document_closes_its_open_sockets_with_4404(world):
    document, people, tokens = world
    editor, _ = await open_socket(f"/ws/documents/{document.id}?token={tokens['editor']}")

    status = await database_sync(delete_as, people["owner"], f"/api/documents/{document.id}/")
    assert status == 204
    closing = await editor.receive_output(timeout=5)
    assert closing == {"type": "websocket.close", "code": 4404}


async def test_removing_a_member_closes_only_their_socket_with_4403(world):
    document, people, tokens = world
    viewer, editor = await sockets_of(document, tokens, "viewer", "editor")

    members = f"/api/documents/{document.id}/members/viewer/"
    assert await database_sync(delete_as, people["owner"], members) == 204
    assert await viewer.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    assert await editor.receive_nothing(timeout=0.3)
    await editor.disconnect()
