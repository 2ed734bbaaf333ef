"""Restoring a version as a new change: the update that turns the current document into the version.

The change is computed on a scratch Doc loaded with the current state (so it has its own client
id and applies on top of everyone's history): top-level blocks that are equal in both are kept,
the differing run between them is deleted and the version's blocks are written in its place.
Kept blocks keep their identity, so edits people make in them while the restore travels merge
normally. Only the rich-text root (`default`, Tiptap's XmlFragment) is restored.

Pure pycrdt, like documents.richtext.prosemirror.
"""

from __future__ import annotations

from pycrdt import Doc, XmlElement, XmlFragment, XmlText

from documents.richtext.prosemirror import ROOT, node_json
from documents.sync.protocol import EMPTY_UPDATE


def restore_update(current_state: bytes | None, version_state: bytes | None) -> bytes | None:
    """The update that makes `current_state` equal to `version_state`, or None if they are."""
    scratch = Doc()
    if current_state:
        scratch.apply_update(current_state)
    target_doc = Doc()
    if version_state:
        target_doc.apply_update(version_state)
    current = scratch.get(ROOT, type=XmlFragment)
    target = target_doc.get(ROOT, type=XmlFragment)

    changes: list[bytes] = []
    subscription = scratch.observe(lambda event: changes.append(event.update))
    with scratch.transaction(origin="restore"):
        _replace_children(current, target)
    scratch.unobserve(subscription)
    # A deletion alone leaves the state vector as it was: judge by the transaction's own update.
    return changes[0] if changes and changes[0] != EMPTY_UPDATE else None


def _replace_children(current: XmlFragment | XmlElement, target: XmlFragment | XmlElement) -> None:
    have = [_signature(child) for child in current.children]
    want = [_signature(child) for child in target.children]
    start = 0
    while start < min(len(have), len(want)) and have[start] == want[start]:
        start += 1
    end_have, end_want = len(have), len(want)
    while end_have > start and end_want > start and have[end_have - 1] == want[end_want - 1]:
        end_have -= 1
        end_want -= 1
    if end_have > start:
        del current.children[start:end_have]
    targets = list(target.children)[start:end_want]
    for offset, node in enumerate(targets):
        copy_node(node, current, start + offset)


def _signature(node) -> list[dict]:
    return node_json(node)


def copy_node(node: XmlElement | XmlText, parent: XmlFragment | XmlElement, index: int) -> None:
    """Write a copy of `node` (from another Doc) into `parent` at `index`."""
    if isinstance(node, XmlText):
        copy = parent.children.insert(index, XmlText())
        offset = 0
        for insert, attributes in node.diff():
            if isinstance(insert, str):
                copy.insert(offset, insert, attributes or None)
                offset += len(insert)
            elif not isinstance(insert, XmlElement | XmlText):
                copy.insert_embed(offset, insert, attributes or None)
                offset += 1
        return
    attributes = {key: value for key, value in node.attributes if value is not None}
    element = parent.children.insert(index, XmlElement(node.tag or "unknown", attributes))
    for child_index, child in enumerate(node.children):
        copy_node(child, element, child_index)
