"""HTML in: what `PUT .../content?format=html` stores, read as Tiptap reads pasted HTML.

Python's html.parser reads the tags; documents.richtext.builder repairs the structure. Tags the
schema knows become its nodes and marks (`<b>`, `<strong>` and `font-weight` are bold, as in
Tiptap's StarterKit); any other tag is dropped and its text kept, except the ones whose text is
not content (`<script>`, `<style>`...). `<br>` is a hard break, `<pre>` a code block (its
language from `class="language-..."`). Character references are read as the characters they
name and never collapse, which is how documents.richtext.prosemirror writes whitespace that must
survive (a tab, a line break inside a paragraph).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

from documents.richtext.builder import DocumentBuilder, Open
from documents.richtext.schema import TEXTBLOCKS, ContentError, link_mark

BLOCK_NODES = {"p": "paragraph", "blockquote": "blockquote", "ul": "bulletList"}
HEADINGS = {f"h{level}": level for level in range(1, 7)}
MARK_TAGS = {
    "strong": "bold",
    "b": "bold",
    "em": "italic",
    "i": "italic",
    "s": "strike",
    "del": "strike",
    "strike": "strike",
    "u": "underline",
    "code": "code",
}
# Blocks of their own in HTML that the schema lacks: their text is kept, in paragraphs of its
# own (ProseMirror's DOM parser treats these alike).
BLOCK_LIKE = {
    "address", "article", "aside", "body", "caption", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "html",
    "main", "menu", "nav", "section", "summary", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr",
}  # fmt: skip
BLOCK_STARTS = {"li", "ol", "pre", *BLOCK_NODES, *HEADINGS, *BLOCK_LIKE}
SKIPPED = {"head", "script", "style", "template", "title", "noscript", "object", "iframe", "svg"}
VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip
HTML_WHITESPACE = " \t\n\r\f"
MAX_OPEN_ELEMENTS = 1000  # far beyond real markup; bounds the work per piece of text


@dataclass
class Element:
    tag: str
    node: Open | None = None
    adds: list[dict] = field(default_factory=list)  # marks this element adds
    clears: set[str] = field(default_factory=set)  # marks it removes (`font-weight: normal`)
    block_like: bool = False
    skipped: bool = False


def from_html(source: str) -> dict:
    """The document `source` describes, in the stored form (documents.richtext.schema)."""
    builder = DocumentBuilder()
    read_html_into(builder, source)
    return builder.finish()


def read_html_into(builder: DocumentBuilder, source: str) -> None:
    """Build what `source` describes where `builder` stands (Markdown's raw HTML blocks)."""
    reader = _Reader(builder)
    reader.feed(source.replace("\r\n", "\n").replace("\r", "\n"))
    reader.close()
    reader.end_open_elements()
    builder.boundary()  # what it held is a block of its own


class _Reader(HTMLParser):
    def __init__(self, builder: DocumentBuilder) -> None:
        super().__init__(convert_charrefs=False)
        self.builder = builder
        self.elements: list[Element] = []
        self.skipping = 0
        self.just_opened_pre = False

    # -- tags -------------------------------------------------------------------------------------
    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.just_opened_pre = False
        if self.skipping:
            if tag not in VOID:
                self._push(Element(tag, skipped=tag in SKIPPED))
            return
        if tag in VOID:
            if tag == "hr":
                self._end_open_textblock()
            self._void(tag)
            return
        element = Element(tag, skipped=tag in SKIPPED)
        if tag in BLOCK_STARTS:
            self._end_open_textblock()
        if tag == "li":
            self._end_open_item()
            element.node = self.builder.open("listItem")
        elif tag in BLOCK_NODES:
            element.node = self.builder.open(BLOCK_NODES[tag])
        elif tag in HEADINGS:
            element.node = self.builder.open("heading", {"level": HEADINGS[tag]})
        elif tag == "ol":
            element.node = self.builder.open("orderedList", _ordered_list_attrs(attributes))
        elif tag == "pre":
            element.node = self.builder.open("codeBlock", _language(attributes))
            self.just_opened_pre = True
        elif tag == "code" and self.builder.in_code():
            if "language" not in self.builder.top.attrs:
                self.builder.top.attrs.update(_language(attributes))
        elif tag == "a" and "href" in attributes:
            link = link_mark(attributes)
            element.adds = [link] if link else []
        elif tag in MARK_TAGS:
            if not (tag == "b" and _style(attributes).get("font-weight") in ("normal", "400")):
                element.adds = [{"type": MARK_TAGS[tag]}]
        elif tag in BLOCK_LIKE:
            element.block_like = True
            self.builder.boundary()
        if tag not in MARK_TAGS and tag != "a":
            element.adds, element.clears = _style_marks(attributes)
        self._push(element)

    def handle_endtag(self, tag):
        self.just_opened_pre = False
        for index in range(len(self.elements) - 1, -1, -1):
            if self.elements[index].tag == tag:
                while len(self.elements) > index:
                    self._pop()
                return
        # an end tag nothing opened: ignored, as browsers do

    def end_open_elements(self) -> None:
        while self.elements:
            self._pop()

    def _void(self, tag: str) -> None:
        if tag == "br":
            self.builder.hard_break()
        elif tag == "hr":
            self.builder.leaf("horizontalRule")

    def _end_open_textblock(self) -> None:
        """A block starting inside a paragraph, heading or code block ends it, as HTML's
        implied end tags do (the schema has no block inside them)."""
        for index in range(len(self.elements) - 1, -1, -1):
            node = self.elements[index].node
            if node is not None:
                if node.type in TEXTBLOCKS:
                    while len(self.elements) > index:
                        self._pop()
                return

    def _end_open_item(self) -> None:
        """`<li>` ends the list item open in the same list (HTML's implied end tag)."""
        for index in range(len(self.elements) - 1, -1, -1):
            tag = self.elements[index].tag
            if tag in ("ul", "ol"):
                return
            if tag == "li":
                while len(self.elements) > index:
                    self._pop()
                return

    def _push(self, element: Element) -> None:
        if len(self.elements) >= MAX_OPEN_ELEMENTS:
            raise ContentError(f"the HTML nests more than {MAX_OPEN_ELEMENTS} elements")
        if element.skipped:
            self.skipping += 1
        self.elements.append(element)

    def _pop(self) -> None:
        element = self.elements.pop()
        if element.skipped:
            self.skipping -= 1
        if element.node is not None:
            self.builder.close(element.node)
        if element.block_like:
            self.builder.boundary()

    def _marks(self) -> list[dict]:
        active: dict[str, dict] = {}
        for element in self.elements:
            for name in element.clears:
                active.pop(name, None)
            for mark in element.adds:
                active[mark["type"]] = mark
        return list(active.values())

    # -- text -------------------------------------------------------------------------------------
    def handle_data(self, data):
        opened_pre, self.just_opened_pre = self.just_opened_pre, False
        if self.skipping:
            return
        if self.builder.in_code():
            if opened_pre and data.startswith("\n"):
                data = data[1:]  # a line break right after <pre> is not content (HTML)
            self.builder.text(data, [])
            return
        marks = self._marks()
        for run, collapsible in _whitespace_runs(data):
            self.builder.text(run, marks, collapsible=collapsible)

    def handle_charref(self, name):
        self._literal(unescape(f"&#{name};"))

    def handle_entityref(self, name):
        self._literal(unescape(f"&{name};"))

    def _literal(self, text: str) -> None:
        self.just_opened_pre = False
        if not self.skipping:
            self.builder.text(text, [] if self.builder.in_code() else self._marks())


def _whitespace_runs(data: str):
    """(run, collapsible) pieces of `data`: whitespace holding a line break collapses."""
    start = 0
    while start < len(data):
        end = start
        is_space = data[start] in HTML_WHITESPACE
        while end < len(data) and (data[end] in HTML_WHITESPACE) == is_space:
            end += 1
        run = data[start:end]
        yield run, is_space and any(ch in run for ch in "\n\f")
        start = end


def _ordered_list_attrs(attributes: dict) -> dict:
    attrs = {}
    try:
        attrs["start"] = int(attributes.get("start", "1").strip())
    except ValueError:
        attrs["start"] = 1
    if not 0 <= attrs["start"] <= 999_999_999:
        attrs["start"] = 1
    if attributes.get("type"):
        attrs["type"] = attributes["type"]
    return attrs


def _language(attributes: dict) -> dict:
    for name in attributes.get("class", "").split():
        if name.startswith("language-") and len(name) > len("language-"):
            return {"language": name[len("language-") :]}
    return {}


def _style(attributes: dict) -> dict[str, str]:
    """An inline `style` attribute's declarations (CSS text, split on its separators)."""
    declarations = {}
    for declaration in attributes.get("style", "").split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            declarations[name.strip().lower()] = value.strip().lower()
    return declarations


def _style_marks(attributes: dict) -> tuple[list[dict], set[str]]:
    """The marks a `style` gives (what editors and word processors paste): bold, italic,
    underline and strike from CSS, and the ones it takes away (`font-weight: normal`)."""
    style = _style(attributes)
    adds, clears = [], set()
    weight = style.get("font-weight", "")
    if weight in ("bold", "bolder") or (weight.isdigit() and int(weight) >= 500):
        adds.append({"type": "bold"})
    elif weight in ("normal", "lighter") or (weight.isdigit() and int(weight) < 500):
        clears.add("bold")
    if style.get("font-style") == "italic":
        adds.append({"type": "italic"})
    elif style.get("font-style") == "normal":
        clears.add("italic")
    decoration = style.get("text-decoration", "") + " " + style.get("text-decoration-line", "")
    if "underline" in decoration:
        adds.append({"type": "underline"})
    if "line-through" in decoration:
        adds.append({"type": "strike"})
    return adds, clears
