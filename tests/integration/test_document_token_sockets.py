"""Document-scoped credentials on the WebSocket (SPEC.md, "Document-scoped tokens"): a token
minted by Collab and a JWT signed by the embedding product open their one document with at most
their role; another document is 4403; a JWT that is badly signed, expired, malformed or for no
document is 4401, as is any JWT while COLLAB_JWT_SECRET is unset; revocation and expiry close
the sockets opened with them with 4401.

Runs the consumer in-process through Channels' communicator (one process; the 2-process stories
are tests/e2e/test_document_tokens_live.py). Every refusal is shown next to the same credential,
with only the one thing changed, being accepted: on a checkout without document tokens both are
refused alike.
"""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from collab.asgi import application
from documents.models import DocumentToken
from documents.sync import protocol
from tests.support.embedding import JWT_SECRET, WRONG_SECRET, signed_jwt
from tests.unit.fakes import typed_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shut_down_rooms")]

UNKNOWN_DOCUMENT = "00000000-0000-0000-0000-000000000000"
WITHIN_SECONDS = 2.0  # SPEC.md: closed within 2 seconds of expiry or revocation


@pytest.fixture(autouse=True)
def jwt_secret(settings):
    settings.COLLAB_JWT_SECRET = JWT_SECRET


@pytest.fixture
def world(shared_plan, make_user):
    from documents.models import Document

    document, _, tokens = shared_plan
    other = Document.objects.create(title="someone else's", owner=make_user("someone"))
    return document, other, tokens


async def mint(document, role: str, expires_in: int = 600, label: str = "") -> tuple[str, str]:
    """(token id, token) of a document token minted for `document`."""
    row, token = await database_sync_to_async(DocumentToken.issue)(
        document, role=role, expires_in=expires_in, label=label
    )
    return str(row.pk), token


async def credential(kind: str, document, role: str, **jwt_claims) -> str:
    if kind == "token":
        return (await mint(document, role))[1]
    return signed_jwt(document.id, role, **jwt_claims)


async def open_socket(document_id, token: str) -> tuple[WebsocketCommunicator, dict]:
    communicator = WebsocketCommunicator(application, f"/ws/documents/{document_id}?token={token}")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator, await communicator.receive_output(timeout=5)


async def close_code_of(document_id, token: str) -> int | None:
    """The close code the handshake gets, or None if the socket was accepted and greeted."""
    communicator, first = await open_socket(document_id, token)
    await communicator.disconnect()
    return first.get("code") if first["type"] == "websocket.close" else None


async def accepted(document_id, token: str) -> WebsocketCommunicator:
    communicator, first = await open_socket(document_id, token)
    assert first["type"] == "websocket.send", first
    return communicator


def http_status(token: str, path: str) -> tuple[int, str]:
    response = Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    return response.status_code, response.json().get("detail", "")


# -- what it opens -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["token", "jwt"])
async def test_a_scoped_viewer_reads_the_document_but_its_edits_are_dropped(world, kind):
    document, _, tokens = world
    owner = await accepted(document.id, tokens["owner"])
    viewer = await accepted(document.id, await credential(kind, document, "viewer"))

    await viewer.send_to(bytes_data=protocol.encode_update(typed_update("spam", client_id=7)))
    assert await owner.receive_nothing(timeout=0.3)
    await owner.send_to(bytes_data=protocol.encode_update(typed_update("real", client_id=8)))
    relayed = protocol.parse_message(await viewer.receive_from(timeout=5))
    assert isinstance(relayed, protocol.SyncUpdate)
    assert await viewer.receive_nothing(timeout=0.1)  # still open
    await viewer.disconnect()
    await owner.disconnect()


@pytest.mark.parametrize("kind", ["token", "jwt"])
async def test_a_scoped_editors_edits_reach_the_others(world, kind):
    document, _, tokens = world
    owner = await accepted(document.id, tokens["owner"])
    editor = await accepted(document.id, await credential(kind, document, "editor"))

    await editor.send_to(bytes_data=protocol.encode_update(typed_update("hello", client_id=9)))

    relayed = protocol.parse_message(await owner.receive_from(timeout=5))
    assert isinstance(relayed, protocol.SyncUpdate)
    await editor.disconnect()
    await owner.disconnect()


@pytest.mark.parametrize("kind", ["token", "jwt"])
async def test_a_scoped_credential_for_another_document_gets_4403(world, kind):
    document, other, _ = world
    token = await credential(kind, document, "editor")
    assert await close_code_of(document.id, token) is None
    assert await close_code_of(other.id, token) == 4403
    assert await close_code_of(UNKNOWN_DOCUMENT, token) == 4403  # it may not probe for others


