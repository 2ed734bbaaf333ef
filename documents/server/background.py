"""A server process's background work, with one owner: what runs beside the connections for as
long as the process serves (automatic versions, the renewal of the admin's connection rows, the
retention jobs).

Each job is a start hook, a coroutine function added with `on_start` from AppConfig.ready
(documents.apps), so this layer knows none of them and imports nothing of the app. The hooks run
once per event loop, each as one task, from the moment the server serves:
- `manage.py serve` under daphne: when daphne's reactor starts (documents.server.adapters.daphne);
- uvicorn (either way of starting it): at ASGI lifespan startup, the first call it makes;
- anything else (plain `daphne collab.asgi:application`, Channels' test communicator): the first
  request or socket, through `StartBackgroundWork`, the outermost ASGI layer (collab/asgi.py).
The graceful stop (documents.server.graceful) stops them first; a loop that stopped never starts
them again (a request arriving during the stop must not).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

log = logging.getLogger("collab.server")

StartHook = Callable[[], Awaitable[None]]

_hooks: list[StartHook] = []
# Per event loop: its tasks, or None once stopped.
_work: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[asyncio.Task] | None] = (
    weakref.WeakKeyDictionary()
)
STOP_TIMEOUT_SECONDS = 5.0


def on_start(hook: StartHook) -> StartHook:
    """Run `hook()` as a task on every server loop, from start to stop (once per hook)."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def start() -> None:
    """Start the hooks on the running loop, once (later calls are no-ops)."""
    loop = asyncio.get_running_loop()
    if loop in _work:
        return
    _work[loop] = {
        loop.create_task(_run(hook), name=f"collab background: {hook.__qualname__}")
        for hook in _hooks
    }


async def _run(hook: StartHook) -> None:
    try:
        await hook()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background work %s stopped with an error", hook.__qualname__)


async def stop() -> None:
    """Cancel this loop's background tasks and wait (briefly) until they have ended."""
    loop = asyncio.get_running_loop()
    tasks = _work.get(loop)
    _work[loop] = None
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)


class StartBackgroundWork:
    """ASGI middleware: the first call on a loop starts its background work; every later
    request or socket pays one dictionary lookup (0.4 us)."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        start()
        return await self.application(scope, receive, send)
