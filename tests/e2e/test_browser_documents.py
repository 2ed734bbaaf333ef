"""The documents page (/), sharing, signing in and out, and losing access, in a real browser."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from documents.models import Document, Membership, Role
from tests.e2e import browser as harness
from tests.e2e.browser import PASSWORD, open_editor, sign_in, type_at_end

pytestmark = pytest.mark.browser

# Fixtures (assigned rather than imported, so that test arguments do not shadow an import).
browser, server, open_contexts = harness.browser, harness.server, harness.open_contexts


def row(page, title: str):
    return page.get_by_test_id("documents").locator("li.doc-row", has_text=title)


def test_documents_page_creates_renames_and_deletes(server, open_contexts, make_user):
    make_user("alice")
    page = sign_in(open_contexts(), server, "alice")
    expect(page.get_by_text("No documents yet")).to_be_visible()

    page.get_by_placeholder("Title of a new document").fill("Trip notes")
    page.get_by_role("button", name="New document").click()
    expect(row(page, "Trip notes")).to_contain_text("owner")

    row(page, "Trip notes").get_by_role("button", name="Rename").click()
    page.get_by_label("New title").fill("Trip to Lisbon")
    page.get_by_label("New title").press("Enter")
    expect(row(page, "Trip to Lisbon")).to_be_visible()
    page.reload()
    expect(row(page, "Trip to Lisbon")).to_be_visible()
    assert Document.objects.get().title == "Trip to Lisbon"

    page.once("dialog", lambda dialog: dialog.accept())
    row(page, "Trip to Lisbon").get_by_role("button", name="Delete").click()
    expect(row(page, "Trip to Lisbon")).to_have_count(0)
    page.reload()
    expect(page.get_by_text("No documents yet")).to_be_visible()
    assert not Document.objects.exists()


def test_documents_page_lists_shared_documents_with_my_role(server, open_contexts, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    mine = Document.objects.create(owner=bob, title="Bob's own")
    theirs = Document.objects.create(owner=alice, title="Alice's shopping list")
    Document.objects.create(owner=alice, title="Alice's diary")
    Membership.objects.create(document=theirs, user=bob, role=Role.VIEWER)
    agenda = Document.objects.create(owner=alice, title="Alice's agenda")
    Membership.objects.create(document=agenda, user=bob, role=Role.EDITOR)

    page = sign_in(open_contexts(), server, "bob")
    expect(row(page, "Bob's own")).to_contain_text("owner")
    expect(row(page, "Alice's shopping list")).to_contain_text("viewer")
    expect(row(page, "Alice's shopping list").locator(".doc-actions")).to_have_text("")
    expect(row(page, "Alice's agenda")).to_contain_text("editor")
    expect(row(page, "Alice's agenda").locator(".doc-actions")).to_have_text("Rename")
    expect(row(page, "Bob's own").locator(".doc-actions")).to_have_text("RenameDelete")
    expect(row(page, "Alice's diary")).to_have_count(0)

    row(page, "Bob's own").get_by_role("link").click()
    page.wait_for_url(f"{server.http}/d/{mine.pk}")
    expect(page.get_by_label("Document title")).to_have_value("Bob's own")


def test_editor_title_renames_the_document(server, open_contexts, make_user):
    alice = make_user("alice")
    document = Document.objects.create(owner=alice, title="Draft")
    page = sign_in(open_contexts(), server, "alice")
    open_editor(page, server, document.pk)

    title = page.get_by_label("Document title")
    title.fill("Final report")
    title.press("Enter")
    expect(title).to_have_attribute("data-saved", "true")
    document.refresh_from_db()
    assert document.title == "Final report"
    expect(page).to_have_title("Final report · Collab")


def test_share_dialog_gives_access_and_changes_and_removes_it(server, open_contexts, make_user):
    alice = make_user("alice")
    make_user("bob")
    document = Document.objects.create(owner=alice, title="Budget")
    owner = sign_in(open_contexts(), server, "alice")
    open_editor(owner, server, document.pk)

    owner.get_by_role("button", name="Share").click()
    dialog = owner.get_by_role("dialog")
    expect(dialog).to_contain_text("Only you can open this document.")
    dialog.get_by_label("Username").fill("nobody")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_role("alert")).to_contain_text("no such user")

    dialog.get_by_label("Username").fill("bob")
    dialog.get_by_label("Role", exact=True).select_option("viewer")
    dialog.get_by_role("button", name="Add").click()
    expect(dialog.get_by_label("Role of bob")).to_have_value("viewer")

    bob = sign_in(open_contexts(), server, "bob")
    expect(row(bob, "Budget")).to_contain_text("viewer")

    with owner.expect_response(lambda r: r.request.method == "POST" and r.ok):
        dialog.get_by_label("Role of bob").select_option("editor")
    bob.reload()
    expect(row(bob, "Budget")).to_contain_text("editor")

    dialog.get_by_role("button", name="Remove bob").click()
    expect(dialog).to_contain_text("Only you can open this document.")
    bob.reload()
    expect(row(bob, "Budget")).to_have_count(0)


def test_revoked_access_shows_a_message_instead_of_reconnecting(server, open_contexts, make_user):
    alice = make_user("alice")
    bob = make_user("bob")
    document = Document.objects.create(owner=alice, title="Secret plan")
    Membership.objects.create(document=document, user=bob, role=Role.EDITOR)
    owner = sign_in(open_contexts(), server, "alice")
    member = sign_in(open_contexts(), server, "bob")
    open_editor(member, server, document.pk)
    type_at_end(member, "bob was here")

    open_editor(owner, server, document.pk)
    owner.get_by_role("button", name="Share").click()
    owner.get_by_role("dialog").get_by_role("button", name="Remove bob").click()

    message = member.get_by_test_id("connection-message")
    expect(message).to_contain_text("You no longer have access to this document.")
    expect(member.get_by_test_id("status")).to_have_text("offline")
    expect(member.get_by_test_id("editor")).to_have_attribute("contenteditable", "false")
    assert member.evaluate("window.collab.provider.shouldConnect") is False


def test_expired_session_asks_to_sign_in_again(server, open_contexts, make_user):
    alice = make_user("alice")
    document = Document.objects.create(owner=alice, title="Notes")
    context = open_contexts()
    page = sign_in(context, server, "alice")
    open_editor(page, server, document.pk)

    context.clear_cookies()
    page.evaluate("window.collab.provider.ws.close()")

    message = page.get_by_test_id("connection-message")
    expect(message).to_contain_text("Your session has expired")
    message.get_by_role("link", name="Sign in").click()
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.http}/d/{document.pk}")


def test_sign_in_errors_sign_out_and_pages_without_access(server, open_contexts, make_user):
    alice = make_user("alice")
    make_user("bob")
    private = Document.objects.create(owner=alice, title="Private")
    page = open_contexts().new_page()

    page.goto(f"{server.http}/")
    page.wait_for_url(f"{server.http}/accounts/login/?next=/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("do not match")

    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.http}/")
    expect(page.get_by_test_id("username")).to_have_text("bob")

    response = page.goto(f"{server.http}/d/{private.pk}")
    assert response.status == 403
    expect(page.get_by_role("heading")).to_have_text("You have no access to this document")
    response = page.goto(f"{server.http}/d/{uuid.uuid4()}")
    assert response.status == 404
    expect(page.get_by_role("heading")).to_have_text("This document does not exist")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.http}/accounts/login/")
    page.goto(f"{server.http}/")
    page.wait_for_url(f"{server.http}/accounts/login/?next=/")
