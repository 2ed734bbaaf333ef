"""What HTTP views and the admin do to live rooms: apply an update, read live state, revoke.

Views run in a worker thread; rooms live on the server's event loop. These helpers hop onto that
loop, and fall back to storage alone when this process serves no rooms.
"""

from __future__ import annotations

from documents.runtime import get_registry, run_on_server_loop
from documents.storage import append_updates, load_document_state
from documents.sync.closecodes import CloseCode


def apply_update(document_id: str, update: bytes) -> None:
    """Apply, persist and relay an update that arrived over HTTP."""

    async def apply():
        await get_registry().apply_external_update(document_id, update)

    ran, _ = run_on_server_loop(apply)
    if not ran:
        append_updates({document_id: [update]})


def document_state(document_id: str) -> bytes:
    """The whole document as one v1 update, including edits not yet flushed."""

    async def live_state():
        room = get_registry().rooms.get(document_id)
        return room.doc.get_update() if room is not None else None

    _, state = run_on_server_loop(live_state)
    if state is None:
        state = load_document_state(document_id)
    return state or b"\x00\x00"


def close_connections(document_id: str, *, user_id=None, code: int = CloseCode.FORBIDDEN) -> None:
    """Close live connections to a document (all, or one user's) with `code`."""

    async def close():
        registry = get_registry()
        return registry.close_clients(
            document_id, code, lambda client: user_id is None or client.user_id == user_id
        )

    run_on_server_loop(close)
