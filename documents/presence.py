"""Who is connected now, to which document, on which process: the admin's "connected now" page.

The consumer calls `joined` once a socket is in its room and `left` when it goes; both write one
row in a worker thread, after the join (never on the relay path). Each process renews the
`seen_at` of its rows every RENEW_SECONDS, and the admin shows only recently renewed rows, so a
process killed without cleaning up disappears from the page; its rows are deleted later by any
live process. A process starting under the id of a previous one (a restarted container keeps its
host name and often its pid) first deletes that one's rows.

The first socket on an event loop is also when a server process starts its background work on
that loop (automatic versions).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import weakref
from datetime import timedelta

from django.utils import timezone

from documents import versions
from documents.db import in_db_thread
from documents.models import LiveConnection
from documents.runtime import get_registry

log = logging.getLogger("collab.presence")

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
RENEW_SECONDS = 30
STALE_AFTER = timedelta(seconds=RENEW_SECONDS * 3)

_started: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_background: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones


def live_rows():
    """Connections renewed recently by a live process."""
    return LiveConnection.objects.filter(seen_at__gte=timezone.now() - STALE_AFTER)


def record_join(document_id: str, user_id, role: str, address: str) -> int:
    row = LiveConnection.objects.create(
        process_id=PROCESS_ID, document_id=document_id, user_id=user_id, role=role, address=address
    )
    return row.pk


def record_leave(row_id: int) -> None:
    LiveConnection.objects.filter(pk=row_id).delete()


def forget_process(process_id: str = PROCESS_ID) -> None:
    LiveConnection.objects.filter(process_id=process_id).delete()


def renew(process_id: str = PROCESS_ID) -> None:
    now = timezone.now()
    LiveConnection.objects.filter(process_id=process_id).update(seen_at=now)
    LiveConnection.objects.filter(seen_at__lt=now - STALE_AFTER * 10).delete()


def joined(consumer) -> None:
    """A socket joined its room: record it in the background (the sync handshake goes on)."""
    registry = get_registry()
    loop = asyncio.get_running_loop()
    ready = _started.get(registry)
    if ready is None:
        ready = _started[registry] = loop.create_task(_start_background(registry))
    consumer.presence_task = loop.create_task(
        _record(
            ready,
            consumer.document_id,
            consumer.scope["user"].pk,
            consumer.client.role,
            consumer.client_address,
        )
    )


async def left(consumer) -> None:
    """The socket is gone: forget its row (once it has been written)."""
    task = getattr(consumer, "presence_task", None)
    consumer.presence_task = None
    if task is None:
        return
    try:
        row_id = await task
        if row_id is not None:
            await in_db_thread(record_leave)(row_id)
    except Exception:
        log.warning("could not forget a connection (it fades out of the admin)", exc_info=True)


async def _record(ready: asyncio.Task, document_id, user_id, role, address) -> int | None:
    try:
        await asyncio.shield(ready)
        return await in_db_thread(record_join)(document_id, user_id, role, address)
    except Exception:
        log.warning("could not record a connection (the admin will not list it)", exc_info=True)
        return None


async def _start_background(registry) -> None:
    """Once per loop: drop rows a previous process left under our id; start periodic work."""
    loop = asyncio.get_running_loop()
    _background.add(loop.create_task(_renew_forever()))
    versions.watch(registry)
    await in_db_thread(forget_process)()


async def _renew_forever() -> None:
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        try:
            await in_db_thread(renew)()
        except Exception:
            log.warning("could not renew this process's connection rows", exc_info=True)
