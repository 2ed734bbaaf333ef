"""Quotas: documents per user, versions per document, stored bytes per user. Past a quota the
API answers a 4xx JSON that names it; automatic versions make room instead of failing."""

from __future__ import annotations

import pytest
from django.test import Client
from pycrdt import Doc, Text

from documents.models import ApiToken, Document, DocumentVersion
from documents.versions import save_version


def typed(text: str) -> bytes:
    doc = Doc()
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


@pytest.fixture
def api(db, make_user):
    def as_user(username: str) -> Client:
        user = make_user(username)
        return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user)[1]}")

    return as_user


def create(client, title="doc"):
    return client.post("/api/documents/", {"title": title}, content_type="application/json")


def post_update(client, document_id, update):
    return client.post(
        f"/api/documents/{document_id}/updates", update, content_type="application/octet-stream"
    )


def test_a_user_cannot_own_more_documents_than_the_quota(api, settings):
    settings.COLLAB_MAX_DOCUMENTS_PER_USER = 2
    alice, bob = api("alice"), api("bob")
    assert [create(alice).status_code for _ in range(2)] == [201, 201]
    refused = create(alice)
    assert refused.status_code == 403
    assert "COLLAB_MAX_DOCUMENTS_PER_USER" in refused.json()["detail"]
    assert create(bob).status_code == 201  # a quota is per user


def test_stored_bytes_are_bounded_per_owner_on_http_updates_and_creation(api, settings):
    settings.COLLAB_MAX_STORED_BYTES_PER_USER = 1000
    alice = api("alice")
    document_id = create(alice).json()["id"]
    assert post_update(alice, document_id, typed("a" * 600)).status_code == 204
    refused = post_update(alice, document_id, typed("b" * 600))
    assert refused.status_code == 403
    assert "COLLAB_MAX_STORED_BYTES_PER_USER" in refused.json()["detail"]
    settings.COLLAB_MAX_STORED_BYTES_PER_USER = 500  # lowered below what alice already stores
    assert create(alice).status_code == 403


def test_automatic_versions_replace_the_oldest_automatic_ones_at_the_limit(db, make_user, settings):
    settings.COLLAB_MAX_VERSIONS_PER_DOCUMENT = 3
    document = Document.objects.create(title="d", owner=make_user("alice"))
    save_version(document.id, typed("named"), name="keep me")
    automatic = [save_version(document.id, typed(f"auto {n}"), automatic=True) for n in range(4)]
    kept = DocumentVersion.objects.filter(document=document)
    assert kept.count() == 3
    assert set(kept.values_list("id", flat=True)) == {
        kept.get(name="keep me").id,
        automatic[2].id,
        automatic[3].id,
    }


def test_named_versions_past_the_limit_are_refused_once_no_automatic_one_is_left(api, settings):
    settings.COLLAB_MAX_VERSIONS_PER_DOCUMENT = 2
    alice = api("alice")
    document_id = create(alice).json()["id"]
    save_version(document_id, typed("x"), automatic=True)
    url = f"/api/documents/{document_id}/versions/"
    take = lambda name: alice.post(url, {"name": name}, content_type="application/json")  # noqa: E731
    assert take("one").status_code == 201
    assert take("two").status_code == 201  # the automatic version made room
    refused = take("three")
    assert refused.status_code == 403
    assert "COLLAB_MAX_VERSIONS_PER_DOCUMENT" in refused.json()["detail"]
    assert save_version(document_id, typed("y"), automatic=True) is None  # skipped, no error
    assert DocumentVersion.objects.filter(document_id=document_id).count() == 2


def test_an_update_body_over_the_message_limit_is_a_413(api, settings):
    settings.COLLAB_MAX_MESSAGE_BYTES = 100
    alice = api("alice")
    document_id = create(alice).json()["id"]
    response = post_update(alice, document_id, typed("z" * 300))
    assert response.status_code == 413
    assert "100" in response.json()["detail"]


async def test_the_asgi_application_refuses_a_large_declared_body_without_reading_it(settings):
    from collab.asgi import application

    sent = []

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    limit = settings.COLLAB_MAX_MESSAGE_BYTES
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/documents/x/updates",
        "headers": [(b"content-length", str(limit + 1).encode())],
    }
    await application(scope, receive, send)
    assert sent[0]["status"] == 413
    assert str(limit).encode() in sent[1]["body"]
