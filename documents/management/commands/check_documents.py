"""`manage.py check_documents`: does every stored document load completely?

A document loads completely when every stored update integrates: none waits for an update it
depends on that is not stored. Waiting a moment is normal while several processes commit; a
document still incomplete after COLLAB_WAITING_WARN_SECONDS has lost an edit's dependency (its
holders died before anyone stored it) and shows less than its editors wrote.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from documents.models import Document, DocumentUpdate
from documents.storage import load_stored_document


class Command(BaseCommand):
    help = "Verify that every stored document loads completely; name the ones that do not."

    def add_arguments(self, parser):
        parser.add_argument("documents", nargs="*", help="document ids (default: all)")

    def handle(self, *args, documents, **options):
        ids = documents or [str(pk) for pk in Document.objects.values_list("pk", flat=True)]
        incomplete = 0
        for document_id in ids:
            stored = load_stored_document(document_id)
            if stored.complete:
                continue
            incomplete += 1
            oldest = (
                DocumentUpdate.objects.filter(document_id=document_id)
                .order_by("created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            age = (timezone.now() - oldest).total_seconds() if oldest else 0
            self.stdout.write(
                f"{document_id}: {len(stored.waiting)} stored updates wait for updates they "
                f"depend on (oldest log row {age:.0f} s old)"
            )
        self.stdout.write(f"{len(ids) - incomplete} of {len(ids)} documents load completely")
        if incomplete:
            raise CommandError(f"{incomplete} documents do not load completely")
