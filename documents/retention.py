"""What the database keeps, and for how long (docs/self-hosting.md, "What the database keeps").

Every table that grows with traffic and has no bound of its own has a job in JOBS that deletes
what is past its retention: batches of at most BATCH_ROWS rows, each its own short transaction,
so no lock is held for long, no transaction grows with the backlog, and a stop takes effect
between two batches. Each server process runs the jobs every COLLAB_RETENTION_INTERVAL_SECONDS
(`apply_periodically`, background work started by documents.server.background), and
`manage.py apply_retention` runs them once. On Postgres an advisory lock lets one process at a
time run them (the others skip that round); the deletes are idempotent anyway, so runs that
overlap (SQLite has no such lock; `apply_retention` beside a server) delete each row once.

A table joins with one line in JOBS, usually `Job(name, rows_older_than(...))`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.helpers import get_cool_off
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connection
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from documents.db import in_db_thread
from documents.models import DocumentSnapshot, DocumentToken, DocumentUpdate, LiveConnection
from documents.server.live_connections import FORGOTTEN_AFTER
from documents.server.metrics import retention_deleted
from documents.storage import compact_document

log = logging.getLogger("collab.retention")

# A batch's row locks last as long as its DELETE. Measured on Postgres (2 cores, shared): 100,000
# expired sessions in 100 batches, 2.9 s, a batch 21 ms (median; the slowest 156 ms). Folding
# 500 idle logs of 200 rows: 5.6 s, 9 ms per document (each under its row lock).
BATCH_ROWS = 1000
DOCUMENTS_PER_QUERY = 100
# Any constant of our own: the key of Postgres' advisory lock that one process holds while it
# applies retention (pg_try_advisory_lock's bigint key space is shared by the whole database).
ADVISORY_LOCK_KEY = 0x636F6C6C61620001  # "collab", 1
# The first run comes soon after a start, not a whole interval later: a deployment restarted
# more often than COLLAB_RETENTION_INTERVAL_SECONDS would otherwise never run one.
FIRST_RUN_AFTER_SECONDS = 300


@dataclass(frozen=True)
class Job:
    table: str  # what the log line and the metric call it
    batches: Callable[[], Iterator[int]]  # deletes batch by batch; yields rows deleted by each


def rows_older_than(model, field: str, age: Callable[[], timedelta | None]):
    """Batches deleting the rows of `model` whose `field` is older than `age()` (None: keep
    everything). The condition is checked again by the DELETE itself, so a row renewed since it
    was selected stays."""

    def batches() -> Iterator[int]:
        keep_for = age()
        if keep_for is None:
            return
        while True:
            expired = model._default_manager.filter(
                **{f"{field}__lt": timezone.now() - keep_for}
            ).order_by()
            ids = list(expired.values_list("pk", flat=True)[:BATCH_ROWS])
            if not ids:
                return
            _, by_model = expired.filter(pk__in=ids).delete()
            yield by_model.get(model._meta.label, 0)
            if len(ids) < BATCH_ROWS:
                return

    return batches


def fold_idle_logs() -> Iterator[int]:
    """Compact every document whose update log has rows older than
    COLLAB_COMPACT_LOG_AFTER_MINUTES that no compaction has seen yet, whether or not any process
    has it open. A process compacts what it writes once COLLAB_COMPACT_AFTER_UPDATES rows pile
    up, so without this a document edited a little and never opened again keeps its log, and
    one written by several processes keeps up to that many rows per process. Each document is
    its own transaction under its row lock (storage.compact_document, safe beside any other
    compaction); rows that wait for missing dependencies stay, and are not folded again."""
    cutoff = timezone.now() - timedelta(minutes=settings.COLLAB_COMPACT_LOG_AFTER_MINUTES)
    after = None
    while True:
        document_ids = _documents_with_unfolded_rows(cutoff, after)
        for document_id in document_ids:
            yield compact_document(str(document_id))
        if len(document_ids) < DOCUMENTS_PER_QUERY:
            return
        after = document_ids[-1]


def _documents_with_unfolded_rows(cutoff: datetime, after) -> list:
    """Documents, in id order after `after`, with log rows older than `cutoff` and newer than
    what their snapshot contains."""
    folded_up_to = (
        DocumentSnapshot.objects.filter(document=OuterRef("document"))
        .order_by("-upto_update_id")
        .values("upto_update_id")[:1]
    )
    rows = (
        DocumentUpdate.objects.filter(created_at__lt=cutoff)
        .annotate(folded_up_to=Coalesce(Subquery(folded_up_to), Value(0)))
        .filter(id__gt=F("folded_up_to"))
    )
    if after is not None:
        rows = rows.filter(document_id__gt=after)
    return list(
        rows.order_by("document_id")
        .values_list("document_id", flat=True)
        .distinct()[:DOCUMENTS_PER_QUERY]
    )


def _expired_sessions() -> Iterator[int]:
    """Sessions past their expiry (COLLAB_SESSION_DAYS after the last sign-in or change); with
    a session engine that does not keep them in the database, its own clear_expired()."""
    engine = importlib.import_module(settings.SESSION_ENGINE).SessionStore
    model = engine.get_model_class() if hasattr(engine, "get_model_class") else None
    if model is None or not issubclass(model, Session):
        engine.clear_expired()
        return
    yield from rows_older_than(model, "expire_date", lambda: timedelta(0))()


def _signin_log_days() -> timedelta:
    return timedelta(days=settings.COLLAB_SIGNIN_LOG_DAYS)


JOBS: list[Job] = [
    Job("sessions", _expired_sessions),
    # django-axes deletes expired attempts only when someone signs in; a burst of failures that
    # nobody follows would stay.
    Job("sign-in attempts", rows_older_than(AccessAttempt, "attempt_time", get_cool_off)),
    Job("sign-in log", rows_older_than(AccessLog, "attempt_time", _signin_log_days)),
    Job("sign-in failure log", rows_older_than(AccessFailureLog, "attempt_time", _signin_log_days)),
    Job("connection rows", rows_older_than(LiveConnection, "seen_at", lambda: FORGOTTEN_AFTER)),
    # A product may mint one per page view; each lasts at most 30 days, then nothing reads it.
    Job(
        "expired document tokens",
        rows_older_than(DocumentToken, "expires_at", lambda: timedelta(0)),
    ),
    Job("update log", fold_idle_logs),
]


def apply_retention(stopping: threading.Event | None = None) -> dict[str, int] | None:
    """Run every job once: the rows each deleted, or None if another process is running them.
    A job that fails is logged and the others still run; `stopping` ends the run between two
    batches."""
    with _one_process_at_a_time() as ours:
        if not ours:
            log.debug("retention: another process is applying it")
            return None
        started = time.monotonic()
        deleted = {job.table: 0 for job in JOBS}
        for job in JOBS:
            if stopping is not None and stopping.is_set():
                break
            try:
                for rows in job.batches():
                    deleted[job.table] += rows
                    retention_deleted(job.table, rows)
                    if stopping is not None and stopping.is_set():
                        break
            except Exception:
                log.warning("retention: %s failed (tried again next run)", job.table, exc_info=True)
        if any(deleted.values()):
            log.info(
                "retention: deleted %s in %.1f s%s",
                ", ".join(f"{rows} {table}" for table, rows in deleted.items() if rows),
                time.monotonic() - started,
                " (stopped before the end)" if stopping is not None and stopping.is_set() else "",
                extra={"deleted": deleted},
            )
        return deleted


@contextlib.contextmanager
def _one_process_at_a_time():
    """Postgres: True if this connection got the advisory lock (held until the block ends).
    Elsewhere always True. A session lock, not a transaction's: every batch commits on its own."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        ours = cursor.fetchone()[0]
    try:
        yield ours
    finally:
        if ours:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                # a lost connection released it already
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])


async def apply_periodically() -> None:
    """Background work of a server process (documents.server.background): apply retention soon
    after the start, then every COLLAB_RETENTION_INTERVAL_SECONDS, give or take a tenth (so
    processes started together drift apart); 0 turns it off."""
    interval = settings.COLLAB_RETENTION_INTERVAL_SECONDS
    if interval <= 0:
        return
    stopping = threading.Event()
    delay = min(interval, FIRST_RUN_AFTER_SECONDS) * random.uniform(0.5, 1.0)
    try:
        while True:
            await asyncio.sleep(delay)
            try:
                await in_db_thread(apply_retention)(stopping)
            except Exception:
                log.warning("retention: the run failed (tried again next run)", exc_info=True)
            delay = interval * random.uniform(0.9, 1.1)
    finally:
        # Cancelled (the graceful stop): a run still in its worker thread ends after the batch
        # in progress. Else the process's exit waits for the whole run: SIGTERM during a run
        # over 200,000 expired sessions exited after 10.6 s instead of 0.2 s.
        stopping.set()
