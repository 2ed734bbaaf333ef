"""Export then import is identity, for every format `PUT .../content` reads: a document read
out as JSON, HTML or Markdown (`GET .../content?format=...`) and written back is the same
document, for generated documents of the schema (tests/support/richtext_documents.py).

And the change a `PUT` (or a restore) applies, for any two documents, makes the one equal to the
other, and is nothing at all when they are already equal.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from pycrdt import Doc

from documents.richtext import formats
from documents.richtext.change import change_to
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
