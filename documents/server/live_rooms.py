"""What HTTP views and the admin do to live rooms: apply an update, replace the content, read
live state, revoke.

Views run in a worker thread; rooms live on the server's event loop. These helpers hop onto that
loop, and fall back to storage alone when this process serves no rooms.
"""

from __future__ import annotations

import json

from asgiref.sync import async_to_sync
from django.conf import settings

from documents.server.runtime import get_registry, run_on_server_loop
from documents.storage import append_updates, load_document_state
from documents.sync.broadcast import KIND_CONTROL, KIND_UPDATE
from documents.sync.closecodes import CloseCode
from documents.sync.protocol import EMPTY_UPDATE
from documents.sync.revocation import Revocation


def apply_update(document_id: str, update: bytes) -> None:
    """Apply, persist and relay an update that arrived over HTTP."""

    async def apply():
        await get_registry().apply_external_update(document_id, update)

    ran, _ = run_on_server_loop(apply)
    if not ran:
        append_updates({document_id: [update]})
        _publish_from_outside(document_id, KIND_UPDATE, update)


def document_state(document_id: str) -> bytes:
    """The whole document as one v1 update, including edits not yet flushed."""

    async def live_state():
        room = get_registry().rooms.get(document_id)
        return room.full_state.get() if room is not None else None

    _, state = run_on_server_loop(live_state)
    if state is None:
        state = load_document_state(document_id)
    return state or EMPTY_UPDATE


def close_connections(document_id: str, *, user_id=None, code: int = CloseCode.FORBIDDEN) -> None:
    """Close live connections to a document (all, or one user's) with `code`, on every
    process (SPEC.md: within 2 seconds)."""
    revoke(Revocation(code, room=document_id, user_id=user_id))


def revoke(revocation: Revocation) -> None:
    """Close the connections `revocation` matches, on every server process: from this
    process's server loop if it has one, otherwise through Redis (a shell, a command)."""

    async def close():
        await get_registry().start()
        return get_registry().revoke_matching(revocation)

    ran, _ = run_on_server_loop(close)
    if not ran:
        message = json.dumps(revocation.to_message()).encode()
        _publish_from_outside("", KIND_CONTROL, message)


def _publish_from_outside(room: str, kind: str, payload: bytes) -> None:
    """No rooms here (no server loop in this process): reach the server processes via Redis."""
    if settings.REDIS_URL:
        from documents.server.channel_layer_broadcast import publish_from_outside

        async_to_sync(publish_from_outside)(room, kind, payload)


def replace_content(document_id: str, target_state: bytes) -> bool:
    """Make the live document's rich text equal to `target_state`'s as one new change
    (documents.richtext.change); False if it already was. Restoring a version and
    `PUT .../content` both write this way.

    The change is computed and applied on the server loop without a pause in between, so edits
    arriving meanwhile are either already in the state it starts from, or merge after it.
    """
    from documents.richtext.change import change_to

    async def replace():
        registry = get_registry()
        room = await registry.open(document_id)
        change = change_to(room.doc.get_update(), target_state)
        if change is not None:
            await registry.apply_external_update(document_id, change)
        return change is not None

    ran, changed = run_on_server_loop(replace)
    if ran:
        return changed
    change = change_to(load_document_state(document_id), target_state)
    if change is not None:
        append_updates({document_id: [change]})
        _publish_from_outside(document_id, KIND_UPDATE, change)
    return change is not None
