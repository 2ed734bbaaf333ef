"""The formats of a document's rich text: what `GET .../content` answers and `PUT` reads.

Everything goes through ProseMirror JSON: the Yjs tree is read into it
(documents.richtext.prosemirror), every output format is written from it, and every input
format is read into it and checked against the schema (documents.richtext.schema), so the
formats always agree with each other.
"""

from __future__ import annotations

import json

from documents.richtext.html_in import from_html
from documents.richtext.markdown_in import from_markdown
from documents.richtext.markdown_out import to_markdown
from documents.richtext.prosemirror import fragment_of, to_html, to_prosemirror, to_text
from documents.richtext.schema import ContentError, normalize

FORMATS = ("json", "html", "text", "markdown")  # what content can be read as
INPUT_FORMATS = ("json", "html", "markdown")  # what content can be written as
MEDIA_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}


def render(state: bytes | None, fmt: str) -> str | dict:
    """The rich text of a document given as one Yjs update, in format `fmt` (of FORMATS)."""
    return write(to_prosemirror(fragment_of(state)), fmt)


def write(doc_json: dict, fmt: str) -> str | dict:
    if fmt == "json":
        return doc_json
    if fmt == "html":
        return to_html(doc_json)
    if fmt == "text":
        return to_text(doc_json)
    if fmt == "markdown":
        return to_markdown(doc_json)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def read(body: bytes, fmt: str) -> dict:
    """The document a request body describes, in the stored form; ContentError if it does not
    parse or does not fit the schema."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if fmt == "json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContentError(f"the body is not JSON: {exc}") from None
        except RecursionError:
            raise ContentError("the JSON nests too deeply") from None
        try:
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ContentError("the JSON holds a lone surrogate (\\ud800...), not text") from None
        return normalize(parsed)
    if fmt == "html":
        return from_html(text)
    if fmt == "markdown":
        return from_markdown(text)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(INPUT_FORMATS)}")
