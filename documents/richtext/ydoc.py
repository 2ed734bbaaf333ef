"""ProseMirror JSON into the Yjs tree, as y-prosemirror writes it for Tiptap.

Each node is an XmlElement named after its type with its non-null attributes; a run of text
nodes is one XmlText whose formatting attributes are the marks (`{"bold": {}}`, `{"link":
{"href": ...}}`); a hard break is an XmlElement between XmlTexts. This is the inverse of
documents.richtext.prosemirror.to_prosemirror for documents of the schema.
"""

from __future__ import annotations

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from documents.richtext.prosemirror import ROOT


def state_of(doc_json: dict) -> bytes:
    """A Yjs update (v1) of a new document whose rich text is `doc_json` (stored form)."""
    doc = Doc()
    fragment = doc.get(ROOT, type=XmlFragment)
    with doc.transaction():
        _write_children(fragment, doc_json.get("content", []))
    return doc.get_update()


def _write_children(parent: XmlFragment | XmlElement, nodes: list[dict]) -> None:
    text: XmlText | None = None
    for node in nodes:
        if node["type"] == "text":
            if text is None:
                text = parent.children.append(XmlText())
            marks = {mark["type"]: mark.get("attrs", {}) for mark in node.get("marks", [])}
            text.insert(len(text), node["text"], marks or None)
            continue
        text = None
        element = parent.children.append(XmlElement(node["type"], node.get("attrs") or {}))
        _write_children(element, node.get("content", []))
