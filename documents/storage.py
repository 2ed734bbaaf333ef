"""DjangoStore: the persistence seam on the Django ORM (SQLite or Postgres).

An update log (DocumentUpdate) plus snapshots (DocumentSnapshot). Invariants that make it safe
with many processes writing and compacting at once:
- compaction folds the latest snapshot and an explicit set of log rows into a new snapshot and
  deletes exactly those rows, in one transaction, under a row lock on the document, so that two
  compactions of one document never interleave;
- loading reads the log rows first and the latest snapshot second: a compaction that commits in
  between is then seen through its snapshot, so a row folded away is never missed.
Every method runs its database work in a worker thread (never on the event loop).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from django.db import connection, transaction
from django.utils import timezone
from pycrdt import Doc

from documents.db import in_db_thread
from documents.models import Document, DocumentSnapshot, DocumentUpdate
from documents.sync.store import fold_updates


def _document_ids(names: Iterable[str]) -> list[uuid.UUID]:
    return [uuid.UUID(name) for name in names]


class DjangoStore:
    def __init__(self, compact_after_updates: int = 500) -> None:
        self.compact_after_updates = compact_after_updates

    async def load(self, name: str) -> bytes | None:
        return await in_db_thread(self._load)(name)

    async def append(self, batch: Mapping[str, Sequence[bytes]]) -> None:
        await in_db_thread(append_updates)(batch)

    async def compact(self, names: Iterable[str]) -> None:
        await in_db_thread(self._compact_all)(list(names))

    def _compact_all(self, names: list[str]) -> None:
        for name in names:
            compact_document(name)

    def _load(self, name: str) -> bytes | None:
        """A log longer than the bound (written by a process that died before compacting, or
        by many writers) is compacted on the way: later loads are one snapshot."""
        pieces, from_snapshot = stored_updates(name)
        if len(pieces) > self.compact_after_updates + 1:
            compact_document(name)
            pieces, from_snapshot = stored_updates(name)
        return fold_updates(pieces, first_is_snapshot=from_snapshot) if pieces else None


def stored_updates(name: str) -> tuple[list[bytes], bool]:
    """Every stored piece of the document, in an order that loads it completely: the latest
    snapshot (if any) first, then the log; and whether the first piece is a snapshot."""
    rows = [
        bytes(data)
        for data in DocumentUpdate.objects.filter(document_id=name)
        .order_by("id")
        .values_list("data", flat=True)
    ]
    snapshot = (
        DocumentSnapshot.objects.filter(document_id=name)
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    )
    if snapshot is None:
        return rows, False
    return [bytes(snapshot), *rows], True


def load_document_state(name: str) -> bytes | None:
    pieces, from_snapshot = stored_updates(name)
    return fold_updates(pieces, first_is_snapshot=from_snapshot) if pieces else None


def append_updates(batch: Mapping[str, Sequence[bytes]]) -> None:
    """One transaction for the whole batch. Updates of deleted documents are dropped."""
    with transaction.atomic():
        existing = set(
            Document.objects.filter(id__in=_document_ids(batch)).values_list("id", flat=True)
        )
        now = timezone.now()
        rows = [
            (_prepare("document", doc_id), _prepare("data", update), _prepare("created_at", now))
            for name, updates in batch.items()
            if (doc_id := uuid.UUID(name)) in existing
            for update in updates
        ]
        # One INSERT executed for many rows: the ORM's per-row model instances and signals were
        # a third of the server's CPU at a few thousand updates per second.
        with connection.cursor() as cursor:
            cursor.executemany(_INSERT_UPDATE, rows)
        Document.objects.filter(id__in=existing).update(updated_at=now)


_INSERT_UPDATE = (
    f"INSERT INTO {DocumentUpdate._meta.db_table} (document_id, data, created_at) "
    "VALUES (%s, %s, %s)"
)


def _prepare(field_name: str, value):
    field = DocumentUpdate._meta.get_field(field_name)
    if field.is_relation:
        field = field.target_field
    return field.get_db_prep_value(value, connection, prepared=False)


def compact_document(name: str) -> None:
    """Fold the latest snapshot and the log into a new snapshot (see the module's invariants)."""
    with transaction.atomic():
        if not Document.objects.select_for_update(no_key=True).filter(id=name).exists():
            return
        rows = list(
            DocumentUpdate.objects.filter(document_id=name).order_by("id").values_list("id", "data")
        )
        if not rows:
            return
        latest = DocumentSnapshot.objects.filter(document_id=name).order_by("-id").first()
        pieces = ([bytes(latest.data)] if latest is not None else []) + [
            bytes(data) for _, data in rows
        ]
        doc = Doc()
        doc.apply_update(fold_updates(pieces, first_is_snapshot=latest is not None))
        folded_ids = [row_id for row_id, _ in rows]
        snapshot = DocumentSnapshot.objects.create(
            document_id=name,
            data=doc.get_update(),
            state_vector=doc.get_state(),
            upto_update_id=max(folded_ids),
        )
        DocumentUpdate.objects.filter(id__in=folded_ids).delete()
        DocumentSnapshot.objects.filter(document_id=name).exclude(id=snapshot.id).delete()
