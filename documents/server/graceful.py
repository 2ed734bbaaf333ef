"""Stopping without losing an edit: stop the process's background work
(documents.server.background), commit every accepted update, then close each socket with 1001,
then let the server exit (SPEC.md, `1001`).

Under daphne the adapter calls `persist_and_close` from daphne's shutdown hook. Under uvicorn
it runs through ASGI lifespan, but lifespan's shutdown event comes only after uvicorn has
closed every WebSocket itself (with 1012, before anything was committed). So at lifespan
startup `Lifespan` puts its own handler in front of the server's SIGTERM/SIGINT handlers:
the first signal persists and closes, then hands the signal to the server's handler, which
stops as it always does; a second signal goes straight to the server (a forced stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from documents.db import in_db_thread

log = logging.getLogger("collab.server")

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def persist_and_close() -> None:
    """Stop the background work, commit, then close every socket with 1001 and wait until the
    close frames are out."""
    from documents.server import background, live_connections
    from documents.server.runtime import current_registry
    from documents.server.socket_client import closes_sent

    await background.stop()
    registry = current_registry()
    if registry is not None:
        await registry.shutdown()
        await closes_sent(timeout=2.0)
    with contextlib.suppress(Exception):  # the admin's "connected now" rows
        await in_db_thread(live_connections.forget_process)()


class Lifespan:
    """The ASGI lifespan protocol (uvicorn): graceful stop as above."""

    def __init__(self) -> None:
        self._stopping: asyncio.Task | None = None

    async def __call__(self, scope, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._take_over_exit_signals(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._stopping is None:  # stopped without a signal (e.g. by its caller)
                    await persist_and_close()
                else:
                    await asyncio.shield(self._stopping)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _take_over_exit_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only; the server handles them alone
        for sig in EXIT_SIGNALS:
            server_handler = signal.getsignal(sig)
            if not callable(server_handler):
                continue

            def handler(signum, frame, server_handler=server_handler):
                if self._stopping is not None:
                    server_handler(signum, frame)
                    return
                loop.call_soon_threadsafe(self._stop, signum, frame, server_handler)

            signal.signal(sig, handler)

    def _stop(self, signum, frame, server_handler) -> None:
        async def stop():
            try:
                await persist_and_close()
            except Exception:
                log.exception("graceful stop: persisting failed")
            server_handler(signum, frame)

        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(stop())
