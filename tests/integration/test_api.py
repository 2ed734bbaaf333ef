"""The HTTP API's endpoints and who may call them (SPEC.md: HTTP API), with exact status codes.

Every role meets every endpoint: owner, editor, viewer, an authenticated non-member, anonymous,
and staff (who act as owner everywhere). Anonymous callers get 401, non-members 403, and an
unknown document 404; errors are JSON with a `detail`.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from pycrdt import Doc, Text

from documents.models import Document, DocumentVersion
from documents.storage import load_document_state
from documents.versions import save_version

pytestmark = pytest.mark.django_db

ROLES = ["owner", "editor", "viewer", "stranger", "anonymous", "staff"]


@pytest.fixture
def world(shared_plan, make_user):
    document, people, tokens = shared_plan
    make_user("newcomer")
    version = save_version(document.id, b"\x00\x00", name="empty", author=people["owner"])
    return document, tokens, version


def typed(text: str) -> bytes:
    doc = Doc()
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


def call(tokens, role, method, path, body=None, content_type="application/json"):
    headers = {} if role == "anonymous" else {"HTTP_AUTHORIZATION": f"Bearer {tokens[role]}"}
    client = Client()
    if body is None:
        return getattr(client, method)(path, **headers)
    if content_type == "application/json":
        return getattr(client, method)(path, body, content_type=content_type, **headers)
    return getattr(client, method)(path, body, content_type=content_type, **headers)


def endpoint(document, version):
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
        "write content": ("put", f"{base}/content", {"type": "doc", "content": []}),
        "version content": ("get", f"{base}/versions/{version.id}/content?format=html", None),
        "version diff": ("get", f"{base}/versions/{version.id}/diff?against=current", None),
    }


#           endpoint          owner editor viewer stranger anonymous staff
MATRIX = {
    "list": (200, 200, 200, 200, 401, 200),
    "create": (201, 201, 201, 201, 401, 201),
    "retrieve": (200, 200, 200, 403, 401, 200),
    "rename": (200, 200, 403, 403, 401, 200),
    "delete": (204, 403, 403, 403, 401, 204),
    "content": (200, 200, 200, 403, 401, 200),
    "state": (200, 200, 200, 403, 401, 200),
    "updates": (204, 204, 403, 403, 401, 204),
    "members": (200, 403, 403, 403, 401, 200),
    "add member": (201, 403, 403, 403, 401, 201),
    "remove member": (204, 403, 403, 403, 401, 204),
    "versions": (200, 200, 200, 403, 401, 200),
    "take version": (201, 201, 403, 403, 401, 201),
    "restore": (200, 200, 403, 403, 401, 200),
    "write content": (200, 200, 403, 403, 401, 200),
    "version content": (200, 200, 200, 403, 401, 200),
    "version diff": (200, 200, 200, 403, 401, 200),
}
CASES = [
    pytest.param(name, role, codes[i], id=f"{name}-{role}")
    for name, codes in MATRIX.items()
    for i, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("name", "role", "expected"), CASES)
def test_each_role_gets_the_status_spec_promises(world, name, role, expected):
    document, tokens, version = world
    method, path, body = endpoint(document, version)[name]
    content_type = "application/octet-stream" if name == "updates" else "application/json"
    response = call(tokens, role, method, path, body, content_type)
    assert response.status_code == expected, response.content[:300]
    if expected >= 400:
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]


@pytest.mark.parametrize("name", [n for n in MATRIX if n not in ("list", "create")])
def test_an_unknown_document_is_a_404_with_detail(world, name):
    document, tokens, version = world
    method, path, body = endpoint(document, version)[name]
    path = path.replace(str(document.id), str(uuid.uuid4()))
    content_type = "application/octet-stream" if name == "updates" else "application/json"
    response = call(tokens, "staff", method, path, body, content_type)
    assert response.status_code == 404
    assert response.json()["detail"]


def test_a_document_id_that_is_not_a_uuid_is_a_404(world):
    _, tokens, _ = world
    response = call(tokens, "owner", "get", "/api/documents/not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_creating_returns_the_new_document_with_the_callers_role(world):
    _, tokens, _ = world
    response = call(tokens, "editor", "post", "/api/documents/", {"title": "Notes"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "title", "role", "created_at", "updated_at"}
    assert body["title"] == "Notes" and body["role"] == "owner"
    assert Document.objects.get(id=body["id"]).owner.username == "editor"


def test_the_list_is_paginated_and_holds_only_readable_documents(world, make_user):
    document, tokens, _ = world
    other = Document.objects.create(title="private", owner=make_user("someone"))
    listed = call(tokens, "viewer", "get", "/api/documents/").json()
    assert {"count", "next", "previous", "results"} <= set(listed)
    assert [d["id"] for d in listed["results"]] == [str(document.id)]
    assert listed["results"][0]["role"] == "viewer"
    assert call(tokens, "stranger", "get", "/api/documents/").json()["count"] == 0
    staff_ids = {d["id"] for d in call(tokens, "staff", "get", "/api/documents/").json()["results"]}
    assert {str(document.id), str(other.id)} <= staff_ids


def test_renaming_changes_the_title_others_see(world):
    document, tokens, _ = world
    call(tokens, "editor", "patch", f"/api/documents/{document.id}/", {"title": "Q3 plan"})
    assert call(tokens, "viewer", "get", f"/api/documents/{document.id}").json()["title"] == (
        "Q3 plan"
    )


def test_a_title_that_is_too_long_is_a_400_with_detail(world):
    document, tokens, _ = world
    response = call(
        tokens, "owner", "patch", f"/api/documents/{document.id}/", {"title": "x" * 201}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("title:")


def test_an_update_posted_over_http_is_stored_and_in_the_state(world):
    document, tokens, _ = world
    response = call(
        tokens,
        "editor",
        "post",
        f"/api/documents/{document.id}/updates",
        typed("hello"),
        "application/octet-stream",
    )
    assert response.status_code == 204
    state = call(tokens, "viewer", "get", f"/api/documents/{document.id}/state")
    assert state["Content-Type"] == "application/octet-stream"
    doc = Doc()
    doc.apply_update(state.content)
    assert str(doc.get("text", type=Text)) == "hello"
    assert load_document_state(str(document.id)) is not None


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"", b"\x01\x02"])
def test_an_undecodable_update_is_a_400_and_changes_nothing(world, body):
    document, tokens, _ = world
    response = call(
        tokens,
        "owner",
        "post",
        f"/api/documents/{document.id}/updates",
        body,
        "application/octet-stream",
    )
    assert response.status_code == 400
    assert response.json()["detail"]
    assert load_document_state(str(document.id)) is None


def test_owners_share_change_roles_and_unshare(world):
    document, tokens, _ = world
    members = f"/api/documents/{document.id}/members/"
    added = call(tokens, "owner", "post", members, {"username": "newcomer", "role": "editor"})
    assert added.status_code == 201 and added.json() == {"username": "newcomer", "role": "editor"}
    changed = call(tokens, "owner", "post", members, {"username": "newcomer", "role": "viewer"})
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    listed = call(tokens, "owner", "get", members).json()
    assert {"username": "newcomer", "role": "viewer"} in listed
    assert call(tokens, "owner", "delete", f"{members}newcomer/").status_code == 204
    assert call(tokens, "owner", "delete", f"{members}newcomer/").status_code == 404
    bad = call(tokens, "owner", "post", members, {"username": "nobody", "role": "editor"})
    assert bad.status_code == 400 and bad.json()["detail"] == "username: no such user"


def test_a_removed_member_loses_access_at_once(world):
    document, tokens, _ = world
    call(tokens, "owner", "delete", f"/api/documents/{document.id}/members/viewer/")
    assert call(tokens, "viewer", "get", f"/api/documents/{document.id}/").status_code == 403


def test_versions_are_listed_newest_first_with_author_and_preview(world):
    document, tokens, _ = world
    call(
        tokens,
        "editor",
        "post",
        f"/api/documents/{document.id}/updates",
        typed("draft"),
        "application/octet-stream",
    )
    taken = call(
        tokens, "editor", "post", f"/api/documents/{document.id}/versions/", {"name": "v1"}
    )
    assert taken.status_code == 201
    assert set(taken.json()) == {"id", "name", "author", "automatic", "created_at", "preview"}
    listed = call(tokens, "viewer", "get", f"/api/documents/{document.id}/versions/").json()
    assert listed["count"] == 2
    newest = listed["results"][0]
    assert (newest["name"], newest["author"], newest["automatic"]) == ("v1", "editor", False)
    assert DocumentVersion.objects.get(id=newest["id"]).document_id == document.id


def test_a_version_of_another_document_cannot_be_restored_here(world, make_user):
    document, tokens, _ = world
    elsewhere = Document.objects.create(title="other", owner=make_user("other"))
    foreign = save_version(elsewhere.id, b"\x00\x00", name="x")
    response = call(
        tokens, "staff", "post", f"/api/documents/{document.id}/versions/{foreign.id}/restore/"
    )
    assert response.status_code == 404


def test_a_bad_token_is_a_401_even_with_a_session(world):
    document, _, _ = world
    client = Client()
    client.force_login(document.owner)
    assert client.get("/api/documents/").status_code == 200
    response = client.get("/api/documents/", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_sessions_need_csrf_for_writes(world):
    document, _, _ = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(document.owner)
    response = client.post("/api/documents/", {"title": "x"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
