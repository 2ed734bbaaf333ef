"""Markdown out: `GET .../content?format=markdown`, CommonMark that reads back as the same
document (documents.richtext.markdown_in).

Text is escaped so nothing in it reads as syntax: ASCII punctuation that means something
inline is backslash-escaped, and what the block parser would strip or misread (leading and
trailing whitespace of a line, a line break inside a paragraph) is written as a character
reference. Marks are `**bold**`, `*italic*`, `~~strike~~`, `` `code` `` and `[links](...)`.
Emphasis in CommonMark depends on the characters around its delimiters (`**foo.**bar` is not
bold), so each block's Markdown is read back with markdown-it-py, and a block whose marks would
not survive is written with HTML tags for its marks instead (`<strong>`, `<em>`...), which
CommonMark keeps as written. Markdown has no syntax for underline or an empty paragraph:
`<u>` and `<p></p>`, read back the same way.
"""

from __future__ import annotations

from html import escape as escape_html

from documents.richtext.markdown_in import inline_nodes
from documents.richtext.schema import without_controls

INLINE_SYNTAX = set("\\`*_[]<>&~")
MARKDOWN_DELIMITERS = {
    "bold": ("**", "**"),
    "italic": ("*", "*"),
    "strike": ("~~", "~~"),
    "underline": ("<u>", "</u>"),
}
HTML_DELIMITERS = {
    "bold": ("<strong>", "</strong>"),
    "italic": ("<em>", "</em>"),
    "strike": ("<s>", "</s>"),
    "underline": ("<u>", "</u>"),
}
BULLETS = ("-", "*")
ORDERED_DELIMITERS = (".", ")")
MAX_LIST_NUMBER = 999_999_999  # CommonMark reads at most nine digits


def to_markdown(doc_json: dict) -> str:
    lines = _blocks(doc_json.get("content", []))
    return "\n".join(lines) + "\n" if lines else ""


def _blocks(nodes: list[dict], *, tight: bool = False) -> list[str]:
    """Blocks one after another, a blank line between them (none in a tight list item)."""
    lines: list[str] = []
    previous: tuple[str, str] | None = None  # the last list's type and marker
    for node in nodes:
        kind = node.get("type")
        if kind in ("bulletList", "orderedList"):
            markers = BULLETS if kind == "bulletList" else ORDERED_DELIMITERS
            # Two lists in a row with one marker would read as one list.
            marker = markers[1] if previous == (kind, markers[0]) else markers[0]
            block = _list(node, marker)
            previous = (kind, marker)
        else:
            block = _block(node)
            previous = None
        if block:
            lines.extend(["", *block] if lines and not tight else block)
    return lines


def _block(node: dict) -> list[str]:
    kind = node.get("type")
    content = node.get("content", [])
    if kind == "paragraph":
        return _inline(content).split("\n") if content else ["<p></p>"]
    if kind == "heading":
        level = node.get("attrs", {}).get("level", 1)
        text = _inline(content, heading=True)
        return ["#" * level + (" " + text if text else "")]
    if kind == "blockquote":
        return [f"> {line}" if line else ">" for line in _blocks(content)]
    if kind == "codeBlock":
        return _code_block(node)
    if kind == "horizontalRule":
        return ["---"]
    # A node of another editor's schema: its text is kept, as a paragraph or as its blocks.
    if any(child.get("type") in ("text", "hardBreak") for child in content):
        return _block({"type": "paragraph", "content": content})
    return _blocks(content)


def _list(node: dict, delimiter: str) -> list[str]:
    items = node.get("content", [])
    loose = not all(_tight(item) for item in items)
    start = node.get("attrs", {}).get("start", 1)
    lines: list[str] = []
    for index, item in enumerate(items):
        if node["type"] == "orderedList":
            marker = f"{min(start + index, MAX_LIST_NUMBER)}{delimiter}"
        else:
            marker = delimiter
        if loose and lines:
            lines.append("")
        body = _blocks(item.get("content", []), tight=not loose)
        indent = " " * (len(marker) + 1)
        lines.append(f"{marker} {body[0]}")
        lines.extend(indent + line if line else "" for line in body[1:])
    return lines


