"""Admin actions that act on live documents and credentials (restore, revoke, disconnect) need
the matching model permission: a staff user who may only view neither sees nor runs them."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.admin import site
from django.contrib.auth.models import Permission, User
from django.test import Client, RequestFactory

from documents.models import ApiToken, Document, DocumentToken, DocumentVersion, LiveConnection
from documents.storage import load_document_state
from documents.versions import save_version
from tests.support.tiptap import paragraphs_document

ACTIONS = [
    ("documentversion", "restore", ["change_document"]),
    ("apitoken", "revoke", ["delete_apitoken"]),
    ("documenttoken", "revoke", ["delete_documenttoken"]),
    ("liveconnection", "disconnect", ["delete_liveconnection"]),
]


@pytest.fixture
def clerk(transactional_db, make_user):
    """Staff who may view everything in the admin, and change nothing."""
    user = make_user("clerk", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grant(user, codenames: list[str]) -> None:
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


@pytest.mark.parametrize("model, action, needed", ACTIONS)
def test_a_staff_user_without_the_permission_is_not_offered_it(clerk, model, action, needed):
    model_admin = site._registry[apps.get_model("documents", model)]

    def offered() -> bool:
        request = RequestFactory().get(f"/admin/documents/{model}/")
        request.user = User.objects.get(pk=clerk.pk)  # fresh: permissions are cached per object
        return action in model_admin.get_actions(request)

    assert not offered()
    grant(clerk, needed)
    assert offered()


def test_a_staff_user_without_the_permission_cannot_run_the_actions(clerk, make_user):
    owner = make_user("owner")
    document = Document.objects.create(title="t", owner=owner)
    version = save_version(document.id, paragraphs_document("old").get_update(), name="v")
    row, _ = ApiToken.issue(owner)
    document_token, _ = DocumentToken.issue(document, role="viewer", expires_in=60)
    client = admin_client(clerk)
    client.post(
        "/admin/documents/documentversion/",
        {"action": "restore", "_selected_action": [version.id]},
    )
    client.post("/admin/documents/apitoken/", {"action": "revoke", "_selected_action": [row.id]})
    client.post(
        "/admin/documents/documenttoken/",
        {"action": "revoke", "_selected_action": [document_token.pk]},
    )
    assert load_document_state(str(document.id)) in (None, b"", b"\x00\x00")  # not restored
    assert ApiToken.objects.filter(pk=row.pk).exists()  # not revoked
    assert DocumentToken.objects.filter(pk=document_token.pk).exists()
    assert DocumentVersion.objects.filter(pk=version.pk).exists()
    assert not LiveConnection.objects.exists()