# -- JWTs that are refused ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "claims, detail",
    [
        ({"secret": WRONG_SECRET}, "the token's signature does not verify"),
        ({"expires_in": -1}, "the token has expired"),
        ({"doc": UNKNOWN_DOCUMENT}, "the doc claim names no document"),
        ({"doc": "not-a-document"}, "the doc claim is not a document id"),
        ({"role": "owner"}, "the role claim must be one of editor, viewer"),
        ({"exp": None}, 'malformed token: Token is missing the "exp" claim'),
        (lambda: {"nbf": int(time.time()) + 60}, "the token is not valid yet"),
        (lambda: {"iat": int(time.time()) + 60}, "the token is not valid yet"),
    ],
    ids=["bad-signature", "expired", "unknown-document", "doc-not-an-id", "owner-role",
         "no-exp", "nbf-in-future", "iat-in-future"],
)  # fmt: skip
async def test_a_jwt_that_does_not_verify_gets_4401_and_401(world, claims, detail):
    document, _, _ = world
    path = f"/api/documents/{document.id}/"
    good = signed_jwt(document.id, "editor")
    assert await close_code_of(document.id, good) is None
    assert (await database_sync_to_async(http_status)(good, path))[0] == 200

    claims = claims() if callable(claims) else claims  # times: when the test runs
    bad = signed_jwt(document.id, **{"role": "editor", **claims})

    assert await close_code_of(document.id, bad) == 4401
    status, said = await database_sync_to_async(http_status)(bad, path)
    assert status == 401 and said.startswith(detail), said


async def test_jwts_are_refused_while_COLLAB_JWT_SECRET_is_unset(world, settings):
    document, _, _ = world
    token = signed_jwt(document.id, "editor")
    assert await close_code_of(document.id, token) is None

    settings.COLLAB_JWT_SECRET = ""

    assert await close_code_of(document.id, token) == 4401
    status, said = await database_sync_to_async(http_status)(
        token, f"/api/documents/{document.id}/"
    )
    assert status == 401
    assert said == "JWTs are not accepted here (COLLAB_JWT_SECRET is not set)"


# -- expiry and revocation, live ---------------------------------------------------------------
async def closed_with(communicator: WebsocketCommunicator, timeout: float) -> tuple[int, float]:
    """(close code, when) of the next close the socket gets, skipping frames before it."""
    deadline = time.monotonic() + timeout
    while True:
        output = await communicator.receive_output(timeout=max(0.01, deadline - time.monotonic()))
        if output["type"] == "websocket.close":
            return output["code"], time.time()


async def test_a_jwt_expiring_while_connected_is_closed_4401_within_2_s_of_exp(world):
    document, _, _ = world
    exp = int(time.time()) + 2
    socket = await accepted(document.id, signed_jwt(document.id, "editor", exp=exp))
    staying = await accepted(document.id, signed_jwt(document.id, "editor", exp=exp + 600))

    code, at = await closed_with(socket, timeout=10)

    assert code == 4401
    assert exp - 0.2 <= at < exp + WITHIN_SECONDS, at - exp
    assert await staying.receive_nothing(timeout=0.3)
    await staying.disconnect()


async def test_a_minted_token_expiring_while_connected_is_closed_4401_within_2_s(world):
    document, _, _ = world
    token_id, token = await mint(document, "viewer", expires_in=2)
    socket = await accepted(document.id, token)
    row = await database_sync_to_async(DocumentToken.objects.get)(pk=token_id)

    code, at = await closed_with(socket, timeout=10)

    assert code == 4401
    expired = row.expires_at.timestamp()
    assert expired - 0.2 <= at < expired + WITHIN_SECONDS, at - expired
    assert await close_code_of(document.id, token) == 4401  # and it opens nothing any more


def revoke_as_owner(owner, document, token_id: str) -> int:
    client = Client()
    client.force_login(owner)
    return client.delete(f"/api/documents/{document.id}/tokens/{token_id}/").status_code


async def test_revoking_a_token_closes_the_sockets_opened_with_it_with_4401(world, shared_plan):
    document, _, tokens = world
    owner_user = shared_plan[1]["owner"]
    token_id, token = await mint(document, "editor", label="revoked")
    _, kept_token = await mint(document, "editor", label="kept")
    revoked = [await accepted(document.id, token) for _ in range(2)]
    kept = await accepted(document.id, kept_token)
    member = await accepted(document.id, tokens["editor"])

    started = time.time()
    assert await database_sync_to_async(revoke_as_owner)(owner_user, document, token_id) == 204

    for socket in revoked:
        code, at = await closed_with(socket, timeout=5)
        assert code == 4401 and at - started < WITHIN_SECONDS
    assert await kept.receive_nothing(timeout=0.3)
    assert await member.receive_nothing(timeout=0.1)
    await kept.disconnect()
    await member.disconnect()
