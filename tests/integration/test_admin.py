"""The Django admin: documents with a preview, versions restored, tokens issued once, and who is
connected now (people by username, document tokens by label, JWTs by `sub`), with a disconnect
that reaches the live socket (4403)."""

from __future__ import annotations

import asyncio
import re

import pytest
import requests
from channels.db import database_sync_to_async
from django.test import Client

from documents.models import (
    ApiToken,
    Document,
    DocumentToken,
    DocumentVersion,
    LiveConnection,
    Membership,
)
from documents.richtext.formats import render
from documents.storage import append_updates, load_document_state
from documents.versions import save_version
from tests.support.embedding import JWT_SECRET, signed_jwt
from tests.support.tiptap import paragraphs_document, sample_document
from tests.support.waiting import eventually
from tests.support.yclient import YClient

PASSWORD = "pw-secret-123"


@pytest.fixture
def site(transactional_db, make_user):
    admin = make_user("root", is_staff=True, is_superuser=True)
    owner = make_user("owner")
    member = make_user("member")
    document = Document.objects.create(title="Release plan", owner=owner)
    Membership.objects.create(document=document, user=member, role="editor")
    append_updates({str(document.id): [sample_document().get_update()]})
    return admin, document, member


def staff_client(admin) -> Client:
    client = Client()
    client.force_login(admin)
    return client


def test_the_document_list_searches_and_filters_by_owner(site):
    admin, document, _ = site
    client = staff_client(admin)
    page = client.get("/admin/documents/document/", {"q": "Release"})
    assert page.status_code == 200 and "Release plan" in page.content.decode()
    assert (
        "Release plan"
        not in client.get("/admin/documents/document/", {"q": "nothing-like-it"}).content.decode()
    )
    filtered = client.get("/admin/documents/document/", {"owner__id__exact": document.owner_id})
    assert "Release plan" in filtered.content.decode()


