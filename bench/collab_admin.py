"""Prepare a Collab database for the bench: user and token, documents, seeded edit history.

Runs in its own process with the server's environment (DATABASE_URL), the way an operator
would use `manage.py shell`; prints one JSON object on stdout.

    python bench/collab_admin.py recreate-postgres          # drop and create the bench database
    python bench/collab_admin.py token                      # {"token": ...}
    python bench/collab_admin.py documents N                # {"ids": [...]}
    python bench/collab_admin.py seed DOCUMENT_ID FILE      # one DocumentUpdate row per update
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")


def recreate_postgres() -> dict:
    """A fresh database named by DATABASE_URL (the bench owns it: it is dropped first)."""
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin_url = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return {"database": name}


def setup_django() -> None:
    import django

    django.setup()


def token() -> dict:
    from django.contrib.auth import get_user_model

    from documents.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username="bench")
    _, key = ApiToken.issue(user, name="bench")
    return {"token": key}


def documents(count: int) -> dict:
    from django.contrib.auth import get_user_model

    from documents.models import Document

    user = get_user_model().objects.get(username="bench")
    made = Document.objects.bulk_create(
        [Document(title=f"bench {n}", owner=user) for n in range(count)], batch_size=500
    )
    return {"ids": [str(document.id) for document in made]}


def seed(document_id: str, path: str) -> dict:
    """Store a history as the write-behind buffer would have: one log row per update."""
    from documents.models import DocumentUpdate

    data = Path(path).read_bytes()
    updates, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        updates.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    DocumentUpdate.objects.bulk_create(
        [DocumentUpdate(document_id=document_id, data=update) for update in updates],
        batch_size=5000,
    )
    return {"rows": len(updates)}


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    if command == "recreate-postgres":
        result = recreate_postgres()
    else:
        setup_django()
        if command == "token":
            result = token()
        elif command == "documents":
            result = documents(int(args[0]))
        elif command == "seed":
            result = seed(args[0], args[1])
        else:
            raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
