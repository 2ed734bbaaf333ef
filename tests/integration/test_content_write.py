"""PUT /api/documents/<id>/content?format=json|html|markdown, and GET ...?format=markdown.

What a product's backend sees when it writes a document's content over HTTP: the body becomes
the content (answered as ProseMirror JSON, and what every format reads back); viewers and bad
bodies are refused with a `detail` and store nothing; and a change to one block changes that
block alone, so the rest of the document keeps its Yjs identity (people's carets and the
edits they make there meanwhile survive; tests/integration/test_content_write_live.py shows it
with people typing).
"""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from documents.models import ApiToken, Document, DocumentUpdate
from documents.richtext import formats
from documents.richtext.ydoc import state_of
from documents.storage import append_updates, load_document_state
from documents.sync.update_check import check_update
from tests.support.tiptap import paragraphs_document, sample_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(shared_plan):
    """The shared plan holding Tiptap's sample document: (document, tokens per role)."""
    document, _, tokens = shared_plan
    append_updates({str(document.id): [sample_document().get_update()]})
    return document, tokens


def put(document, token, body, fmt, content_type="text/plain"):
    if isinstance(body, dict):
        body, content_type = json.dumps(body), "application/json"
    return Client().put(
        f"/api/documents/{document.id}/content?format={fmt}",
        body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def get(document, token, fmt):
    return Client().get(
        f"/api/documents/{document.id}/content",
        {"format": fmt},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def stored(document) -> tuple[int, dict]:
    """What is stored: how many updates, and the content they make."""
    rows = DocumentUpdate.objects.filter(document=document).count()
    return rows, formats.render(load_document_state(str(document.id)), "json")


MARKDOWN = """# Launch checklist

Ship **bold** and *careful*, with `code()` and ~~no~~ [docs](https://example.org/docs).

1. write the notes
2. tell the team
   - on chat

> quoted\\
> on two lines

```python
print("hi")
```

---
"""


def test_markdown_becomes_the_content_in_every_format(plan):
    document, tokens = plan
    response = put(document, tokens["editor"], MARKDOWN, "markdown", "text/markdown")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    stored = response.json()
    assert [block["type"] for block in stored["content"]] == [
        "heading",
        "paragraph",
        "orderedList",
        "blockquote",
        "codeBlock",
        "horizontalRule",
    ]
    assert get(document, tokens["viewer"], "json").json() == stored
    assert get(document, tokens["viewer"], "html").content.decode() == (
        "<h1>Launch checklist</h1>"
        "<p>Ship <strong>bold</strong> and <em>careful</em>, with <code>code()</code> and "
        '<s>no</s> <a href="https://example.org/docs">docs</a>.</p>'
        "<ol><li><p>write the notes</p></li><li><p>tell the team</p>"
        "<ul><li><p>on chat</p></li></ul></li></ol>"
        "<blockquote><p>quoted<br>on two lines</p></blockquote>"
        '<pre><code class="language-python">print("hi")</code></pre><hr>'
    )
    assert get(document, tokens["viewer"], "markdown").content.decode() == MARKDOWN


def test_markdown_export_is_commonmark_with_text_escaped(plan):
    document, tokens = plan
    response = get(document, tokens["viewer"], "markdown")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content.decode() == (
        "## Release plan\n\n"
        "Ship **bold** and *~~careful~~* with `code()` see [docs](https://example.org/docs)\\\n"
        "after the break\n\n"
        "- first \\<item\\>\n"
        "- second \\& last\n\n"
        "3. third\n\n"
        "> quoted\n\n"
        "```python\nprint('hi')\n```\n\n"
        "---\n\n"
        "mind the gap\n"  # the callout, a node of another editor's schema: its text is kept
    )


def test_html_keeps_the_text_of_tags_the_schema_lacks_and_drops_scripts(plan):
    document, tokens = plan
    html = """
        <div class="page">
          <h2>Agenda <span style="color: red">today</span></h2>
          <p>Plain <b style="font-weight: normal">not bold</b> and
             <span style="font-weight: bold">bold</span></p>
          <table><tr><td>cell one</td><td>cell <i>two</i></td></tr></table>
          <script>alert("no")</script>
          <ul><li>first<li>second <a href="javascript:alert(1)">link</a></ul>
        </div>"""
    response = put(document, tokens["editor"], html, "html", "text/html")
    assert response.status_code == 200, response.content
    assert get(document, tokens["viewer"], "html").content.decode() == (
        "<h2>Agenda today</h2>"
        "<p>Plain not bold and <strong>bold</strong></p>"
        "<p>cell one</p><p>cell <em>two</em></p>"
        "<ul><li><p>first</p></li><li><p>second link</p></li></ul>"
    )


def test_json_as_tiptap_writes_it_is_stored_with_its_defaults(plan):
    """`editor.getJSON()` carries every attribute, nulls included."""
    document, tokens = plan
    body = {
        "type": "doc",
        "content": [
            {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "T"}]},
            {"type": "codeBlock", "attrs": {"language": None}, "content": []},
            {
                "type": "orderedList",
                "attrs": {"start": 1, "type": None},
                "content": [{"type": "listItem", "content": [{"type": "paragraph"}]}],
            },
            {"type": "paragraph", "attrs": {"textAlign": "left"}},
        ],
    }
    response = put(document, tokens["owner"], body, "json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "type": "doc",
        "content": [
            {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "T"}]},
            {"type": "codeBlock"},
            {
                "type": "orderedList",
                "attrs": {"start": 1},
                "content": [{"type": "listItem", "content": [{"type": "paragraph"}]}],
            },
            {"type": "paragraph"},
        ],
    }


