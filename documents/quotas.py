"""Per-user quotas: documents owned and bytes stored. Each is a setting; 0 turns it off.

Stored bytes are a document owner's: the update log, the snapshots and the versions of every
document they own. They are checked where the API makes a document or stores an update or
content sent over HTTP; socket edits are bounded per document by COLLAB_MAX_DOCUMENT_BYTES
instead.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import Length

from documents.api.errors import QuotaExceeded
from documents.models import Document, DocumentSnapshot, DocumentUpdate, DocumentVersion


def stored_bytes_of(user) -> int:
    total = 0
    for model, field in (
        (DocumentUpdate, "data"),
        (DocumentSnapshot, "data"),
        (DocumentVersion, "state"),
    ):
        size = model.objects.filter(document__owner=user).aggregate(size=Sum(Length(field)))
        total += size["size"] or 0
    return total


def check_stored_bytes(owner, adding: int = 0) -> None:
    limit = settings.COLLAB_MAX_STORED_BYTES_PER_USER
    if limit and stored_bytes_of(owner) + adding > limit:
        raise QuotaExceeded(
            f"the owner's documents would pass their storage quota of {limit} bytes "
            "(COLLAB_MAX_STORED_BYTES_PER_USER)"
        )


def check_can_create_document(user) -> None:
    limit = settings.COLLAB_MAX_DOCUMENTS_PER_USER
    if limit and Document.objects.filter(owner=user).count() >= limit:
        raise QuotaExceeded(
            f"you own {limit} documents, the most allowed (COLLAB_MAX_DOCUMENTS_PER_USER)"
        )
    check_stored_bytes(user)
