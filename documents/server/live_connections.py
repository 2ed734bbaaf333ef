"""Who is connected now, to which document, on which process: the admin's "connected now" page.

The consumer calls `joined` once a socket is in its room and `left` when it goes. Neither
touches the database: a background task writes what changed every WRITE_SECONDS, all joins in
one INSERT and all departures in one DELETE (a row per socket, written one transaction each, was
most of what a reconnect storm of 1,500 clients waited for). A socket that comes and goes
between two writes is never written at all. Each process renews the
`seen_at` of its rows every RENEW_SECONDS, and the admin shows only recently renewed rows, so a
process killed without cleaning up disappears from the page; its rows are deleted later by any
live process. A process starting under the id of a previous one (a restarted container keeps its
host name and often its pid) first deletes that one's rows.

The first socket on an event loop is also when a server process starts its background work on
that loop (automatic versions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import weakref
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from documents import versions
from documents.db import in_db_thread
from documents.models import LiveConnection
from documents.server.runtime import get_registry

log = logging.getLogger("collab.presence")

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
RENEW_SECONDS = 30
WRITE_SECONDS = 0.5
STALE_AFTER = timedelta(seconds=RENEW_SECONDS * 3)

_started: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_background: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones


def live_rows():
    """Connections renewed recently by a live process."""
    return LiveConnection.objects.filter(seen_at__gte=timezone.now() - STALE_AFTER)


def write_changes(joined: list[LiveEntry], left_row_ids: list[int]) -> None:
    """One transaction for what changed since the last write."""
    with transaction.atomic():
        rows = LiveConnection.objects.bulk_create(
            [
                LiveConnection(
                    process_id=PROCESS_ID,
                    document_id=entry.document_id,
                    user_id=entry.user_id,
                    role=entry.role,
                    address=entry.address,
                )
                for entry in joined
            ]
        )
        for entry, row in zip(joined, rows, strict=True):
            entry.row_id = row.pk
        if left_row_ids:
            LiveConnection.objects.filter(pk__in=left_row_ids).delete()


def forget_process(process_id: str = PROCESS_ID) -> None:
    LiveConnection.objects.filter(process_id=process_id).delete()


def renew(process_id: str = PROCESS_ID) -> None:
    now = timezone.now()
    LiveConnection.objects.filter(process_id=process_id).update(seen_at=now)
    LiveConnection.objects.filter(seen_at__lt=now - STALE_AFTER * 10).delete()


@dataclass(eq=False)
class LiveEntry:
    document_id: str
    user_id: int
    role: str
    address: str
    row_id: int | None = None
    gone: bool = False


@dataclass
class _Changes:
    joined: list[LiveEntry] = field(default_factory=list)
    left_row_ids: list[int] = field(default_factory=list)
    writer: asyncio.Task | None = None


_changes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per registry (event loop)


def joined(consumer) -> None:
    """A socket joined its room: it is written with the next batch."""
    registry = get_registry()
    loop = asyncio.get_running_loop()
    if registry not in _started:
        _started[registry] = loop.create_task(_start_background(registry))
    changes = _changes.setdefault(registry, _Changes())
    entry = LiveEntry(
        consumer.document_id,
        consumer.scope["user"].pk,
        consumer.client.role,
        consumer.client_address,
    )
    consumer.presence_entry = entry
    changes.joined.append(entry)
    if changes.writer is None or changes.writer.done():
        changes.writer = loop.create_task(_write_soon(registry, changes))


async def left(consumer) -> None:
    """The socket is gone: its row is deleted with the next batch (or never written)."""
    entry = getattr(consumer, "presence_entry", None)
    consumer.presence_entry = None
    if entry is None:
        return
    entry.gone = True
    changes = _changes.get(get_registry())
    if changes is None:
        return
    if entry.row_id is not None:
        changes.left_row_ids.append(entry.row_id)
    elif entry in changes.joined:
        changes.joined.remove(entry)
    if changes.writer is None or changes.writer.done():
        changes.writer = asyncio.get_running_loop().create_task(_write_soon(None, changes))


async def _write_soon(registry, changes: _Changes) -> None:
    """Write the batch after WRITE_SECONDS; keep writing while sockets come and go."""
    if registry is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(_started[registry])  # a previous process's rows go first
    while changes.joined or changes.left_row_ids:
        await asyncio.sleep(WRITE_SECONDS)
        joined, changes.joined = changes.joined, []
        left_row_ids, changes.left_row_ids = changes.left_row_ids, []
        try:
            await in_db_thread(write_changes)(joined, left_row_ids)
        except Exception:
            log.warning("could not record connections (the admin lags behind)", exc_info=True)
            changes.joined[:0] = [entry for entry in joined if not entry.gone]
            changes.left_row_ids.extend(left_row_ids)
            continue
        # Sockets that left while their row was being written: delete it next time.
        changes.left_row_ids.extend(e.row_id for e in joined if e.gone and e.row_id is not None)


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
