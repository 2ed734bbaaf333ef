"""Document-scoped tokens over HTTP (SPEC.md, "Document-scoped tokens"): the owner mints, lists
and revokes them; a token minted by Collab and a JWT signed by the embedding product work on
their one document's endpoints with at most their role, and are 403 everywhere else.

Runs on SQLite too (`storage`): the credentials are read with plain SQL. All of it fails on a
checkout without document tokens: the tokens endpoint is a 404 there, and
both kinds of credential are unknown bearer tokens (401).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pycrdt import Doc, Text

from documents.models import Document, DocumentToken, DocumentVersion
from documents.versions import save_version
from tests.support.embedding import JWT_SECRET, signed_jwt

pytestmark = [pytest.mark.storage, pytest.mark.django_db]  # also on SQLite (embedded mode)

THIRTY_DAYS = 30 * 24 * 3600


@pytest.fixture(autouse=True)
def jwt_secret(settings):
    settings.COLLAB_JWT_SECRET = JWT_SECRET


@pytest.fixture
def world(shared_plan, make_user):
    """shared_plan, a document of someone else's, and the plan's scoped credentials of each
    kind and role: "token editor", "token viewer", "jwt editor", "jwt viewer"."""
    document, people, tokens = shared_plan
    make_user("newcomer")
    other = Document.objects.create(title="someone else's", owner=make_user("someone"))
    version = save_version(document.id, b"\x00\x00", name="empty", author=people["owner"])
    for role in ("editor", "viewer"):
        tokens[f"token {role}"] = DocumentToken.issue(document, role=role, expires_in=600)[1]
        tokens[f"jwt {role}"] = signed_jwt(document.id, role)
    return document, other, tokens, version


def typed(text: str) -> bytes:
    doc = Doc()
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


def call(token, method, path, body=None, content_type="application/json"):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if body is None:
        return getattr(Client(), method)(path, **headers)
    return getattr(Client(), method)(path, body, content_type=content_type, **headers)


def tokens_url(document) -> str:
    return f"/api/documents/{document.id}/tokens/"


# -- minting, listing, revoking ----------------------------------------------------------------
def test_the_owner_mints_a_token_that_is_shown_once_and_listed_without_it(world):
    document, _, tokens, _ = world
    body = {"role": "viewer", "expires_in": 3600, "label": "Ada, in the help center"}
    before = timezone.now()

    minted = call(tokens["owner"], "post", tokens_url(document), body)

    assert minted.status_code == 201, minted.content
    shown = minted.json()
    assert set(shown) == {"id", "token", "role", "expires_at", "label"}
    assert shown["token"].startswith("collabdoc_")
    assert shown["role"] == "viewer" and shown["label"] == "Ada, in the help center"
    expires_at = DocumentToken.objects.get(pk=shown["id"]).expires_at
    assert before + timedelta(seconds=3600) <= expires_at <= timezone.now() + timedelta(hours=1)
    listing = call(tokens["owner"], "get", tokens_url(document))
    assert listing.status_code == 200
    assert shown["token"] not in listing.content.decode()
    listed = {row["id"]: row for row in listing.json()}
    assert listed[shown["id"]]["label"] == "Ada, in the help center"
    assert "token" not in listed[shown["id"]]
    assert call(shown["token"], "get", f"/api/documents/{document.id}/").status_code == 200


def test_staff_mint_for_any_document_as_its_owner_would(world):
    document, _, tokens, _ = world
    minted = call(
        tokens["staff"], "post", tokens_url(document), {"role": "editor", "expires_in": 60}
    )
    assert minted.status_code == 201
    assert DocumentToken.objects.get(pk=minted.json()["id"]).created_by.username == "staff"


@pytest.mark.parametrize("who", ["editor", "viewer", "stranger", "token editor", "jwt editor"])
def test_minting_or_listing_by_anyone_but_the_owner_is_403(world, who):
    document, _, tokens, _ = world
    body = {"role": "viewer", "expires_in": 60}
    for method, payload in (("post", body), ("get", None)):
        response = call(tokens[who], method, tokens_url(document), payload)
        assert response.status_code == 403, (method, response.content)
        assert response.json()["detail"]
    assert not DocumentToken.objects.filter(created_by__username=who).exists()
    owner_can = call(tokens["owner"], "post", tokens_url(document), body)
    assert owner_can.status_code == 201  # the same request, by the owner


def test_expires_in_is_at_most_30_days(world):
    document, _, tokens, _ = world
    too_long = {"role": "viewer", "expires_in": THIRTY_DAYS + 1}
    stored = DocumentToken.objects.count()

    refused = call(tokens["owner"], "post", tokens_url(document), too_long)

    assert refused.status_code == 400
    assert refused.json()["detail"] == "expires_in: at most 2592000 seconds (30 days)"
    assert DocumentToken.objects.count() == stored
    longest = {"role": "viewer", "expires_in": THIRTY_DAYS}
    assert call(tokens["owner"], "post", tokens_url(document), longest).status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({"role": "owner", "expires_in": 60}, "role"),
        ({"role": "viewer", "expires_in": 0}, "expires_in"),
        ({"role": "viewer"}, "expires_in"),
        ({"expires_in": 60}, "role"),
    ],
)
def test_a_bad_mint_request_is_a_400_naming_the_field(world, body, field):
    document, _, tokens, _ = world
    response = call(tokens["owner"], "post", tokens_url(document), body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}:")


def test_a_revoked_token_is_refused_at_once_with_401(world):
    document, _, tokens, _ = world
    minted = call(
        tokens["owner"], "post", tokens_url(document), {"role": "editor", "expires_in": 60}
    )
    token, token_id = minted.json()["token"], minted.json()["id"]
    assert call(token, "get", f"/api/documents/{document.id}/").status_code == 200

    revoked = call(tokens["owner"], "delete", f"{tokens_url(document)}{token_id}/")

    assert revoked.status_code == 204
    refused = call(token, "get", f"/api/documents/{document.id}/")
    assert refused.status_code == 401
    assert refused.json()["detail"] == "invalid or revoked token"
    assert token_id not in call(tokens["owner"], "get", tokens_url(document)).content.decode()


def test_revoking_is_the_owners_and_only_for_the_documents_own_tokens(world):
    document, other, tokens, _ = world
    row, _ = DocumentToken.issue(document, role="viewer", expires_in=60)
    elsewhere, _ = DocumentToken.issue(other, role="viewer", expires_in=60)
    assert call(tokens["editor"], "delete", f"{tokens_url(document)}{row.pk}/").status_code == 403
    assert call(
        tokens["owner"], "delete", f"{tokens_url(document)}{elsewhere.pk}/"
    ).status_code == (404)
    assert DocumentToken.objects.filter(pk__in=[row.pk, elsewhere.pk]).count() == 2


def test_an_expired_token_is_401_and_no_longer_listed(world):
    document, _, tokens, _ = world
    row, token = DocumentToken.issue(document, role="editor", expires_in=60, label="old")
    DocumentToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    refused = call(token, "get", f"/api/documents/{document.id}/")

    assert refused.status_code == 401
    assert refused.json()["detail"] == "the token has expired"
    assert "old" not in call(tokens["owner"], "get", tokens_url(document)).content.decode()


# -- what a scoped credential may do -----------------------------------------------------------
def endpoints(document, other, version):
    base = f"/api/documents/{document.id}"
    return {
        "list": ("get", "/api/documents/", None),
        "create": ("post", "/api/documents/", {"title": "mine"}),
        "retrieve": ("get", f"{base}/", None),
        "rename": ("patch", f"{base}/", {"title": "renamed"}),
        "delete": ("delete", f"{base}/", None),
        "content": ("get", f"{base}/content?format=text", None),
        "state": ("get", f"{base}/state", None),
        "updates": ("post", f"{base}/updates", typed("hi")),
        "members": ("get", f"{base}/members/", None),
        "add member": ("post", f"{base}/members/", {"username": "newcomer", "role": "viewer"}),
        "remove member": ("delete", f"{base}/members/viewer/", None),
        "versions": ("get", f"{base}/versions/", None),
        "take version": ("post", f"{base}/versions/", {"name": "before the launch"}),
        "restore": ("post", f"{base}/versions/{version.id}/restore/", None),
        "list tokens": ("get", f"{base}/tokens/", None),
        "mint token": ("post", f"{base}/tokens/", {"role": "viewer", "expires_in": 60}),
        "other document": ("get", f"/api/documents/{other.id}/", None),
        "other document's state": ("get", f"/api/documents/{other.id}/state", None),
    }


#                          editor viewer   (a minted token and a JWT alike)
SCOPED_MATRIX = {
    "list": (403, 403),
    "create": (403, 403),
    "retrieve": (200, 200),
    "rename": (200, 403),
    "delete": (403, 403),
    "content": (200, 200),
    "state": (200, 200),
    "updates": (204, 403),
    "members": (403, 403),
    "add member": (403, 403),
    "remove member": (403, 403),
    "versions": (200, 200),
    "take version": (201, 403),
    "restore": (200, 403),
    "list tokens": (403, 403),
    "mint token": (403, 403),
    "other document": (403, 403),
    "other document's state": (403, 403),
}
SCOPED_CASES = [
    pytest.param(name, f"{kind} {role}", codes[i], id=f"{name}-{kind}-{role}")
    for name, codes in SCOPED_MATRIX.items()
    for kind in ("token", "jwt")
    for i, role in enumerate(("editor", "viewer"))
]


@pytest.mark.parametrize(("name", "who", "expected"), SCOPED_CASES)
def test_a_scoped_credential_reaches_only_its_document_with_at_most_its_role(
    world, name, who, expected
):
    document, other, tokens, version = world
    method, path, body = endpoints(document, other, version)[name]
    content_type = "application/octet-stream" if name == "updates" else "application/json"
    response = call(tokens[who], method, path, body, content_type)
    assert response.status_code == expected, response.content[:300]
    if expected >= 400:
        assert response.json()["detail"]


@pytest.mark.parametrize("who", ["token viewer", "jwt viewer"])
def test_the_document_tells_a_scoped_caller_its_role(world, who):
    document, _, tokens, _ = world
    assert call(tokens[who], "get", f"/api/documents/{document.id}/").json()["role"] == "viewer"


def test_a_version_taken_with_a_jwt_has_no_author_account(world):
    document, _, tokens, _ = world
    path = f"/api/documents/{document.id}/versions/"
    taken = call(tokens["jwt editor"], "post", path, {"name": "from the product"})
    assert taken.status_code == 201
    assert taken.json()["author"] is None
    assert DocumentVersion.objects.get(name="from the product").author is None
