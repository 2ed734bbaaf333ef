"""A version's content in every format, and what changed between two versions or a version and
now: GET .../versions/<id>/content?format=... and .../versions/<id>/diff?against=<id>|current.
"""

from __future__ import annotations

import pytest
from django.test import Client

from documents.models import Document
from documents.storage import append_updates
from documents.versions import save_version
from tests.support.tiptap import paragraphs_document, sample_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(shared_plan):
    """The plan with two versions and a live state after them:
    "The quick brown fox" -> "The slow brown fox jumps" -> (now) a third paragraph added."""
    document, _, tokens = shared_plan
    first = paragraphs_document("The quick brown fox", "Second <b> & line")
    second = paragraphs_document("The slow brown fox jumps", "Second <b> & line")
    now = paragraphs_document("The slow brown fox jumps", "Second <b> & line", "A new paragraph")
    versions = [
        save_version(document.id, doc.get_update(), name=name)
        for doc, name in ((first, "draft"), (second, "review"))
    ]
    append_updates({str(document.id): [now.get_update()]})
    return document, tokens, versions


def get(document, token, path, **params):
    return Client().get(
        f"/api/documents/{document.id}/versions/{path}",
        params,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_a_version_reads_in_every_format_the_live_content_has(shared_plan):
    document, _, tokens = shared_plan
    version = save_version(document.id, sample_document().get_update(), name="sample")
    expected = {
        "text": ("text/plain; charset=utf-8", "Release plan\nShip bold and careful"),
        "html": ("text/html; charset=utf-8", "<h2>Release plan</h2><p>Ship <strong>bold"),
        "markdown": ("text/markdown; charset=utf-8", "## Release plan\n\nShip **bold**"),
        "json": ("application/json", '{"type": "doc", "content": [{"type": "heading"'),
    }
    for fmt, (media_type, start) in expected.items():
        response = get(document, tokens["viewer"], f"{version.id}/content", format=fmt)
        assert response.status_code == 200, fmt
        assert response["Content-Type"] == media_type
        assert response.content.decode().startswith(start), fmt
    default = get(document, tokens["viewer"], f"{version.id}/content")
    assert default.json()["content"][0]["type"] == "heading"
    assert (
        get(document, tokens["viewer"], f"{version.id}/content/", format="text").status_code == 200
    )


def test_the_diff_between_two_versions_is_word_by_word_in_document_order(history):
    document, tokens, (draft, review) = history
    response = get(document, tokens["viewer"], f"{draft.id}/diff", against=review.id)
    assert response.status_code == 200
    assert response.json() == {
        "changes": [
            {"op": "equal", "text": "The "},
            {"op": "delete", "text": "quick"},
            {"op": "insert", "text": "slow"},
            {"op": "equal", "text": " brown fox"},
            {"op": "insert", "text": " jumps"},
            {"op": "equal", "text": "\nSecond <b> & line"},
        ]
    }


def test_the_diff_against_now_includes_edits_after_the_last_version(history):
    document, tokens, (_, review) = history
    response = get(document, tokens["viewer"], f"{review.id}/diff", against="current")
    assert response.json()["changes"] == [
        {"op": "equal", "text": "The slow brown fox jumps\nSecond <b> & line"},
        {"op": "insert", "text": "\nA new paragraph"},
    ]
    backwards = get(document, tokens["viewer"], f"{review.id}/diff", against=review.id)
    assert backwards.json()["changes"] == [
        {"op": "equal", "text": "The slow brown fox jumps\nSecond <b> & line"}
    ]


def test_the_diff_as_html_marks_deletions_and_insertions_and_escapes_text(history):
    document, tokens, (draft, _) = history
    response = get(document, tokens["viewer"], f"{draft.id}/diff", against="current", format="html")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content.decode() == (
        "<p>The <del>quick</del><ins>slow</ins> brown fox<ins> jumps</ins></p>"
        "<p>Second &lt;b&gt; &amp; line</p>"
        "<p><ins>A new paragraph</ins></p>"
    )


def test_removed_words_show_as_deleted(shared_plan):
    document, _, tokens = shared_plan
    longer = save_version(document.id, paragraphs_document("keep these three words").get_update())
    append_updates({str(document.id): [paragraphs_document("keep words").get_update()]})
    response = get(document, tokens["viewer"], f"{longer.id}/diff", against="current")
    assert response.json()["changes"] == [
        {"op": "equal", "text": "keep "},
        {"op": "delete", "text": "these three "},
        {"op": "equal", "text": "words"},
    ]


def test_a_version_of_another_document_or_none_at_all_is_a_404(history, make_user):
    document, tokens, (draft, _) = history
    elsewhere = Document.objects.create(title="elsewhere", owner=make_user("other"))
    foreign = save_version(elsewhere.id, paragraphs_document("secret").get_update())
    assert get(document, tokens["owner"], f"{draft.id}/content").status_code == 200
    for path, params in [
        (f"{foreign.id}/content", {}),
        (f"{foreign.id}/diff", {"against": "current"}),
        (f"{draft.id}/diff", {"against": foreign.id}),
        ("999999/content", {}),
        (f"{draft.id}/diff", {"against": 999999}),
    ]:
        response = get(document, tokens["owner"], path, **params)
        assert response.status_code == 404, path
        assert response.json()["detail"], path
        assert "secret" not in response.content.decode()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "against: a version id of this document, or `current`"),
        ({"against": "yesterday"}, "against: a version id of this document, or `current`"),
        ({"against": "-1"}, "against: a version id of this document, or `current`"),
        ({"against": "current", "format": "pdf"}, "format: use json or html"),
    ],
)
def test_an_against_that_is_neither_an_id_nor_current_is_a_400(history, params, says):
    document, tokens, (draft, _) = history
    response = get(document, tokens["viewer"], f"{draft.id}/diff", **params)
    assert response.status_code == 400
    assert response.json()["detail"] == says


def test_an_unknown_format_for_a_version_is_a_400(history):
    document, tokens, (draft, _) = history
    response = get(document, tokens["viewer"], f"{draft.id}/content", format="pdf")
    assert response.status_code == 400
    assert "format" in response.json()["detail"]
