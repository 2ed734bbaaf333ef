"""Export then import is identity, for every format `PUT .../content` reads: a document read
out as JSON, HTML or Markdown (`GET .../content?format=...`) and written back is the same
document, for generated documents of the schema (tests/support/richtext_documents.py).

The change a `PUT` (or a restore) applies, for any two documents, makes the one equal to the
other, and is nothing at all when they are already equal. And any HTML or Markdown is read into
the schema (or refused with a reason, never an error of ours), and what it reads survives a
round trip too.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc

from documents.richtext import formats
from documents.richtext.change import change_to
from documents.richtext.schema import ContentError, normalize
from documents.richtext.ydoc import state_of
from tests.support.richtext_documents import documents

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stored_after_writing(body: str, fmt: str) -> dict:
    """What `PUT .../content?format=fmt` with `body` stores, read back as JSON."""
    return formats.render(state_of(formats.read(body.encode(), fmt)), "json")


def exported(doc: dict, fmt: str) -> str:
    """What `GET .../content?format=fmt` answers for the stored document `doc`."""
    out = formats.render(state_of(doc), fmt)
    return json.dumps(out) if fmt == "json" else out


@EXAMPLES
@given(documents)
def test_json_out_and_back_in_is_the_same_document(doc):
    assert stored_after_writing(exported(doc, "json"), "json") == doc


@EXAMPLES
@given(documents)
def test_html_out_and_back_in_is_the_same_document(doc):
    html = exported(doc, "html")
    assert stored_after_writing(html, "html") == doc, html


@EXAMPLES
@given(documents)
def test_markdown_out_and_back_in_is_the_same_document(doc):
    markdown = exported(doc, "markdown")
    assert stored_after_writing(markdown, "markdown") == doc, markdown


@settings(max_examples=75, deadline=None)
@given(documents, documents)
def test_the_change_makes_one_document_equal_to_another(before, after):
    current, target = state_of(before), state_of(after)
    change = change_to(current, target)
    doc = Doc()
    doc.apply_update(current)
    if change is not None:
        doc.apply_update(change)
    assert formats.render(doc.get_update(), "json") == after
    assert change_to(doc.get_update(), target) is None


HTML_PIECES = ["<p>", "</p>", "<li>", "<ul>", "</ul>", "<ol start=3>", "</ol>", "<pre>", "</pre>"]
HTML_PIECES += ["<code class=language-py>", "</code>", "<b>", "</b>", "<a href='/x'>", "</a>"]
HTML_PIECES += ["<br>", "<hr>", "<div>", "</div>", "<script>", "</script>", "<h2>", "</h2>"]
HTML_PIECES += ["<blockquote>", "</blockquote>", "&amp;", "&#10;", "&nbsp", "\n", "  ", "x", "<"]
MARKDOWN_PIECES = ["- ", "1. ", "3) ", "> ", "```", "~~~", "\n", "\n\n", "**", "*", "_", "`"]
MARKDOWN_PIECES += ["[", "](", ")", "<u>", "</u>", "<br>", "    ", "# ", "x", " ", "\\", "&#32;"]
MARKDOWN_PIECES += ["<p></p>", "---", "===", "<div>", "&", "~~"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES)).map("".join))
def test_any_html_is_read_into_the_schema_or_refused_with_a_reason(source):
    try:
        doc = formats.read(source.encode(), "html")
    except ContentError:
        return
    assert normalize(doc) == doc
    assert stored_after_writing(exported(doc, "html"), "html") == doc


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MARKDOWN_PIECES)).map("".join))
def test_any_markdown_is_read_into_the_schema_or_refused_with_a_reason(source):
    try:
        doc = formats.read(source.encode(), "markdown")
    except ContentError:
        return
    assert normalize(doc) == doc
    assert stored_after_writing(exported(doc, "markdown"), "markdown") == doc
