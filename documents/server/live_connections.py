"""Who is connected now, to which document, on which process: the admin's "connected now" page.

The consumer calls `joined` once a socket is in its room and `left` when it goes. Neither
touches the database: a background task writes what changed every WRITE_SECONDS, all joins in
one INSERT and all departures in one DELETE (a row per socket, written one transaction each, was
most of what a reconnect storm of 1,500 clients waited for). A socket that comes and goes
between two writes is never written at all. Each process renews the
`seen_at` of its rows every RENEW_SECONDS (`keep_rows_renewed`, background work of the
process: documents.server.background), and the admin shows only recently renewed rows, so a
process killed without cleaning up disappears from the page; its rows are deleted
FORGOTTEN_AFTER later by the retention jobs of any live process (documents.retention). A process
starting under the id of a previous one (a restarted container keeps its host name and often its
pid) first deletes that one's rows, before it writes or renews any.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import weakref
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from documents.db import in_db_thread
from documents.models import LiveConnection
from documents.scoped_tokens import is_scoped
from documents.server.runtime import get_registry

log = logging.getLogger("collab.presence")

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"
RENEW_SECONDS = 30
WRITE_SECONDS = 0.5
STALE_AFTER = timedelta(seconds=RENEW_SECONDS * 3)
# Deleted only well after the admin stopped showing them: a process whose renewal is late (a slow
# database) must not lose the rows of sockets it still holds.
FORGOTTEN_AFTER = STALE_AFTER * 10


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
                    label=entry.label,
                    credential=entry.credential,
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
    LiveConnection.objects.filter(process_id=process_id).update(seen_at=timezone.now())


def forgotten_rows():
    """Rows no live process has renewed for FORGOTTEN_AFTER (their process is gone)."""
    return LiveConnection.objects.filter(seen_at__lt=timezone.now() - FORGOTTEN_AFTER)


@dataclass(eq=False)
class LiveEntry:
    document_id: str
    user_id: int | None  # None: a document token or JWT (no account)
    role: str
    address: str
    label: str = ""  # the document token's label or the JWT's sub
    credential: str = ""  # the document token's id, or the JWT's digest
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
    changes = _changes.setdefault(registry, _Changes())
    user = consumer.scope["user"]
    scoped = is_scoped(user)
    entry = LiveEntry(
        consumer.document_id,
        user.pk,
        consumer.client.role,
        consumer.client_address,
        label=user.label if scoped else "",
        credential=user.credential if scoped else "",
    )
    consumer.presence_entry = entry
    changes.joined.append(entry)
    if changes.writer is None or changes.writer.done():
        changes.writer = loop.create_task(_write_soon(changes))


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
        changes.writer = asyncio.get_running_loop().create_task(_write_soon(changes))


async def _write_soon(changes: _Changes) -> None:
    """Write the batch after WRITE_SECONDS; keep writing while sockets come and go."""
    await _previous_process_forgotten()
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


_forgetting: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per event loop


async def _previous_process_forgotten() -> None:
    """Delete the rows a previous process left under our id, once per loop, before this loop
    writes or renews any (else ours would be deleted, or theirs renewed)."""
    loop = asyncio.get_running_loop()
    forgetting = _forgetting.get(loop)
    if forgetting is None:
        forgetting = _forgetting[loop] = loop.create_task(_forget_previous_process())
    await asyncio.shield(forgetting)


async def _forget_previous_process() -> None:
    try:
        await in_db_thread(forget_process)()
    except Exception:
        log.warning("could not delete a previous process's connection rows", exc_info=True)


async def keep_rows_renewed() -> None:
    """Background work (documents.server.background): renew this process's rows for as long as
    it serves, so that the admin keeps showing them."""
    await _previous_process_forgotten()
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        try:
            await in_db_thread(renew)()
        except Exception:
            log.warning("could not renew this process's connection rows", exc_info=True)
