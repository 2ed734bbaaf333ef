"""RoomAwareness: who is present in one room, kept in pycrdt's Awareness, with Collab's bounds.

pycrdt keeps the states and their clocks; this class adds what a server shared by strangers
needs: which client ids each connection announced (bounded, and removed when it leaves), which
entries of a message are news (echoes are neither applied nor relayed), and forgetting the clock
entries of ids that left. It returns what is to be relayed; the Room sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterable
from typing import Any

from pycrdt import Awareness, Doc

from documents.sync import protocol
from documents.sync.protocol import AwarenessEntry, AwarenessUpdate, ProtocolError

# Entries in one awareness message from a client: its own ids, the echoes of others' changes
# y-websocket's provider sends back, and the removals of peers it timed out at once. Reading an
# entry costs ~7 us of loop time, so a 64 KiB message of 6,000 one-byte entries would cost 40 ms.
MAX_AWARENESS_ENTRIES = 256

_PASS_THROUGH = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)


class RoomAwareness:
    def __init__(self, doc: Doc, *, max_ids_per_client: int) -> None:
        self._awareness = Awareness(doc)
        self._awareness.set_local_state(None)  # the server itself is nobody's presence
        # Each awareness client id costs memory here and in every other client: one connection
        # may own only this many at once (a browser tab owns one).
        self.max_ids_per_client = max_ids_per_client
        self._owned: dict[Hashable, set[int]] = {}

    @property
    def states(self) -> dict[int, dict[str, Any]]:
        """client id -> state, of everyone present (pycrdt's dict: read, do not change)."""
        return self._awareness.states

    @property
    def meta(self) -> dict[int, dict[str, Any]]:
        """client id -> clock and last update time (pycrdt's dict: read, do not change)."""
        return self._awareness.meta

    def encode_all(self) -> bytes:
        """Everyone's state, as one awareness update payload."""
        return self._awareness.encode_awareness_update(list(self._awareness.states))

    def join(self, connection: Hashable) -> None:
        self._owned[connection] = set()

    def leave(self, connection: Hashable) -> bytes | None:
        """Forget a connection; return the removal of the states it announced, if any."""
        owned = self._owned.pop(connection, set())
        gone = sorted(owned & set(self._awareness.states))
        payload = None
        if gone:
            self._awareness.remove_awareness_states(gone, "leave")
            payload = self._awareness.encode_awareness_update(gone)
        self._forget_meta(owned)
        return payload

    def accept(self, connection: Hashable, message: AwarenessUpdate) -> bytes | None:
        """Apply what is news in a connection's message; return it, to relay (None: no news).

        y-websocket's provider sends back every awareness change it receives (its handler
        ignores the origin), and the removals of peers it timed out: entries that are not news
        (an echo carries the clock we have) are neither relayed (N clients would otherwise turn
        each cursor move into N^2 frames) nor counted as the echoing client's own ids.
        Raises ProtocolError, changing nothing, past the connection's limit of ids."""
        news = [entry for entry in message.entries if self._is_news(entry)]
        if not news:
            return None
        owned = self._owned.setdefault(connection, set())
        removed = {entry.client_id for entry in news if entry.is_removal}
        announced = {entry.client_id for entry in news if not entry.is_removal}
        # Checked before anything is applied: a refused message changes nobody's presence.
        if len((owned - removed) | announced) > self.max_ids_per_client:
            raise ProtocolError(f"more than {self.max_ids_per_client} awareness client ids")
        owned.difference_update(removed)
        owned.update(announced)
        payload = message.payload
        if len(news) < len(message.entries):
            payload = protocol.encode_awareness_entries(news)
        try:
            self._awareness.apply_awareness_update(payload, connection)
        except _PASS_THROUGH:
            raise
        except BaseException as exc:
            raise ProtocolError(f"bad awareness update: {exc!r}") from None
        self._forget_meta(removed)
        return payload

    def apply_remote(self, payload: bytes) -> None:
        """Awareness from another process: kept as it is (that process applied the bounds)."""
        message = protocol.parse_message(protocol.encode_awareness(payload))
        assert isinstance(message, AwarenessUpdate)
        self._awareness.apply_awareness_update(payload, "remote")
        self._forget_meta(e.client_id for e in message.entries if e.is_removal)

    def expire(self, older_than_ms: int, now_ms: int) -> bytes | None:
        """Drop states not renewed within the timeout (a client of a dead process); return
        their removal, to relay."""
        meta = self._awareness.meta
        stale = [
            client_id
            for client_id in self._awareness.states
            if client_id in meta and now_ms - meta[client_id]["lastUpdated"] >= older_than_ms
        ]
        if not stale:
            return None
        self._awareness.remove_awareness_states(stale, "timeout")
        payload = self._awareness.encode_awareness_update(stale)
        self._forget_meta(stale)
        return payload

    def _is_news(self, entry: AwarenessEntry) -> bool:
        """pycrdt's (and y-protocols') rule: a newer clock, or a removal at the current clock."""
        meta = self._awareness.meta.get(entry.client_id)
        clock = 0 if meta is None else meta["clock"]
        return clock < entry.clock or (
            clock == entry.clock and entry.is_removal and entry.client_id in self._awareness.states
        )

    def _forget_meta(self, client_ids: Iterable[int]) -> None:
        """pycrdt keeps a clock entry for every id it has ever seen, removed or not: drop the
        entries of ids without a state, so that memory follows the people present. (A late
        message with an older clock for a forgotten id is then accepted once; it expires.)"""
        meta, states = self._awareness.meta, self._awareness.states
        for client_id in client_ids:
            if client_id not in states and client_id != self._awareness.client_id:
                meta.pop(client_id, None)
