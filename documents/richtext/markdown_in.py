"""Markdown in: what `PUT .../content?format=markdown` stores.

markdown-it-py reads CommonMark (with `~~strike~~`) into tokens; they are built into the schema
through documents.richtext.builder. Raw HTML is read as the HTML format reads it (a block of
HTML through documents.richtext.html_in; inline tags give marks and `<br>` a hard break, any
other tag is dropped), which is how documents.richtext.markdown_out writes what Markdown has no
syntax for (underline, an empty paragraph). A link keeps its address exactly as written (no
percent-encoding), and one that is not safe to follow keeps only its text.
"""

from __future__ import annotations

from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.token import Token

from documents.richtext.builder import DocumentBuilder
from documents.richtext.html_in import MARK_TAGS, read_html_into
from documents.richtext.schema import MAX_DEPTH, link_mark

BLOCK_TOKENS = {
    "paragraph": "paragraph",
    "heading": "heading",
    "blockquote": "blockquote",
    "bullet_list": "bulletList",
    "ordered_list": "orderedList",
    "list_item": "listItem",
}
INLINE_MARKS = {"strong": "bold", "em": "italic", "s": "strike"}


class _CommonMark(MarkdownIt):
    """CommonMark with strikethrough. Link addresses are stored as written: the schema checks
    them (documents.richtext.schema.is_safe_href), and percent-encoding them would change
    them on every round trip."""

    def __init__(self) -> None:
        super().__init__("commonmark", {"maxNesting": MAX_DEPTH + 8})
        self.enable("strikethrough")

    # markdown-it's own method names
    def normalizeLink(self, url: str) -> str:
        return url

    def normalizeLinkText(self, link: str) -> str:
        return link

    def validateLink(self, url: str) -> bool:
        return True


MARKDOWN = _CommonMark()


def from_markdown(source: str) -> dict:
    """The document `source` describes, in the stored form (documents.richtext.schema)."""
    builder = DocumentBuilder()
    opened = []
    for token in MARKDOWN.parse(source):
        kind = token.type
        if kind.endswith("_open") and kind[: -len("_open")] in BLOCK_TOKENS:
            opened.append(builder.open(BLOCK_TOKENS[kind[: -len("_open")]], _attrs(token)))
        elif kind.endswith("_close") and kind[: -len("_close")] in BLOCK_TOKENS:
            builder.close(opened.pop())
        elif kind in ("fence", "code_block"):
            # the info string as written (markdown-it leaves its escapes to the renderer)
            language = unescapeAll(token.info).strip() if kind == "fence" else ""
            node = builder.open("codeBlock", {"language": language} if language else {})
            builder.text(token.content.removesuffix("\n"), [])
            builder.close(node)
        elif kind == "hr":
            builder.leaf("horizontalRule")
        elif kind == "html_block":
            read_html_into(builder, token.content)
        elif kind == "inline":
            read_inline(builder, token.children or [])
    return builder.finish()


def inline_nodes(source: str) -> list[dict]:
    """The inline content one line of Markdown holds (documents.richtext.markdown_out checks
    what it writes with it)."""
    builder = DocumentBuilder()
    paragraph = builder.open("paragraph")
    for token in MARKDOWN.parseInline(source):
        read_inline(builder, token.children or [])
    builder.close(paragraph)
    content = builder.finish()["content"]
    return content[0].get("content", []) if content else []


def _attrs(token: Token) -> dict:
    if token.type == "heading_open":
        return {"level": int(token.tag[1:])}
    if token.type == "ordered_list_open":
        return {"start": int(token.attrs.get("start", 1))}
    return {}


def read_inline(builder: DocumentBuilder, tokens: list[Token]) -> None:
    marks = _MarkStack()
    for token in tokens:
        kind = token.type
        if kind in ("text", "image"):
            builder.text(token.content, marks.active())
        elif kind == "softbreak":
            builder.text(" ", marks.active())
        elif kind == "hardbreak":
            builder.hard_break()
        elif kind == "code_inline":
            builder.text(token.content, [{"type": "code"}])
        elif kind.endswith("_open") and kind[: -len("_open")] in INLINE_MARKS:
            marks.push(kind[: -len("_open")], {"type": INLINE_MARKS[kind[: -len("_open")]]})
        elif kind.endswith("_close") and kind[: -len("_close")] in INLINE_MARKS:
            marks.pop(kind[: -len("_close")])
        elif kind == "link_open":
            href = token.attrs.get("href")
            title = token.attrs.get("title") or None
            marks.push("link", link_mark({"href": str(href or ""), "title": title}))
        elif kind == "link_close":
            marks.pop("link")
        elif kind == "html_inline":
            _html_tag(builder, marks, token.content)


class _MarkStack:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict | None]] = []

    def push(self, key: str, mark: dict | None) -> None:
        self.entries.append((key, mark))

    def pop(self, key: str) -> None:
        for index in range(len(self.entries) - 1, -1, -1):
            if self.entries[index][0] == key:
                del self.entries[index]
                return

    def active(self) -> list[dict]:
        return list({mark["type"]: mark for _, mark in self.entries if mark}.values())


def _html_tag(builder: DocumentBuilder, marks: _MarkStack, source: str) -> None:
    """One inline HTML tag: a mark opens or closes, `<br>` breaks the line, the rest is
    dropped (comments, tags the schema has no mark for)."""
    for event, tag, attributes in _tags(source):
        if tag == "br" and event != "end":
            builder.hard_break()
        elif tag == "a" and event == "start" and "href" in attributes:
            marks.push("html:a", link_mark(attributes))
        elif tag in MARK_TAGS and event == "start":
            marks.push(f"html:{tag}", {"type": MARK_TAGS[tag]})
        elif (tag in MARK_TAGS or tag == "a") and event == "end":
            marks.pop(f"html:{tag}")


def _tags(source: str) -> list[tuple[str, str, dict]]:
    found: list[tuple[str, str, dict]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append(("start", tag, {name: value or "" for name, value in attrs}))

        def handle_startendtag(self, tag, attrs):
            found.append(("startend", tag, {name: value or "" for name, value in attrs}))

        def handle_endtag(self, tag):
            found.append(("end", tag, {}))

    parser = Tags()
    parser.feed(source)
    parser.close()
    return found
