"""Hypothesis strategies for documents of the schema `PUT .../content` writes (Tiptap's
StarterKit, documents.richtext.schema), in their stored form: what a person could make in the
editor, with the characters that are hardest to carry through HTML and Markdown (syntax
characters, runs of spaces and tabs, spaces at the ends of lines, non-ASCII whitespace)."""

from __future__ import annotations

from hypothesis import strategies as st

from documents.richtext.schema import normalize

SYNTAX = [*" \t\\`*_[]<>&~#+-=.!()|:;'\"/1234567890aZ ", "\u00a0", "\u2003", "é", "😀"]
characters = st.one_of(
    st.sampled_from("abcdefgh   "),
    st.sampled_from(SYNTAX),
    st.characters(exclude_categories=("Cc", "Cs")),
)
# Code keeps line breaks; Markdown and HTML turn a carriage return into a line break.
code_characters = st.one_of(characters, st.just("\n"))
LINKS = [
    "https://example.org/docs",
    "http://example.org/a_b*c?x=1&y=2#top",
    "mailto:ada@example.org",
    "/relative/path (1)",
    "#section",
    "page.html",
    "https://example.org/<angle>",
]
MARKS = ["bold", "italic", "strike", "underline"]


@st.composite
def text_nodes(draw) -> dict:
    text = draw(st.text(characters, min_size=1, max_size=12))
    if draw(st.integers(0, 5)) == 0:
        return {"type": "text", "text": text, "marks": [{"type": "code"}]}
    names = draw(st.lists(st.sampled_from(MARKS), unique=True, max_size=2))
    marks = [{"type": name} for name in names]
    if draw(st.integers(0, 4)) == 0:
        marks.append({"type": "link", "attrs": {"href": draw(st.sampled_from(LINKS))}})
    return {"type": "text", "text": text, "marks": marks}


inline = st.lists(
    st.one_of(text_nodes(), text_nodes(), text_nodes(), st.just({"type": "hardBreak"})),
    max_size=6,
)


def paragraphs():
    return st.builds(lambda content: {"type": "paragraph", "content": content}, inline)


headings = st.builds(
    lambda level, content: {"type": "heading", "attrs": {"level": level}, "content": content},
    st.integers(1, 6),
    inline,
)
code_blocks = st.builds(
    lambda language, text: {
        "type": "codeBlock",
        "attrs": {"language": language},
        "content": [{"type": "text", "text": text}] if text else [],
    },
    st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9+#-]{0,8}", fullmatch=True)),
    st.text(code_characters, max_size=30),
)
leaves = st.one_of(
    paragraphs(), paragraphs(), headings, code_blocks, st.just({"type": "horizontalRule"})
)


def _containers(blocks):
    items = st.builds(
        lambda first, rest: {"type": "listItem", "content": [first, *rest]},
        paragraphs(),
        st.lists(blocks, max_size=2),
    )
    return st.one_of(
        st.builds(
            lambda c: {"type": "blockquote", "content": c}, st.lists(blocks, min_size=1, max_size=3)
        ),
        st.builds(
            lambda c: {"type": "bulletList", "content": c}, st.lists(items, min_size=1, max_size=3)
        ),
        st.builds(
            lambda start, c: {"type": "orderedList", "attrs": {"start": start}, "content": c},
            st.one_of(st.integers(0, 12), st.just(999_999_998)),
            st.lists(items, min_size=1, max_size=3),
        ),
    )


blocks = st.recursive(leaves, _containers, max_leaves=8)
documents = st.builds(
    lambda content: normalize({"type": "doc", "content": content}), st.lists(blocks, max_size=6)
)