def _tight(item: dict) -> bool:
    """An item that needs no blank line inside: a paragraph, perhaps followed by a list that
    may interrupt it (CommonMark: a bullet list, or an ordered list starting at 1)."""
    content = item.get("content", [])
    if len(content) == 1:
        return True
    # A paragraph without text is written as raw HTML (`<p></p>`, `<br>`), whose block runs
    # on to the next blank line.
    if len(content) != 2 or not any(n["type"] == "text" for n in content[0].get("content", [])):
        return False
    nested = content[1]
    if nested.get("type") == "bulletList":
        return True
    return nested.get("type") == "orderedList" and nested.get("attrs", {}).get("start", 1) == 1


def _code_block(node: dict) -> list[str]:
    text = "".join(child.get("text", "") for child in node.get("content", []))
    language = node.get("attrs", {}).get("language", "")
    fence_char = "~" if "`" in language else "`"
    fence = fence_char * max(3, _longest_run(text, fence_char) + 1)
    info = language.replace("\\", "\\\\").replace("&", "\\&")
    return [fence + info, *text.split("\n"), fence]


def _longest_run(text: str, char: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == char else 0
        longest = max(longest, run)
    return longest


# -- inline content ------------------------------------------------------------------------------
def _inline(nodes: list[dict], *, heading: bool = False) -> str:
    """A block's inline content; lines end at hard breaks."""
    written = _write_inline(nodes, MARKDOWN_DELIMITERS, heading)
    if _comparable(inline_nodes(written)) == _comparable(nodes):
        return written
    return _write_inline(nodes, HTML_DELIMITERS, heading)


def _comparable(nodes: list[dict]) -> list:
    """What Markdown can say of inline content: text, hard breaks, marks (links by address and
    title only)."""
    out = []
    for node in nodes:
        marks = []
        for mark in node.get("marks", []):
            attrs = mark.get("attrs", {})
            marks.append((mark["type"], attrs.get("href"), attrs.get("title")))
        out.append((node["type"], node.get("text"), sorted(marks)))
    return out


def _write_inline(nodes: list[dict], delimiters: dict, heading: bool) -> str:
    lines = _split_lines(nodes)
    out: list[str] = []
    for number, line in enumerate(lines):
        last = number == len(lines) - 1
        if number:
            # A backslash at a block's very end is not a break (CommonMark): use <br> there.
            out.append("<br>" if heading or (last and not line) else "\\\n")
        out.append(_write_line(line, delimiters, heading))
    return "".join(out)


def _split_lines(nodes: list[dict]) -> list[list[dict]]:
    lines: list[list[dict]] = [[]]
    for node in nodes:
        if node["type"] == "hardBreak":
            lines.append([])
        else:
            lines[-1].append(node)
    return lines


def _write_line(nodes: list[dict], delimiters: dict, heading: bool) -> str:
    """One line of inline nodes. A mark open across several nodes stays open: the marks that
    run on longest are opened outermost (`**a *b***`, not `**a****b**`)."""
    out: list[str] = []
    active: list[dict] = []
    marks_of = [[] if _is_code(node) else node.get("marks", []) for node in nodes]
    for index, node in enumerate(nodes):
        marks = marks_of[index]
        keep = 0
        while keep < len(active) and active[keep] in marks:
            keep += 1
        for mark in reversed(active[keep:]):
            out.append(_close(mark, delimiters))
        active = active[:keep]
        opening = [mark for mark in marks if mark not in active]
        opening.sort(key=lambda mark: -_run_length(marks_of, index, mark))
        for mark in opening:
            out.append(_open(mark, delimiters))
        active.extend(opening)
        first, last = index == 0, index == len(nodes) - 1
        if _is_code(node):
            out.append(_code(node["text"], delimiters, heading, first, last))
        else:
            out.append(_text(node["text"], heading, first, last))
    for mark in reversed(active):
        out.append(_close(mark, delimiters))
    return "".join(out)


def _run_length(marks_of: list[list[dict]], start: int, mark: dict) -> int:
    end = start
    while end < len(marks_of) and mark in marks_of[end]:
        end += 1
    return end - start


def _is_code(node: dict) -> bool:
    return any(mark["type"] == "code" for mark in node.get("marks", []))


def _open(mark: dict, delimiters: dict) -> str:
    if mark["type"] == "link":
        if delimiters is HTML_DELIMITERS:
            attrs = mark.get("attrs", {})
            title = attrs.get("title")
            title_attr = f' title="{escape_html(title)}"' if title else ""
            return f'<a href="{escape_html(attrs.get("href", ""))}"{title_attr}>'
        return "["
    return delimiters[mark["type"]][0]


def _close(mark: dict, delimiters: dict) -> str:
    if mark["type"] == "link":
        if delimiters is HTML_DELIMITERS:
            return "</a>"
        attrs = mark.get("attrs", {})
        title = attrs.get("title")
        title_part = ' "' + _escape_characters(title, '\\"&') + '"' if title else ""
        return f"]({_destination(attrs.get('href', ''))}{title_part})"
    return delimiters[mark["type"]][1]


def _destination(href: str) -> str:
    """Bare when nothing in it means something there (an `&` reads as a character reference
    only before a `;`), else in `<...>` with escapes."""
    bare = all(ch.isalnum() or ch in "-._~:/?#@!$'*+,;=%&" for ch in href)
    if href and bare and not ("&" in href and ";" in href):
        return href
    return "<" + _escape_characters(href, "\\<>&") + ">"


def _escape_characters(text: str, characters: str) -> str:
    return "".join("\\" + ch if ch in characters else ch for ch in text)


def _code(text: str, delimiters: dict, heading: bool, first: bool, last: bool) -> str:
    if delimiters is HTML_DELIMITERS or "\n" in text or "\r" in text:
        return "<code>" + _text(text, heading, first, last) + "</code>"
    fence = "`" * (_longest_run(text, "`") + 1)
    # CommonMark strips one space from each end of a span that has one at both ends
    stripped = text.startswith(" ") and text.endswith(" ") and text.strip(" ")
    pad = " " if text.startswith("`") or text.endswith("`") or stripped else ""
    return fence + pad + text + pad + fence


def _text(text: str, heading: bool, first: bool, last: bool) -> str:
    """`text` escaped; `first`/`last`: it starts or ends its line, where the block parser
    strips whitespace and reads syntax."""
    lead = len(text) - len(text.lstrip()) if first else 0
    trail = len(text) - len(text.rstrip()) if last else 0
    if lead == len(text):
        trail = 0
    body = text[lead : len(text) - trail]
    special = INLINE_SYNTAX | {"#"} if heading else INLINE_SYNTAX
    escaped = "".join(_escape_char(ch, special) for ch in body)
    if first and not lead:
        escaped = _escape_line_start(escaped)
    return _references(text[:lead]) + escaped + _references(text[len(text) - trail :])


def _escape_char(ch: str, special: set[str]) -> str:
    if ch in special:
        return "\\" + ch
    if ch in "\n\r":
        return f"&#{ord(ch)};"
    return ch


def _references(whitespace: str) -> str:
    """Whitespace as character references; control characters (the schema keeps none) are
    left out, as CommonMark reads their references as U+FFFD."""
    return "".join(f"&#{ord(ch)};" for ch in without_controls(whitespace))


def _escape_line_start(text: str) -> str:
    """What would start a heading, a list, a rule or a setext underline at a line's start."""
    if text[:1] in ("#", "+", "-", "="):
        return "\\" + text
    digits = len(text) - len(text.lstrip("0123456789"))
    if digits > 0 and text[digits : digits + 1] in (".", ")"):
        return text[:digits] + "\\" + text[digits:]
    return text
