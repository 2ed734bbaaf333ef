"""Connections opened with a credential that expires (a document token, a JWT) close with 4401
when it does, within SPEC.md's 2 seconds, on whichever process holds them.

One timer per such connection, set when it joins its room and cancelled when it leaves: each
process knows the expiry of the connections it holds, so nothing needs to cross processes, and
JWTs, which Collab never stores, expire the same way as minted tokens. A timer is one entry in
the event loop's heap, checked by nothing until it is due.
"""

from __future__ import annotations

import asyncio
import time

from documents.scoped_tokens import is_scoped
from documents.sync.closecodes import CloseCode
from documents.sync.room import Client


def close_at_expiry(user, client: Client) -> asyncio.TimerHandle | None:
    """Close `client` with 4401 when `user`'s credential expires; None if it never does."""
    if not is_scoped(user):
        return None
    loop = asyncio.get_running_loop()
    delay = max(0.0, user.expires_at - time.time())  # expiry is wall-clock; the loop's is not
    return loop.call_at(loop.time() + delay, client.close, CloseCode.UNAUTHENTICATED)
