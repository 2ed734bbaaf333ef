"""A document's rich text, read on the server: ProseMirror JSON, HTML and plain text.

Tiptap (through y-prosemirror) keeps its document in the XmlFragment `default`: one XmlElement
per node, named after the node type, with the node's non-null attributes; text lives in XmlText
children whose formatting attributes are the marks (`{"bold": {}}`, `{"link": {"href": ...}}`;
a mark that may overlap itself is stored as `name--hash`). We read that tree into ProseMirror
JSON first, then render HTML and text from the JSON (and Markdown, documents.richtext.
markdown_out), so the formats always agree. Nodes and marks we do not know are kept (as a
`div`/`span` with `data-type`), never dropped.

Pure pycrdt: usable from the API, the admin and the engine's tests alike.
"""

from __future__ import annotations

from html import escape
from typing import Any

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from documents.richtext.schema import MARK_ORDER, append_text, is_safe_href

ROOT = "default"

# Nodes that hold other blocks; their own text is that of their children.
CONTAINERS = {
    "doc",
    "bulletList",
    "orderedList",
    "listItem",
    "taskList",
    "taskItem",
    "blockquote",
    "table",
    "tableRow",
    "tableCell",
    "tableHeader",
}
# Nodes without content of their own (rendered as a void HTML element).
LEAVES = {"horizontalRule": "---", "hardBreak": "\n", "image": ""}

BLOCK_TAGS = {
    "paragraph": "p",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "blockquote": "blockquote",
    "table": "table",
    "tableRow": "tr",
    "tableCell": "td",
    "tableHeader": "th",
}
MARK_TAGS = {
    "bold": "strong",
    "italic": "em",
    "strike": "s",
    "code": "code",
    "underline": "u",
    "subscript": "sub",
    "superscript": "sup",
    "highlight": "mark",
}


def fragment_of(state: bytes | None) -> XmlFragment:
    """The `default` fragment of a document given as one Yjs update."""
    doc = Doc()
    if state:
        doc.apply_update(state)
    return doc.get(ROOT, type=XmlFragment)


# -- Y tree -> ProseMirror JSON ------------------------------------------------------------------
# Real documents nest a few levels (lists in lists, quotes); a crafted one can nest thousands,
# which every recursive step below (and the JSON encoder) would turn into a RecursionError.
# Deeper than this, a subtree is shown as one paragraph of its text, collected without recursion.
MAX_DEPTH = 64


def to_prosemirror(fragment: XmlFragment) -> dict:
    return {"type": "doc", "content": _children_json(fragment, 0)}


def node_json(node: XmlElement | XmlText, depth: int = 0) -> list[dict]:
    """One Y node as ProseMirror nodes (an XmlText is a run of text nodes)."""
    if isinstance(node, XmlText):
        return _text_json(node, depth)
    if isinstance(node, XmlElement):
        if depth >= MAX_DEPTH:
            return [_flattened(node)]
        out: dict[str, Any] = {"type": node.tag or "unknown"}
        attrs = {key: plain(value) for key, value in node.attributes if value is not None}
        if attrs:
            out["attrs"] = attrs
        content = _children_json(node, depth + 1)
        if content:
            out["content"] = content
        return [out]
    return [{"type": "unknown"}]


def _children_json(parent: XmlFragment | XmlElement, depth: int) -> list[dict]:
    """The children's nodes; neighbouring text with equal marks is one text node, as in
    ProseMirror (Yrs splits a run where a mark was once removed)."""
    nodes: list[dict] = []
    for child in parent.children:
        for item in node_json(child, depth):
            if item.get("type") == "text":
                append_text(nodes, item["text"], item.get("marks", []))
            else:
                nodes.append(item)
    return nodes


