"""Builds a StarterKit document from a reader's events, repairing what does not fit as
ProseMirror's DOM parser does: text where only blocks may go gets a paragraph, a block opened
inside a paragraph ends it, a list item outside a list gets a list, a list item starts with a
paragraph, an empty list is dropped. The HTML and Markdown readers both build through it, so
both repair alike; the result goes through documents.richtext.schema.normalize.

Whitespace from HTML source that holds a line break (`collapsible`) counts as one space, and
none at the start or end of a block or beside a hard break: indentation of hand-written HTML
disappears, while spaces people typed (Tiptap's own HTML keeps them) stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from documents.richtext.schema import (
    LISTS,
    MAX_DEPTH,
    TEXTBLOCKS,
    ContentError,
    append_text,
    normalize,
    ordered_marks,
)

HOLDS_BLOCKS = {"doc", "blockquote", "listItem"}


@dataclass(eq=False)  # nodes are told apart by identity: two empty paragraphs are two nodes
class Open:
    """A node being built; `implicit` when the builder opened it to repair the structure."""

    type: str
    attrs: dict = field(default_factory=dict)
    content: list = field(default_factory=list)
    implicit: bool = False

    def json(self) -> dict:
        node: dict = {"type": self.type}
        if self.attrs:
            node["attrs"] = self.attrs
        if self.content:
            node["content"] = self.content
        return node


class DocumentBuilder:
    def __init__(self) -> None:
        self.root = Open("doc")
        self.stack: list[Open] = [self.root]

    @property
    def top(self) -> Open:
        return self.stack[-1]

    def open(self, kind: str, attrs: dict | None = None) -> Open:
        """Open a block node (or a list item) where it may go; close it with `close`."""
        if kind == "listItem":
            self._make_room_for_item()
        else:
            self._make_room_for_block()
        return self._push(Open(kind, dict(attrs or {})))

    def close(self, node: Open) -> None:
        """Close `node` and whatever is still open inside it; nothing if it is closed already."""
        if node not in self.stack:
            return
        while self.stack[-1] is not node:
            self._pop()
        self._pop()

    def leaf(self, kind: str) -> None:
        self._make_room_for_block()
        self.top.content.append({"type": kind})

    def boundary(self) -> None:
        """An element that is a block of its own in HTML (a `div`) starts or ends: the
        paragraph opened for loose text before it ends there."""
        while self.top.implicit and self.top.type not in HOLDS_BLOCKS:
            self._pop()

    def text(self, text: str, marks: list[dict], *, collapsible: bool = False) -> None:
        if not text:
            return
        if self.top.type not in TEXTBLOCKS:
            if not text.strip():
                return  # whitespace between blocks
            self._open_implicit_paragraph()
        if self.top.type == "codeBlock":
            self.top.content.append({"text": text, "marks": [], "collapsible": False})
        else:
            item = {"text": text, "marks": ordered_marks(marks), "collapsible": collapsible}
            self.top.content.append(item)

    def hard_break(self) -> None:
        if self.top.type == "codeBlock":
            self.text("\n", [])
            return
        if self.top.type not in TEXTBLOCKS:
            self._open_implicit_paragraph()
        self.top.content.append({"hardBreak": True})

    def in_code(self) -> bool:
        return self.top.type == "codeBlock"

    def finish(self) -> dict:
        while len(self.stack) > 1:
            self._pop()
        return normalize(self.root.json())

    # -- repairs --------------------------------------------------------------------------------
    def _make_room_for_block(self) -> None:
        while self.top.type in TEXTBLOCKS:
            self._pop()
        if self.top.type in LISTS:
            self._push(Open("listItem", implicit=True))

    def _make_room_for_item(self) -> None:
        while self.top.type not in LISTS and self.top.type not in HOLDS_BLOCKS:
            self._pop()
        if self.top.type not in LISTS:
            self._push(Open("bulletList", implicit=True))

    def _open_implicit_paragraph(self) -> None:
        self._make_room_for_block()
        self._push(Open("paragraph", implicit=True))

    def _push(self, node: Open) -> Open:
        if len(self.stack) > MAX_DEPTH:
            raise ContentError(f"the content is nested deeper than {MAX_DEPTH} levels")
        self.top.content.append(node)
        self.stack.append(node)
        return node

    def _pop(self) -> None:
        node = self.stack.pop()
        parent = self.top
        index = len(parent.content) - 1  # whatever came after it went inside it
        if node.type in TEXTBLOCKS:
            node.content = _inline_content(node.content)
            if node.implicit and not node.content:
                del parent.content[index]
                return
        elif node.type in LISTS and not node.content:
            del parent.content[index]
            return
        elif node.type == "listItem":
            first = node.content[0] if node.content else None
            if not (isinstance(first, dict) and first.get("type") == "paragraph"):
                node.content.insert(0, {"type": "paragraph"})
        elif node.type == "blockquote" and not node.content:
            node.content.append({"type": "paragraph"})
        parent.content[index] = node.json()


def _inline_content(items: list[dict]) -> list[dict]:
    """Text and hard breaks, with collapsible whitespace resolved and equal neighbours merged."""
    kept: list[dict] = []
    for item in items:
        if item.get("collapsible"):
            before = kept[-1] if kept else None
            if before is None or "hardBreak" in before or before["text"][-1:].isspace():
                continue
        kept.append(item)
    while kept and kept[-1].get("collapsible"):
        kept.pop()
    nodes: list[dict] = []
    for index, item in enumerate(kept):
        if "hardBreak" in item:
            nodes.append({"type": "hardBreak"})
            continue
        following = kept[index + 1] if index + 1 < len(kept) else None
        if item["collapsible"] and following is not None and "hardBreak" in following:
            continue
        text = " " if item["collapsible"] else item["text"]
        append_text(nodes, text, item["marks"])
    return nodes
