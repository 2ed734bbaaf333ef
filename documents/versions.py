"""Version history: named snapshots on demand, automatic ones while a document is edited, restore.

A version stores the whole document (one Yjs update) and the start of its text. Restoring never
rewinds history: it writes, as a new change on top of the live document, whatever turns the
document back into the version (documents.richtext.change), so connected editors see it like any
edit, undo history and later versions stay, and edits made meanwhile merge.

Automatic versions: background work of each server process (`take_automatic_versions`, started
by documents.server.background) looks at the open rooms every few seconds; a document whose
state changed gets a version COLLAB_AUTO_VERSION_MINUTES after its first unversioned edit (0
turns them off). It only reads state vectors on the loop; the snapshot is written to the
database in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from documents.db import in_db_thread
from documents.models import Document, DocumentVersion
from documents.richtext import formats
from documents.server import live_rooms
from documents.server.runtime import current_registry
from documents.storage import load_document_state

log = logging.getLogger("collab.versions")

PREVIEW_CHARS = 200


def preview_of(state: bytes | None) -> str:
    text = formats.render(state, "text")
    text = " ".join(line for line in text.splitlines() if line.strip())
    return text[:PREVIEW_CHARS]


def create_version(
    document: Document, *, name: str = "", author=None, automatic: bool = False
) -> DocumentVersion:
    """Snapshot the live document (edits not yet flushed included)."""
    state = live_rooms.document_state(str(document.pk))
    return save_version(document.pk, state, name=name, author=author, automatic=automatic)


class VersionLimitReached(Exception):
    """The document has COLLAB_MAX_VERSIONS_PER_DOCUMENT named versions: none can be added."""


def save_version(
    document_id, state: bytes, *, name: str = "", author=None, automatic: bool = False
) -> DocumentVersion | None:
    """Store a version. At COLLAB_MAX_VERSIONS_PER_DOCUMENT the oldest automatic versions make
    room; if every version is named, a named one is refused (VersionLimitReached) and an
    automatic one is not taken."""
    with transaction.atomic():
        if not _make_room(document_id):
            if automatic:
                log.info("document %s: version limit reached, no automatic version", document_id)
                return None
            raise VersionLimitReached(document_id)
        return DocumentVersion.objects.create(
            document_id=document_id,
            name=name,
            author=author,
            automatic=automatic,
            state=state,
            preview=preview_of(state),
        )


def _make_room(document_id) -> bool:
    limit = settings.COLLAB_MAX_VERSIONS_PER_DOCUMENT
    if not limit:
        return True
    versions = DocumentVersion.objects.filter(document_id=document_id)
    excess = versions.count() - limit + 1
    if excess <= 0:
        return True
    oldest = list(
        versions.filter(automatic=True).order_by("created_at", "id").values_list("id", flat=True)
    )[:excess]
    if len(oldest) < excess:
        return False
    DocumentVersion.objects.filter(id__in=oldest).delete()
    return True


def restore_version(version: DocumentVersion) -> bool:
    """Make the live document equal to `version` for everyone; False if it already was."""
    return live_rooms.replace_content(str(version.document_id), bytes(version.state))


# -- automatic versions ---------------------------------------------------------------------------
def _save_automatic(document_id: str, state: bytes | None, period: float) -> None:
    if state is None:
        state = load_document_state(document_id)
    if not state or not Document.objects.filter(pk=document_id).exists():
        return
    recent = timezone.now() - timedelta(seconds=period / 2)
    if DocumentVersion.objects.filter(document_id=document_id, created_at__gte=recent).exists():
        return  # another process (or a person) just took one
    save_version(document_id, state, name="Automatic version", automatic=True)


class AutoVersions:
    """Watches the rooms of the running loop's registry and snapshots the ones being edited."""

    def __init__(self, minutes: float) -> None:
        self.period = minutes * 60
        self.tick = min(30.0, max(self.period / 6, 0.2))
        self._seen: dict[str, bytes] = {}
        self._dirty_since: dict[str, float] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self.check(time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("automatic versions: check failed")

    async def check(self, now: float) -> None:
        registry = current_registry()  # None until the first socket
        rooms = dict(registry.rooms) if registry is not None else {}
        for name, room in rooms.items():
            state_vector = room.doc.get_state()
            previous = self._seen.get(name)
            self._seen[name] = state_vector
            if previous is not None and previous != state_vector:
                self._dirty_since.setdefault(name, now)
        for name in [n for n in self._seen if n not in rooms]:
            del self._seen[name]
        due = [n for n, since in self._dirty_since.items() if now - since >= self.period]
        for name in due:
            del self._dirty_since[name]
            room = rooms.get(name)
            state = room.doc.get_update() if room is not None else None
            await in_db_thread(_save_automatic)(name, state, self.period)


async def take_automatic_versions() -> None:
    """Background work of a server process (documents.server.background)."""
    minutes = settings.COLLAB_AUTO_VERSION_MINUTES
    if minutes > 0:
        await AutoVersions(minutes).run()