@pytest.mark.parametrize("fmt", ["json", "html", "markdown"])
def test_writing_back_what_was_read_changes_nothing(shared_plan, fmt):
    document, _, tokens = shared_plan
    append_updates({str(document.id): [state_of(json.loads(json.dumps(MARKDOWN_DOC)))]})
    body = get(document, tokens["viewer"], fmt).content.decode()
    before = stored(document)
    response = put(document, tokens["editor"], body, fmt)
    assert response.status_code == 200
    assert response.json() == MARKDOWN_DOC
    assert stored(document) == before  # no change was written at all


MARKDOWN_DOC = {
    "type": "doc",
    "content": [
        {"type": "heading", "attrs": {"level": 1}, "content": [{"type": "text", "text": "T  *"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": " lead", "marks": [{"type": "bold"}]},
                {"type": "hardBreak"},
                {"type": "text", "text": "- 1. <u>", "marks": [{"type": "underline"}]},
            ],
        },
    ],
}


def test_viewers_are_refused_and_nothing_changes(plan):
    document, tokens = plan
    before = stored(document)
    response = put(document, tokens["viewer"], "# mine now", "markdown")
    assert response.status_code == 403
    assert response.json()["detail"] == "this needs the editor role; you are viewer"
    assert put(document, tokens["stranger"], "# mine now", "markdown").status_code == 403
    assert stored(document) == before


@pytest.mark.parametrize(
    ("fmt", "body", "says"),
    [
        ("json", "{not json", "not JSON"),
        ("json", "[" * 100_000, "nests too deeply"),
        ("json", {"type": "paragraph"}, '{"type": "doc", ...}'),
        ("json", {"type": "doc", "content": [{"type": "callout"}]}, "not 'callout'"),
        ("json", {"type": "doc", "content": [{"type": "text", "text": "loose"}]}, "not 'text'"),
        (
            "json",
            {"type": "doc", "content": [{"type": "heading", "attrs": {"level": 9}}]},
            "level must be a whole number 1..6",
        ),
        (
            "json",
            {
                "type": "doc",
                "content": [{"type": "bulletList", "content": [{"type": "paragraph"}]}],
            },
            "expected a listItem",
        ),
        (
            "json",
            {"type": "doc", "content": [{"type": "paragraph", "content": [{"text": "x"}]}]},
            "expected text or a hardBreak",
        ),
        ("markdown", b"caf\xe9", "not UTF-8"),
        (
            "json",
            '{"type": "doc", "content": [{"type": "paragraph", "content": '
            '[{"type": "text", "text": "\\ud800"}]}]}',
            "lone surrogate",
        ),
        ("html", "<blockquote>" * 100 + "deep", "nested deeper than 64"),
        ("pdf", "%PDF-1.7", "format: use one of json, html, markdown"),
    ],
)
def test_a_body_that_does_not_parse_or_fit_is_a_400_and_nothing_changes(plan, fmt, body, says):
    document, tokens = plan
    before = stored(document)
    response = put(document, tokens["editor"], body, fmt)
    assert response.status_code == 400
    assert says in response.json()["detail"]
    assert stored(document) == before


def test_a_body_over_the_message_limit_is_a_413(plan):
    document, tokens = plan
    before = stored(document)
    with override_settings(COLLAB_MAX_MESSAGE_BYTES=1000):
        response = put(document, tokens["editor"], "x" * 1001, "markdown")
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["detail"]
    assert stored(document) == before


def changed_units(change: bytes) -> tuple[int, int]:
    """(characters and nodes written, characters and nodes deleted) by one Yjs update."""
    shape = check_update(change)
    written = sum(end - start for start, end in shape.ranges.values())
    deleted = sum(end - start for _client, start, end in shape.deletes)
    return written, deleted


def test_changing_two_of_100_blocks_rewrites_only_the_characters_that_changed(make_user):
    """Measured: "something" -> "anything" in paragraphs 5 and 95 of 100 writes 6 characters
    and deletes 8 ("some" -> "any", twice); every paragraph keeps its identity. The change the
    restore path made before (replace the run between the first and the last difference)
    deleted paragraphs 5 to 95 and wrote them anew: 2,632 items written, 2,634 deleted."""
    owner = make_user("writer")
    document = Document.objects.create(title="long", owner=owner)
    lines = [f"paragraph {n} says something" for n in range(100)]
    append_updates({str(document.id): [paragraphs_document(*lines).get_update()]})
    lines[5] = "paragraph 5 says anything"
    lines[95] = "paragraph 95 says anything"
    rows_before = DocumentUpdate.objects.filter(document=document).count()

    response = put(document, ApiToken.issue(owner)[1], "\n\n".join(lines), "markdown")
    assert response.status_code == 200
    assert [b["content"][0]["text"] for b in response.json()["content"]] == lines
    rows = DocumentUpdate.objects.filter(document=document).order_by("-id")
    assert rows.count() == rows_before + 1  # one change
    assert changed_units(bytes(rows.first().data)) == (2 * len("any"), 2 * len("some"))
