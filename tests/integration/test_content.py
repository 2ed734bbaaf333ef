"""GET /api/documents/<id>/content in its three formats, for a document Tiptap wrote."""

from __future__ import annotations

import pytest
from django.test import Client

from documents.models import ApiToken, Document
from documents.storage import append_updates
from tests.support.tiptap import sample_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def written(make_user):
    owner = make_user("author")
    document = Document.objects.create(title="plan", owner=owner)
    append_updates({str(document.id): [sample_document().get_update()]})
    token = ApiToken.issue(owner)[1]
    return document, token


def get_content(document, token, fmt):
    return Client().get(
        f"/api/documents/{document.id}/content",
        {"format": fmt},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_plain_text_has_one_line_per_block(written):
    response = get_content(*written, "text")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().split("\n") == [
        "Release plan",
        "Ship bold and careful with code() see docs",
        "after the break",
        "first <item>",
        "second & last",
        "third",
        "quoted",
        "print('hi')",
        "---",
        "mind the gap",
    ]


def test_html_renders_nodes_and_marks_and_escapes_text(written):
    response = get_content(*written, "html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.content.decode() == (
        "<h2>Release plan</h2>"
        "<p>Ship <strong>bold</strong> and <em><s>careful</s></em> with <code>code()</code>"
        ' see <a href="https://example.org/docs">docs</a><br>after the break</p>'
        "<ul><li><p>first &lt;item&gt;</p></li><li><p>second &amp; last</p></li></ul>"
        '<ol start="3"><li><p>third</p></li></ol>'
        "<blockquote><p>quoted</p></blockquote>"
        "<pre><code class=\"language-python\">print('hi')</code></pre>"
        "<hr>"
        '<div data-type="callout"><p>mind the gap</p></div>'
    )


def test_prosemirror_json_round_trips_the_tiptap_structure(written):
    response = get_content(*written, "json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["type"] == "doc"
    heading, body, bullets, numbered, quote, code, rule, callout = doc["content"]
    assert heading == {
        "type": "heading",
        "attrs": {"level": 2},
        "content": [{"type": "text", "text": "Release plan"}],
    }
    assert body["content"][1] == {"type": "text", "text": "bold", "marks": [{"type": "bold"}]}
    assert {m["type"] for m in body["content"][3]["marks"]} == {"italic", "strike"}
    assert body["content"][7]["marks"] == [
        {"type": "link", "attrs": {"href": "https://example.org/docs", "target": "_blank"}}
    ]
    assert body["content"][8] == {"type": "hardBreak"}
    assert bullets["type"] == "bulletList" and len(bullets["content"]) == 2
    assert numbered["attrs"] == {"start": 3}
    assert quote["content"][0]["type"] == "paragraph"
    assert code["attrs"] == {"language": "python"}
    assert rule == {"type": "horizontalRule"}
    assert callout["type"] == "callout" and callout["attrs"] == {"tone": "warning"}


def test_json_is_the_default_and_an_unknown_format_is_a_400(written):
    document, token = written
    assert (
        Client()
        .get(f"/api/documents/{document.id}/content", HTTP_AUTHORIZATION=f"Bearer {token}")
        .json()["type"]
        == "doc"
    )
    response = get_content(document, token, "pdf")
    assert response.status_code == 400
    assert "format" in response.json()["detail"]


def test_an_empty_document_has_empty_content(make_user):
    owner = make_user("blank")
    document = Document.objects.create(title="blank", owner=owner)
    token = ApiToken.issue(owner)[1]
    assert get_content(document, token, "text").content == b""
    assert get_content(document, token, "json").json() == {"type": "doc", "content": []}


def test_links_with_a_script_scheme_are_neutralised(make_user):
    from pycrdt import Doc, XmlElement, XmlFragment, XmlText

    doc = Doc()
    paragraph = doc.get("default", type=XmlFragment).children.append(XmlElement("paragraph"))
    text = paragraph.children.append(XmlText())
    text.insert(0, "click", {"link": {"href": "javascript:alert(1)"}})
    owner = make_user("linker")
    document = Document.objects.create(title="x", owner=owner)
    append_updates({str(document.id): [doc.get_update()]})
    html = get_content(document, ApiToken.issue(owner)[1], "html").content.decode()
    assert html == '<p><a href="#">click</a></p>'


def test_content_nested_thousands_deep_renders_in_every_format(make_user):
    """A hostile editor can nest elements far deeper than any editor would; the content API
    still answers, with the deep part flattened to its text."""
    from pycrdt import Doc, XmlElement, XmlFragment, XmlText

    owner = make_user("nester")
    document = Document.objects.create(title="deep", owner=owner)
    doc = Doc()
    node = doc.get("default", type=XmlFragment)
    for _ in range(3000):
        node = node.children.append(XmlElement("blockquote"))
    node.children.append(XmlText("bottom"))
    append_updates({str(document.id): [doc.get_update()]})
    token = ApiToken.issue(owner)[1]

    for fmt in ("text", "html", "json"):
        response = get_content(document, token, fmt)
        assert response.status_code == 200, fmt
        assert "bottom" in response.content.decode()