def _flattened(node: XmlElement) -> dict:
    """A subtree past MAX_DEPTH as one paragraph of its text, walked with an explicit stack."""
    pieces: list[str] = []
    stack: list[XmlElement | XmlText | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            pieces.append(item)
        elif isinstance(item, XmlText):
            inserts = [insert for insert, _ in item.diff()]
            stack.extend(i for i in reversed(inserts) if isinstance(i, str | XmlElement | XmlText))
        elif isinstance(item, XmlElement):
            stack.extend(reversed(list(item.children)))
    text = "".join(pieces)
    return (
        {"type": "paragraph", "content": [{"type": "text", "text": text}]}
        if text
        else {"type": "paragraph"}
    )


def _text_json(text: XmlText, depth: int) -> list[dict]:
    nodes = []
    for insert, attributes in text.diff():
        if isinstance(insert, str):
            if not insert:
                continue
            node: dict[str, Any] = {"type": "text", "text": insert}
        elif isinstance(insert, XmlElement | XmlText):
            nodes.extend(node_json(insert, depth + 1))
            continue
        else:
            node = {"type": "embed", "attrs": {"value": plain(insert)}}
        marks = _marks(attributes or {})
        if marks:
            node["marks"] = marks
        nodes.append(node)
    return nodes


def _marks(attributes: dict) -> list[dict]:
    marks = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        mark: dict[str, Any] = {"type": key.split("--", 1)[0]}
        if isinstance(value, dict):
            attrs = {k: plain(v) for k, v in value.items() if v is not None}
            if attrs:
                mark["attrs"] = attrs
        marks.append(mark)
    # Yrs hands attributes back in no fixed order: sort them, so every format is stable.
    return sorted(marks, key=lambda m: (MARK_ORDER.get(m["type"], len(MARK_ORDER)), m["type"]))


def plain(value: Any) -> Any:
    """JSON-friendly values; Yjs numbers come back as floats (a heading level of 2.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# -- ProseMirror JSON -> plain text --------------------------------------------------------------
def to_text(doc_json: dict) -> str:
    """One line per text block (paragraph, heading, code block...), in document order."""
    lines: list[str] = []
    _collect_lines(doc_json, lines)
    return "\n".join(lines)


def _collect_lines(node: dict, lines: list[str]) -> None:
    kind = node.get("type")
    content = node.get("content", [])
    if kind in LEAVES:
        lines.append(LEAVES[kind])
    elif kind in CONTAINERS or (content and not any(_is_inline(c) for c in content)):
        for child in content:
            _collect_lines(child, lines)
    else:
        lines.append("".join(_inline_text(child) for child in content))


def _is_inline(node: dict) -> bool:
    return node.get("type") in ("text", "hardBreak", "embed", "mention", "image")


def _inline_text(node: dict) -> str:
    if node.get("type") == "text":
        return node.get("text", "")
    if node.get("type") == "hardBreak":
        return "\n"
    return "".join(_inline_text(child) for child in node.get("content", []))


# -- ProseMirror JSON -> HTML --------------------------------------------------------------------
def to_html(doc_json: dict) -> str:
    return "".join(_node_html(child) for child in doc_json.get("content", []))


def _node_html(node: dict, in_code: bool = False) -> str:
    kind = node.get("type", "")
    attrs = node.get("attrs", {})
    in_code = in_code or kind == "codeBlock"
    inner = "".join(_node_html(child, in_code) for child in node.get("content", []))
    if kind == "text":
        return _text_html(node, in_code)
    if kind == "heading":
        level = attrs.get("level", 1)
        level = level if isinstance(level, int) and 1 <= level <= 6 else 1
        return f"<h{level}>{inner}</h{level}>"
    if kind == "codeBlock":
        language = attrs.get("language")
        cls = f' class="language-{escape(str(language))}"' if language else ""
        return f"<pre><code{cls}>{inner}</code></pre>"
    if kind == "orderedList" and attrs.get("start", 1) != 1:
        return f'<ol start="{escape(str(attrs["start"]))}">{inner}</ol>'
    if kind == "hardBreak":
        return "<br>"
    if kind == "horizontalRule":
        return "<hr>"
    if kind == "image":
        src = attrs.get("src", "")
        alt = attrs.get("alt") or ""
        return f'<img src="{escape(_safe_url(src))}" alt="{escape(str(alt))}">'
    if kind in BLOCK_TAGS:
        tag = BLOCK_TAGS[kind]
        return f"<{tag}>{inner}</{tag}>"
    return f'<div data-type="{escape(kind)}">{inner}</div>'


def _text_html(node: dict, in_code: bool) -> str:
    """Escaped text. A line break (or a form feed) outside code is written as a character
    reference: HTML readers, ours included (documents.richtext.html_in), collapse the literal
    ones as indentation."""
    html = escape(node.get("text", ""), quote=False).replace("\r", "&#13;")
    if not in_code:
        html = html.replace("\n", "&#10;").replace("\f", "&#12;")
    for mark in reversed(node.get("marks", [])):
        kind = mark.get("type", "")
        if kind == "link":
            href = (mark.get("attrs") or {}).get("href", "")
            html = f'<a href="{escape(_safe_url(str(href)))}">{html}</a>'
        elif kind in MARK_TAGS:
            tag = MARK_TAGS[kind]
            html = f"<{tag}>{html}</{tag}>"
        else:
            html = f'<span data-mark="{escape(kind)}">{html}</span>'
    return html


def _safe_url(url: str) -> str:
    """No `javascript:` links in HTML we serve: a relative address or a scheme links may use
    (documents.richtext.schema.is_safe_href), else `#`."""
    return str(url) if is_safe_href(str(url)) else "#"
