"""DjangoStore: the persistence seam on the Django ORM (SQLite or Postgres).

An update log (DocumentUpdate) plus snapshots (DocumentSnapshot). Invariants that make it safe
with many processes writing and compacting at once:
- compaction folds the latest snapshot and an explicit set of log rows into a new snapshot and
  deletes only the rows that snapshot provably contains (documents.sync.causal): a row whose
  dependencies are not stored yet stays in the log, however long it waits. All of it happens in
  one transaction, under a row lock on the document, so two compactions never interleave;
- loading reads the log rows first and the latest snapshot second: a compaction that commits in
  between is then seen through its snapshot, so a row folded away is never missed.
Every method runs its database work in a worker thread (never on the event loop).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from documents.db import aware, in_db_thread
from documents.models import Document, DocumentSnapshot, DocumentUpdate
from documents.sync.causal import fold_causally
from documents.sync.store import StoredDocument, load_from

log = logging.getLogger("collab.storage")


class WaitingUpdates:
    """Stored updates that wait for dependencies, as this process last saw them (loads and
    compactions): the metric `collab_storage_waiting_updates` and a log line past the bound.

    Waiting a moment is normal (another process commits the dependency within its flush
    window, or a client resends it on reconnect); waiting long means a holder of the missing
    edit is gone, and `manage.py check_documents` names the documents."""

    def __init__(self) -> None:
        self.by_document: dict[str, tuple[int, float]] = {}  # name -> (rows, oldest unix time)

    def seen(self, name: str, created: Sequence[datetime]) -> None:
        if not created:
            self.by_document.pop(name, None)
            return
        oldest = min(created).timestamp()
        self.by_document[name] = (len(created), oldest)
        age = time.time() - oldest
        if age > settings.COLLAB_WAITING_WARN_SECONDS:
            log.warning(
                "document %s: %d stored updates have waited %.0f s for updates they depend on "
                "(they are kept; run `manage.py check_documents`)",
                name,
                len(created),
                age,
            )

    def totals(self) -> tuple[int, float]:
        """Rows waiting in all documents seen, and the oldest one's age in seconds."""
        if not self.by_document:
            return 0, 0.0
        rows = sum(count for count, _ in self.by_document.values())
        oldest = min(oldest for _, oldest in self.by_document.values())
        return rows, max(0.0, time.time() - oldest)


WAITING = WaitingUpdates()


def _document_ids(names: Iterable[str]) -> list[uuid.UUID]:
    return [uuid.UUID(name) for name in names]


class DjangoStore:
    def __init__(self, compact_after_updates: int = 500) -> None:
        self.compact_after_updates = compact_after_updates

    async def load(self, name: str) -> StoredDocument:
        return await in_db_thread(self._load)(name)

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        await in_db_thread(append_updates)(batch)

    async def compact(self, names: Iterable[str]) -> None:
        await in_db_thread(self._compact_all)(list(names))

    def _compact_all(self, names: list[str]) -> None:
        for name in names:
            compact_document(name)

    def _load(self, name: str) -> StoredDocument:
        """A log longer than the bound (written by a process that died before compacting, or
        by many writers) is compacted on the way: later loads are one snapshot."""
        snapshot, rows = stored_rows(name)
        if len(rows) > self.compact_after_updates:
            compact_document(name)
            snapshot, rows = stored_rows(name)
        return _stored_document(name, snapshot, rows)


_UPDATES = DocumentUpdate._meta.db_table


def stored_rows(name: str) -> tuple[bytes | None, list[tuple[int, bytes, datetime]]]:
    """The latest snapshot (or None) and the log rows (id, data, created_at) in id order. The
    rows are read first (see the module's invariants). SQL rather than the ORM: building the
    two queries cost more CPU than running them, once per room load of a reconnect storm."""
    document_key = Document._meta.pk.get_db_prep_value(uuid.UUID(name), connection)
    with connection.cursor() as cursor:
        cursor.execute(_LOG_ROWS, [document_key])
        rows = [
            (row_id, bytes(data), aware(created_at))
            for row_id, data, created_at in cursor.fetchall()
        ]
        cursor.execute(_LATEST_SNAPSHOT, [document_key])
        snapshot = cursor.fetchone()
    return (bytes(snapshot[0]) if snapshot is not None else None), rows


_LOG_ROWS = f"SELECT id, data, created_at FROM {_UPDATES} WHERE document_id = %s ORDER BY id"
_LATEST_SNAPSHOT = (
    f"SELECT data FROM {DocumentSnapshot._meta.db_table} WHERE document_id = %s"
    " ORDER BY id DESC LIMIT 1"
)


