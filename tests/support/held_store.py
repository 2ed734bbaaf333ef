"""`manage.py`, with the store held: run as `python -m tests.support.held_store serve ...`.

The process's registry commits nothing until the test sends SIGUSR1 (`ServerProcess.release_store`),
so "accepted but not stored yet" is true for as long as the test needs, whatever the
write-behind's window. Released, the held commit goes through (a SIGTERM flush waits for it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

RELEASE_SIGNAL = signal.SIGUSR1


def hold_the_store() -> None:
    import documents.server.runtime as runtime
    from documents.sync.store import HeldStore

    plain_store = runtime.DjangoStore  # a rename there fails this loudly, not silently
    held: list[tuple[asyncio.AbstractEventLoop, HeldStore]] = []
    released = False

    def release(*_signal) -> None:
        nonlocal released
        released = True
        for loop, store in held:
            loop.call_soon_threadsafe(store.release)

    def held_store(**options) -> HeldStore:
        store = HeldStore(plain_store(**options), held=not released)
        held.append((asyncio.get_running_loop(), store))
        return store

    signal.signal(RELEASE_SIGNAL, release)  # installed before serving: no signal kills us
    runtime.DjangoStore = held_store


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    hold_the_store()
    execute_from_command_line(["manage.py", *sys.argv[1:]])
