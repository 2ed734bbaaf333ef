"""The content a `PUT .../content` may write: the schema of Tiptap's StarterKit, as its editor
stores it (frontend/src/editor.js).

`normalize` checks a ProseMirror JSON document against it and returns it in the one form
documents.richtext.prosemirror reads back from the Yjs tree: attributes with their defaults
filled in and nulls left out (y-prosemirror stores no null attribute), adjacent text with equal
marks merged, marks in one order. A JSON body is held to it strictly (a node it does not know
is a 400, as ProseMirror's `Node.fromJSON` refuses one); the HTML and Markdown readers build
through documents.richtext.builder, which repairs what a browser would, then end here too.

Pure Python, like the rest of documents.richtext.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# What each node holds: "blocks", "inline" (text and hard breaks), "text" (plain text only),
# "items" (list items), "item" (a paragraph, then blocks), or nothing (a leaf).
NODES: dict[str, str | None] = {
    "paragraph": "inline",
    "heading": "inline",
    "blockquote": "blocks",
    "bulletList": "items",
    "orderedList": "items",
    "listItem": "item",
    "codeBlock": "text",
    "horizontalRule": None,
}
BLOCKS = set(NODES) - {"listItem"}
TEXTBLOCKS = {"paragraph", "heading", "codeBlock"}
LISTS = {"bulletList", "orderedList"}
# Node attributes with their defaults (StarterKit 3: heading, orderedList, codeBlock).
NODE_ATTRS: dict[str, dict[str, Any]] = {
    "heading": {"level": 1},
    "orderedList": {"start": 1, "type": None},
    "codeBlock": {"language": None},
}
MARKS = ("bold", "italic", "strike", "underline", "code", "link")
# Outermost first, as Tiptap's schema ranks its marks (documents.richtext.prosemirror reads them
# back in this order, so every format is stable).
MARK_ORDER = {
    name: rank
    for rank, name in enumerate(
        ["link", "bold", "italic", "underline", "strike", "code", "subscript", "superscript"]
    )
}
# The link mark's attributes with Tiptap's defaults (extension-link's HTMLAttributes).
LINK_ATTRS: dict[str, Any] = {
    "href": None,
    "target": "_blank",
    "rel": "noopener noreferrer nofollow",
    "class": None,
    "title": None,
}
MAX_DEPTH = 64  # as deep as documents.richtext.prosemirror reads a tree back
# Tiptap's link extension: the schemes a link may use; a href without a scheme is relative.
LINK_SCHEMES = {"http", "https", "ftp", "ftps", "mailto", "tel", "callto", "sms", "cid", "xmpp"}


class ContentError(ValueError):
    """The body does not parse, or does not fit the schema; the message says where and why."""


def is_safe_href(href: str) -> bool:
    """Whether a link may point there: a relative address, or one of LINK_SCHEMES. Control
    characters and whitespace are ignored first, as a browser ignores them (`java\\tscript:`)."""
    compact = "".join(ch for ch in href if ord(ch) > 0x20 and not ch.isspace())
    scheme, colon, _ = compact.partition(":")
    if not colon or not scheme or any(ch in scheme for ch in "/?#"):
        return True  # no scheme: relative
    return scheme.lower() in LINK_SCHEMES


def normalize(doc: Any) -> dict:
    """`doc` (parsed JSON) as the stored form, or ContentError saying what does not fit."""
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        raise ContentError('the body must be a ProseMirror document: {"type": "doc", ...}')
    return {"type": "doc", "content": _children(doc, "blocks", "content", 0)}


def _children(node: dict, holds: str, where: str, depth: int) -> list[dict]:
    if depth >= MAX_DEPTH:
        raise ContentError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    content = node.get("content", [])
    if not isinstance(content, list):
        raise ContentError(f"{where}: `content` must be a list")
    if holds in ("inline", "text"):
        return _inline(content, where, plain=holds == "text")
    out = []
    for index, child in enumerate(content):
        out.append(_block(child, f"{where}[{index}]", holds, depth + 1))
    if holds == "items" and not out:
        raise ContentError(f"{where}: a list needs at least one listItem")
    if holds == "blocks" and not out and where != "content":
        raise ContentError(f"{where}: needs at least one block")
    if holds == "item" and (not out or out[0]["type"] != "paragraph"):
        raise ContentError(f"{where}: a listItem starts with a paragraph")
    return out


def _block(child: Any, where: str, parent_holds: str, depth: int) -> dict:
    kind = child.get("type") if isinstance(child, dict) else None
    allowed = {"listItem"} if parent_holds == "items" else BLOCKS
    if kind not in allowed:
        expected = "a listItem" if parent_holds == "items" else "a block node"
        raise ContentError(f"{where}: expected {expected}, not {_describe(kind)}")
    out: dict[str, Any] = {"type": kind}
    attrs = _node_attrs(kind, child.get("attrs"), where)
    if attrs:
        out["attrs"] = attrs
    holds = NODES[kind]
    if holds is not None:
        content = _children(child, holds, f"{where}.content", depth)
        if content:
            out["content"] = content
    return out


def _node_attrs(kind: str, given: Any, where: str) -> dict:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ContentError(f"{where}: `attrs` must be an object")
    attrs = {}
    for name, default in NODE_ATTRS.get(kind, {}).items():
        value = given.get(name, default)
        if value is not None:
            attrs[name] = _checked_attr(kind, name, value, where)
    return attrs


def _checked_attr(kind: str, name: str, value: Any, where: str) -> Any:
    if name in ("level", "start"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        low, high = (1, 6) if name == "level" else (0, 999_999_999)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ContentError(f"{where}: {kind} {name} must be a whole number {low}..{high}")
        return value
    if not isinstance(value, str):
        raise ContentError(f"{where}: {kind} {name} must be a string")
    return value


def _inline(content: list, where: str, *, plain: bool) -> list[dict]:
    out: list[dict] = []
    for index, child in enumerate(content):
        here = f"{where}[{index}]"
        kind = child.get("type") if isinstance(child, dict) else None
        if kind == "hardBreak" and not plain:
            out.append({"type": "hardBreak"})
            continue
        if kind != "text":
            expected = "text" if plain else "text or a hardBreak"
            raise ContentError(f"{here}: expected {expected}, not {_describe(kind)}")
        text = child.get("text")
        if not isinstance(text, str):
            raise ContentError(f"{here}: a text node needs a string `text`")
        text = without_controls(text)
        if not text:
            continue  # ProseMirror has no empty text nodes; Yjs stores none
        marks = [] if plain else _marks(child.get("marks", []), here)
        append_text(out, text, marks)
    return out


def without_controls(text: str) -> str:
    """Text without control characters but tab and line breaks: HTML and XML allow none of
    them, Markdown turns some into U+FFFD, and no keyboard types them."""
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch in "\t\n\r" or unicodedata.category(ch) != "Cc")


def append_text(nodes: list[dict], text: str, marks: list[dict]) -> None:
    """Add a text node, merged into the previous one when their marks are equal."""
    if not text:
        return
    previous = nodes[-1] if nodes else None
    if previous and previous["type"] == "text" and previous.get("marks", []) == marks:
        previous["text"] += text
        return
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = marks
    nodes.append(node)


def _marks(marks: Any, where: str) -> list[dict]:
    if not isinstance(marks, list):
        raise ContentError(f"{where}: `marks` must be a list")
    found: dict[str, dict] = {}
    for mark in marks:
        kind = mark.get("type") if isinstance(mark, dict) else None
        if kind not in MARKS:
            raise ContentError(f"{where}: unknown mark {_describe(kind)}")
        if kind == "link":
            link = link_mark(mark.get("attrs"), where)
            if link is not None:
                found[kind] = link
        else:
            found[kind] = {"type": kind}
    return ordered_marks(found.values())


def link_mark(attrs: Any, where: str = "link") -> dict | None:
    """The link mark with Tiptap's defaults; None (no link, the text stays) for a href that is
    not safe to follow, as Tiptap's paste does."""
    if not isinstance(attrs, dict) or not isinstance(attrs.get("href"), str):
        raise ContentError(f"{where}: a link needs a string `href`")
    if not is_safe_href(attrs["href"]):
        return None
    values = {}
    for name, default in LINK_ATTRS.items():
        value = attrs.get(name, default)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ContentError(f"{where}: link {name} must be a string")
        values[name] = value
    return {"type": "link", "attrs": values}


def ordered_marks(marks) -> list[dict]:
    """Marks as the stored form keeps them: code alone (StarterKit's code mark excludes every
    other mark), else in MARK_ORDER."""
    marks = list(marks)
    code = [m for m in marks if m["type"] == "code"]
    if code:
        return [{"type": "code"}]
    return sorted(marks, key=lambda m: MARK_ORDER.get(m["type"], len(MARK_ORDER)))


def _describe(kind: Any) -> str:
    return repr(kind) if isinstance(kind, str) else "a node without a type"
