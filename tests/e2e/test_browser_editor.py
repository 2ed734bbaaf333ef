"""The editor page (/d/<id>) in a real browser against a real server: co-editing, presence,
viewers, offline editing, saving."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from documents.models import Document, Membership, Role
from tests.e2e import browser as harness
from tests.e2e.browser import (
    editor_text,
    editors,
    open_editor,
    sign_in,
    type_at_end,
    wait_for_text,
)

pytestmark = pytest.mark.browser

# Fixtures (assigned rather than imported, so that test arguments do not shadow an import).
browser, server, open_contexts = harness.browser, harness.server, harness.open_contexts


@pytest.fixture
def shared_document(make_user):
    """A document owned by alice, shared with bob as editor and carol as viewer."""
    alice = make_user("alice")
    bob = make_user("bob")
    carol = make_user("carol")
    document = Document.objects.create(owner=alice, title="Plans")
    Membership.objects.create(document=document, user=bob, role=Role.EDITOR)
    Membership.objects.create(document=document, user=carol, role=Role.VIEWER)
    return document


def test_two_people_co_edit_and_see_each_other(server, open_contexts, shared_document):
    alice, bob = editors(open_contexts, server, shared_document.pk, "alice", "bob")

    type_at_end(alice, "Hello from Alice.")
    wait_for_text(bob, "Hello from Alice.")
    type_at_end(bob, " And Bob.")
    wait_for_text(alice, "Hello from Alice. And Bob.")

    expect(alice.get_by_test_id("presence")).to_contain_text("bob")
    expect(bob.get_by_test_id("presence")).to_contain_text("alice")


def test_formatting_crosses_over(server, open_contexts, shared_document):
    alice, bob = editors(open_contexts, server, shared_document.pk, "alice", "bob")

    alice.get_by_test_id("editor").click()
    alice.get_by_role("button", name="Heading 1").click()
    alice.keyboard.type("Agenda")
    alice.keyboard.press("Enter")
    alice.get_by_role("button", name="Bold").click()
    alice.keyboard.type("important")

    bob_editor = bob.get_by_test_id("editor")
    expect(bob_editor.locator("h1")).to_have_text("Agenda")
    expect(bob_editor.locator("strong")).to_have_text("important")


def test_viewer_sees_edits_live_but_cannot_change_the_text(server, open_contexts, shared_document):
    alice, carol = editors(open_contexts, server, shared_document.pk, "alice", "carol")

    expect(carol.get_by_test_id("view-only")).to_have_text("view only")
    expect(carol.get_by_test_id("editor")).to_have_attribute("contenteditable", "false")

    type_at_end(alice, "Read this, Carol.")
    wait_for_text(carol, "Read this, Carol.")

    carol.get_by_test_id("editor").click()
    carol.keyboard.type("carol was here")
    assert "carol was here" not in editor_text(carol)
    type_at_end(alice, " Still there?")
    wait_for_text(carol, "Read this, Carol. Still there?")
    assert "carol" not in editor_text(alice).lower().replace("read this, carol.", "")


def test_offline_edits_merge_on_reconnect(server, open_contexts, shared_document):
    alice_context = open_contexts()
    alice = sign_in(alice_context, server, "alice")
    bob = sign_in(open_contexts(), server, "bob")
    open_editor(alice, server, shared_document.pk)
    open_editor(bob, server, shared_document.pk)
    type_at_end(alice, "Shared start.")
    wait_for_text(bob, "Shared start.")

    alice_context.set_offline(True)
    expect(alice.get_by_test_id("status")).to_have_text("offline")
    type_at_end(alice, " Alice on the train.")
    type_at_end(bob, " Bob at the office.")
    wait_for_text(bob, "Bob at the office.")
    assert "Bob at the office." not in editor_text(alice)

    alice_context.set_offline(False)
    for page in (alice, bob):
        wait_for_text(page, "Shared start.", "Alice on the train.", "Bob at the office.")
        expect(page.get_by_test_id("status")).to_have_text("saved")
    assert editor_text(alice) == editor_text(bob)


def test_saved_edits_survive_a_reload_and_a_killed_server(
    servers, server, open_contexts, shared_document
):
    alice = sign_in(open_contexts(), server, "alice")
    open_editor(alice, server, shared_document.pk)
    expect(alice.get_by_test_id("status")).to_have_text("saved")
    alice.get_by_test_id("editor").click()
    alice.get_by_role("button", name="Heading 2").click()
    alice.keyboard.type("Kept")
    alice.keyboard.press("Enter")
    alice.keyboard.type("across reloads")
    wait_for_text(alice, "across reloads")
    expect(alice.get_by_test_id("status")).to_have_text("saved")

    alice.reload()
    alice.wait_for_function("window.collab && window.collab.provider.synced")
    wait_for_text(alice, "Kept", "across reloads")
    expect(alice.get_by_test_id("editor").locator("h2")).to_have_text("Kept")
    expect(alice.get_by_test_id("status")).to_have_text("saved")

    # "saved" means stored in the database: a server killed outright still has the text.
    server.kill()
    restarted = servers.start(COLLAB_SECURE_COOKIES="0")
    open_editor(alice, restarted, shared_document.pk)
    wait_for_text(alice, "Kept", "across reloads")
