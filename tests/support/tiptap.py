"""Documents shaped exactly as Tiptap writes them through y-prosemirror (XmlFragment `default`).

y-prosemirror maps each ProseMirror node to an XmlElement named after its type, with its non-null
attributes, and each run of text to an XmlText whose formatting attributes are the marks, each
holding the mark's attrs (`{"bold": {}}`, `{"link": {"href": ...}}`).
"""

from __future__ import annotations

from pycrdt import Doc, XmlElement, XmlFragment, XmlText


def paragraph(parent, *runs: tuple[str, dict | None]) -> XmlElement:
    element = parent.children.append(XmlElement("paragraph"))
    write_runs(element, runs)
    return element


def write_runs(element: XmlElement, runs) -> XmlText:
    text = element.children.append(XmlText())
    offset = 0
    for chunk, marks in runs:
        text.insert(offset, chunk, marks)
        offset += len(chunk)
    return text


def sample_document(doc: Doc | None = None) -> Doc:
    """A heading, a paragraph with marks, a link and a hard break, lists, a quote, code, a rule,
    and a node no renderer knows (`callout`)."""
    doc = doc or Doc()
    fragment = doc.get("default", type=XmlFragment)
    with doc.transaction():
        heading = fragment.children.append(XmlElement("heading", {"level": 2}))
        write_runs(heading, [("Release plan", None)])
        body = fragment.children.append(XmlElement("paragraph"))
        write_runs(
            body,
            [
                ("Ship ", None),
                ("bold", {"bold": {}}),
                (" and ", None),
                ("careful", {"italic": {}, "strike": {}}),
                (" with ", None),
                ("code()", {"code": {}}),
                (" see ", None),
                ("docs", {"link": {"href": "https://example.org/docs", "target": "_blank"}}),
            ],
        )
        body.children.append(XmlElement("hardBreak"))
        body.children.append(XmlText("after the break"))
        bullets = fragment.children.append(XmlElement("bulletList"))
        for item in ("first <item>", "second & last"):
            entry = bullets.children.append(XmlElement("listItem"))
            paragraph(entry, (item, None))
        numbered = fragment.children.append(XmlElement("orderedList", {"start": 3}))
        paragraph(numbered.children.append(XmlElement("listItem")), ("third", None))
        quote = fragment.children.append(XmlElement("blockquote"))
        paragraph(quote, ("quoted", None))
        code = fragment.children.append(XmlElement("codeBlock", {"language": "python"}))
        write_runs(code, [("print('hi')", None)])
        fragment.children.append(XmlElement("horizontalRule"))
        callout = fragment.children.append(XmlElement("callout", {"tone": "warning"}))
        paragraph(callout, ("mind the gap", None))
    return doc


def paragraphs_document(*lines: str) -> Doc:
    doc = Doc()
    fragment = doc.get("default", type=XmlFragment)
    with doc.transaction():
        for line in lines:
            paragraph(fragment, (line, None))
    return doc
