"""`manage.py apply_retention`: delete now what is past its retention (documents.retention).

Every server process does the same by itself every COLLAB_RETENTION_INTERVAL_SECONDS; this is
for deployments that turned that off (0), and for a first clean-up of a large backlog.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from documents.retention import apply_retention


class Command(BaseCommand):
    help = "Delete expired sessions, sign-in records and connection rows; compact idle logs."

    def handle(self, *args, **options):
        deleted = apply_retention()
        if deleted is None:
            self.stdout.write("Another process is applying retention right now; nothing done.")
            return
        for table, rows in deleted.items():
            self.stdout.write(f"{table}: {rows} deleted")
