"""The word diff of GET .../versions/<id>/diff: its pieces add up to both texts, and a changed
word is deleted and inserted whole."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from documents.richtext.diff import diff_html, word_diff

texts = st.lists(
    st.one_of(st.sampled_from(["fox", "the", "quick", "<b>", "&", " ", "  ", "\n"]), st.text()),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts, texts)
def test_the_changes_add_up_to_both_texts(before, after):
    changes = word_diff(before, after)
    assert "".join(c["text"] for c in changes if c["op"] != "insert") == before
    assert "".join(c["text"] for c in changes if c["op"] != "delete") == after
    assert all(c["text"] and c["op"] in ("equal", "insert", "delete") for c in changes)
    assert not any(a["op"] == b["op"] == "equal" for a, b in pairwise(changes))


def test_a_changed_word_is_deleted_and_inserted_whole():
    assert word_diff("the quick brown fox", "the quickest brown fox") == [
        {"op": "equal", "text": "the "},
        {"op": "delete", "text": "quick"},
        {"op": "insert", "text": "quickest"},
        {"op": "equal", "text": " brown fox"},
    ]


def test_neighbouring_changed_words_read_as_one_change():
    assert word_diff("the quick brown fox", "the slow red fox") == [
        {"op": "equal", "text": "the "},
        {"op": "delete", "text": "quick brown"},
        {"op": "insert", "text": "slow red"},
        {"op": "equal", "text": " fox"},
    ]


def test_html_is_one_paragraph_per_block_with_text_escaped():
    changes = word_diff("a <b>\nkeep", "a <i>\nkeep\nnew")
    assert diff_html(changes) == (
        "<p>a <del>&lt;b&gt;</del><ins>&lt;i&gt;</ins></p><p>keep</p><p><ins>new</ins></p>"
    )