def test_the_document_page_previews_content_and_shows_size_members_and_versions(site):
    admin, document, _ = site
    save_version(document.id, load_document_state(str(document.id)), name="launch", author=admin)
    page = staff_client(admin).get(f"/admin/documents/document/{document.id}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<div class="collab-preview"><h2>Release plan</h2>' in html
    assert "<strong>bold</strong>" in html and "first &lt;item&gt;" in html
    assert re.search(r"[\d,]+ bytes \(1 update rows", html)
    assert "member" in html  # the members inline
    assert "launch" in html  # the versions inline


def test_the_restore_action_brings_the_version_back(site):
    admin, document, _ = site
    version = save_version(
        document.id, paragraphs_document("the old text").get_update(), name="old", author=admin
    )
    response = staff_client(admin).post(
        "/admin/documents/documentversion/",
        {"action": "restore", "_selected_action": [version.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert "now shows" in response.content.decode()
    assert render(load_document_state(str(document.id)), "text") == "the old text"
    assert DocumentVersion.objects.filter(document=document).count() == 1


def test_a_new_token_is_shown_once_and_works(site):
    admin, _, member = site
    client = staff_client(admin)
    response = client.post(
        "/admin/documents/apitoken/add/", {"user": member.id, "name": "ci"}, follow=True
    )
    shown = re.search(r"New token for member: (collab_[\w-]+)", response.content.decode())
    assert shown, "the token is shown in a message"
    token = shown.group(1)
    assert Client().get("/api/documents/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    assert token not in client.get("/admin/documents/apitoken/").content.decode()
    row = ApiToken.objects.get(user=member, name="ci")
    client.post("/admin/documents/apitoken/", {"action": "revoke", "_selected_action": [row.id]})
    assert Client().get("/api/documents/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def signed_in_session(server, admin) -> requests.Session:
    session = requests.Session()
    login = f"{server.http}/admin/login/"
    session.get(login, timeout=10)
    session.post(
        login,
        data={
            "username": admin.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        timeout=10,
    )
    assert "sessionid" in session.cookies, "signed in"
    return session


def admin_post(session, server, path, data) -> requests.Response:
    data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(f"{server.http}{path}", data=data, timeout=30)


@pytest.fixture
def server(servers):
    return servers.start(COLLAB_SECURE_COOKIES="0", COLLAB_JWT_SECRET=JWT_SECRET)


async def test_connected_now_lists_sockets_and_disconnect_closes_them_with_4403(server, site):
    admin, document, member = site
    token = await database_sync_to_async(lambda: ApiToken.issue(member)[1])()
    client = await YClient(f"{server.ws}/ws/documents/{document.id}?token={token}").connect()
    await client.wait_synced()
    session = await asyncio.to_thread(signed_in_session, server, admin)

    def connected_now():
        return session.get(f"{server.http}/admin/documents/liveconnection/", timeout=10).text

    page = await eventually(
        lambda: asyncio.to_thread(lambda: "Release plan" in (text := connected_now()) and text),
        timeout=30,
        what="the connection listed",
    )
    assert "Release plan" in page and "member" in page and "127.0.0.1" in page
    row = await database_sync_to_async(LiveConnection.objects.get)(document=document)
    response = await asyncio.to_thread(
        admin_post,
        session,
        server,
        "/admin/documents/liveconnection/",
        {"action": "disconnect", "_selected_action": [row.id]},
    )
    assert response.status_code == 200
    assert await client.wait_closed() == 4403
    await eventually(
        database_sync_to_async(
            lambda: not LiveConnection.objects.filter(document=document).exists()
        ),
        timeout=30,
        what="the connection's row gone",
    )


async def test_connected_now_names_document_tokens_by_label_and_jwts_by_sub(server, site):
    admin, document, member = site
    member_token = await database_sync_to_async(lambda: ApiToken.issue(member)[1])()
    _, minted = await database_sync_to_async(DocumentToken.issue)(
        document, role="viewer", expires_in=600, label="help-center widget"
    )
    signed = signed_jwt(document.id, "editor", sub="ada@product.example")
    clients = {}
    for who, token in (("member", member_token), ("minted", minted), ("jwt", signed)):
        url = f"{server.ws}/ws/documents/{document.id}?token={token}"
        clients[who] = await YClient(url).connect()
        await clients[who].wait_synced()
    session = await asyncio.to_thread(signed_in_session, server, admin)

    def rows():
        return list(LiveConnection.objects.values_list("label", "credential", "user_id"))

    await eventually(
        database_sync_to_async(lambda: len(rows()) == 3), timeout=30, what="3 rows written"
    )
    page = await asyncio.to_thread(
        lambda: session.get(f"{server.http}/admin/documents/liveconnection/", timeout=10).text
    )
    assert "help-center widget" in page and "document token" in page
    assert "ada@product.example" in page and "JWT" in page
    jwt_row = await database_sync_to_async(LiveConnection.objects.get)(label="ada@product.example")
    assert jwt_row.user_id is None and jwt_row.role == "editor"

    response = await asyncio.to_thread(
        admin_post,
        session,
        server,
        "/admin/documents/liveconnection/",
        {"action": "disconnect", "_selected_action": [jwt_row.id]},
    )
    assert response.status_code == 200
    assert await clients["jwt"].wait_closed() == 4403
    clients["member"].text += "still here;"
    await clients["minted"].wait_for(lambda: "still here;" in str(clients["minted"].text))
    assert clients["member"].close_code is None and clients["minted"].close_code is None
    for client in clients.values():
        await client.close()


async def test_removing_a_member_in_the_admin_ends_their_live_session(server, site):
    admin, document, member = site
    token = await database_sync_to_async(lambda: ApiToken.issue(member)[1])()
    client = await YClient(f"{server.ws}/ws/documents/{document.id}?token={token}").connect()
    await client.wait_synced()
    fragment_text = render(client.doc.get_update(), "text")
    assert fragment_text.startswith("Release plan")
    session = await asyncio.to_thread(signed_in_session, server, admin)
    membership = await database_sync_to_async(Membership.objects.get)(user=member)
    response = await asyncio.to_thread(
        admin_post,
        session,
        server,
        f"/admin/documents/membership/{membership.id}/delete/",
        {"post": "yes"},
    )
    assert response.status_code == 200
    assert await client.wait_closed() == 4403


def test_an_empty_document_previews_as_empty(site):
    admin, _, _ = site
    owner = Document.objects.get(title="Release plan").owner
    empty = Document.objects.create(title="Blank", owner=owner)
    html = staff_client(admin).get(f"/admin/documents/document/{empty.id}/change/").content
    assert b"<em>empty</em>" in html
