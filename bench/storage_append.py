"""The write-behind's database cost: CPU that one commit of a batch holds on the server.

At thousands of updates per second the commit thread's share of the GIL slows the relay, so
what counts is CPU time on the committing thread (`time.thread_time`), not wall time. Each
round commits one batch shaped like a flush window under the many-rooms load (ROOMS documents,
UPDATES_PER_ROOM small updates each) through `documents.storage.append_updates`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/collab_bench \
        .venv/bin/python bench/storage_append.py [--rooms 200] [--updates 8] [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/collab_bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--updates", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from documents.models import Document, DocumentUpdate
    from documents.storage import append_updates

    call_command("migrate", verbosity=0)
    owner, _ = get_user_model().objects.get_or_create(username="bench-storage")
    names = [str(Document.objects.create(owner=owner).pk) for _ in range(args.rooms)]
    update = bytes(range(40))  # the size of one typed character's update, more or less
    batch = {name: [update] * args.updates for name in names}
    append_updates(batch)  # warm: connection, prepared statements

    cpu, wall = [], []
    for _ in range(args.rounds):
        started_cpu, started_wall = time.thread_time(), time.perf_counter()
        append_updates(batch)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started_wall) * 1000)
    rows = args.rooms * args.updates
    DocumentUpdate.objects.filter(document_id__in=names).delete()
    Document.objects.filter(pk__in=names).delete()
    print(
        json.dumps(
            {
                "rows_per_batch": rows,
                "documents_per_batch": args.rooms,
                "cpu_ms_median": round(statistics.median(cpu), 2),
                "wall_ms_median": round(statistics.median(wall), 2),
                "cpu_us_per_row": round(statistics.median(cpu) * 1000 / rows, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
