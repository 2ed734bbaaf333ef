"""A product writes the content over HTTP while a person has the editor open (real browser,
real server): they see it at once, and their caret stays where it was."""

from __future__ import annotations

import pytest
import requests

from documents.models import ApiToken, Document
from documents.storage import append_updates
from tests.e2e import browser as harness
from tests.e2e.browser import editors, wait_for_text
from tests.support.tiptap import paragraphs_document
from tests.support.waiting import eventually_sync

pytestmark = pytest.mark.browser

browser, server, open_contexts = harness.browser, harness.server, harness.open_contexts


@pytest.fixture
def notes(make_user):
    """Alice's document of four paragraphs, and an API token of hers for the product."""
    alice = make_user("alice")
    document = Document.objects.create(owner=alice, title="Notes")
    lines = ("Agenda", "Notes: first second", "Old decision", "End")
    append_updates({str(document.pk): [paragraphs_document(*lines).get_update()]})
    return document, ApiToken.issue(alice)[1]


def paragraph_texts(page) -> list[str]:
    return page.evaluate(
        "(() => { const texts = []; window.collab.editor.state.doc.forEach("
        "(node) => texts.push(node.textContent)); return texts })()"
    )


def put_caret_after(page, paragraph: int, text: str) -> None:
    """Clicks into the editor and puts the caret right after `text` in that paragraph."""
    page.locator("[data-testid=editor]").click()
    page.wait_for_function("window.collab.editor.view.hasFocus()")
    page.evaluate(
        """([index, text]) => {
            const editor = window.collab.editor
            let position = null
            editor.state.doc.forEach((node, offset, i) => {
                if (i === index) position = offset + 1 + node.textContent.indexOf(text)
            })
            position += text.length
            editor.commands.setTextSelection(position)
        }""",
        [paragraph, text],
    )


def test_a_put_around_the_paragraph_being_typed_in_keeps_the_caret(server, open_contexts, notes):
    document, token = notes
    (alice,) = editors(open_contexts, server, document.pk, "alice")
    put_caret_after(alice, 1, "first")
    alice.keyboard.type(" [alice]")
    api = f"{server.http}/api/documents/{document.pk}/content"
    headers = {"Authorization": f"Bearer {token}"}

    def stored_text() -> str:
        return requests.get(api, params={"format": "text"}, headers=headers, timeout=10).text

    eventually_sync(lambda: "[alice]" in stored_text(), timeout=10, what="alice's words stored")

    # The product reads the Markdown, rewrites the paragraphs around Alice's and writes it back.
    markdown = requests.get(api, params={"format": "markdown"}, headers=headers, timeout=10).text
    markdown = markdown.replace("Agenda", "Agenda for Monday").replace("Old", "New")
    response = requests.put(
        api, params={"format": "markdown"}, data=markdown.encode(), headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    wait_for_text(alice, "Agenda for Monday", "New decision")

    alice.keyboard.type(" and more")  # no click: where her caret was left
    assert paragraph_texts(alice) == [
        "Agenda for Monday",
        "Notes: first [alice] and more second",
        "New decision",
        "End",
    ]
    eventually_sync(
        lambda: stored_text().split("\n")[1] == "Notes: first [alice] and more second",
        timeout=10,
        what="the stored content has her last words in place",
    )


def test_words_typed_while_a_put_travels_survive_where_they_were_typed(
    server, open_contexts, notes
):
    """Alice's connection drops while she types (the provider disconnects: her words stay in
    her browser) and the product writes around her paragraph meanwhile; when she is back, the
    two merge: her words where she typed them, the product's paragraphs as it wrote them.
    (Replacing the run between the first and last changed paragraph, as restores did before,
    drops her words: measured, this test fails with it.)"""
    document, token = notes
    (alice,) = editors(open_contexts, server, document.pk, "alice")
    api = f"{server.http}/api/documents/{document.pk}/content"
    headers = {"Authorization": f"Bearer {token}"}
    markdown = requests.get(api, params={"format": "markdown"}, headers=headers, timeout=10).text

    put_caret_after(alice, 1, "first")
    alice.evaluate("window.collab.provider.disconnect()")
    alice.keyboard.type(" [offline]")
    markdown = markdown.replace("Agenda", "Agenda for Monday").replace("Old", "New")
    response = requests.put(
        api, params={"format": "markdown"}, data=markdown.encode(), headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    alice.evaluate("window.collab.provider.connect()")
    wait_for_text(alice, "Agenda for Monday", "New decision")

    alice.keyboard.type(" and more")
    expected = ["Agenda for Monday", "Notes: first [offline] and more second", "New decision"]
    assert paragraph_texts(alice) == [*expected, "End"]
    eventually_sync(
        lambda: (
            requests.get(api, params={"format": "text"}, headers=headers, timeout=10).text
            == "\n".join([*expected, "End"])
        ),
        timeout=10,
        what="the stored content has her words in place",
    )