def _stored_document(name: str, snapshot: bytes | None, rows) -> StoredDocument:
    stored = load_from([data for _, data, _ in rows], snapshot=snapshot)
    waiting = set(stored.waiting)
    WAITING.seen(name, [created for _, data, created in rows if data in waiting])
    return stored


def load_stored_document(name: str) -> StoredDocument:
    return _stored_document(name, *stored_rows(name))


def load_document_state(name: str) -> bytes | None:
    """The document as it stands in storage: everything stored that integrates. Updates that
    still wait for their dependencies are not in it (they stay in the log)."""
    return load_stored_document(name).state


def append_updates(batch: Mapping[str, Sequence[bytes]]) -> None:
    """One transaction for the whole batch. Updates of deleted documents are dropped."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _append_on_postgres(cursor, batch, timezone.now())
        else:
            _append_portably(cursor, batch, timezone.now())


def _append_on_postgres(cursor, batch: Mapping[str, Sequence[bytes]], now: datetime) -> None:
    """Two statements for any batch, both encoded by psycopg's C code: touching updated_at
    also names the documents that still exist, and the rows go in as one binary COPY. The
    portable path cost the committing thread about 25 us of CPU per row
    (bench/storage_append.py), and that thread's share of the GIL is what the relay loses at
    thousands of updates per second."""
    cursor.execute(_TOUCH_EXISTING, [now, _document_ids(batch)])
    existing = {row[0] for row in cursor.fetchall()}
    with cursor.copy(_COPY_UPDATES) as copy:
        copy.set_types(["uuid", "bytea", "timestamptz"])
        for name, updates in batch.items():
            if (doc_id := uuid.UUID(name)) in existing:
                for update in updates:
                    copy.write_row((doc_id, update, now))


def _append_portably(cursor, batch: Mapping[str, Sequence[bytes]], now: datetime) -> None:
    existing = set(
        Document.objects.filter(id__in=_document_ids(batch)).values_list("id", flat=True)
    )
    created_at = _prepare("created_at", now)  # prepared once per batch and per document,
    rows = [  # not per row: 3 ORM conversions per row were a visible share of the GIL
        (document, _prepare("data", update), created_at)
        for name, updates in batch.items()
        if (doc_id := uuid.UUID(name)) in existing
        for document in [_prepare("document", doc_id)]
        for update in updates
    ]
    # One INSERT executed for many rows: the ORM's per-row model instances and signals were
    # a third of the server's CPU at a few thousand updates per second.
    cursor.executemany(_INSERT_UPDATE, rows)
    Document.objects.filter(id__in=existing).update(updated_at=now)


_INSERT_UPDATE = f"INSERT INTO {_UPDATES} (document_id, data, created_at) VALUES (%s, %s, %s)"
_COPY_UPDATES = f"COPY {_UPDATES} (document_id, data, created_at) FROM STDIN (FORMAT BINARY)"
_TOUCH_EXISTING = (
    f"UPDATE {Document._meta.db_table} SET updated_at = %s WHERE id = ANY(%s) RETURNING id"
)


def _prepare(field_name: str, value):
    field = DocumentUpdate._meta.get_field(field_name)
    if field.is_relation:
        field = field.target_field
    return field.get_db_prep_value(value, connection, prepared=False)


def compact_document(name: str) -> int:
    """Fold the latest snapshot and the log into a new snapshot; delete only the rows that
    snapshot provably contains (see the module's invariants). Returns how many it deleted."""
    with transaction.atomic():
        if not Document.objects.select_for_update(no_key=True).filter(id=name).exists():
            return 0
        rows = list(
            DocumentUpdate.objects.filter(document_id=name)
            .order_by("id")
            .values_list("id", "data", "created_at")
        )
        if not rows:
            return 0
        latest = DocumentSnapshot.objects.filter(document_id=name).order_by("-id").first()
        folded = fold_causally(
            [bytes(data) for _, data, _ in rows],
            base=bytes(latest.data) if latest is not None else None,
        )
        WAITING.seen(name, [rows[index][2] for index in folded.waiting])
        contained_ids = [rows[index][0] for index in folded.contained()]
        if not contained_ids:
            return 0
        snapshot = DocumentSnapshot.objects.create(
            document_id=name,
            data=folded.state(),
            state_vector=folded.doc.get_state(),
            upto_update_id=max(contained_ids),
        )
        deleted, _ = DocumentUpdate.objects.filter(id__in=contained_ids).delete()
        DocumentSnapshot.objects.filter(document_id=name).exclude(id=snapshot.id).delete()
        return deleted
