"""What a WebSocket handshake's credential check costs: `handshake_access` (documents.access), the
one database-thread call that turns a handshake's credentials into (user, token, role), timed
for each kind of credential on an existing document.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/SOME_MIGRATED_DB \
        nice -n 19 .venv/bin/python bench/handshake_cost.py [--calls 3000]

It creates its own users, document and tokens, and deletes them at the end. Prints, per kind,
the median wall time and the mean CPU time of this process per call (the database's own work
runs in Postgres' process and counts only in the wall time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from django.test import Client  # noqa: E402

from documents.access import handshake_access  # noqa: E402
from documents.models import ApiToken, Document, Membership  # noqa: E402


def scope_with_token(token: str) -> dict:
    return {"query_string": f"token={token}".encode(), "headers": []}


def credentials(document, owner, member) -> dict[str, dict]:
    """A handshake scope per kind of credential."""
    client = Client()
    client.force_login(member)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    kinds = {
        "api token (member)": scope_with_token(ApiToken.issue(member)[1]),
        "api token (owner)": scope_with_token(ApiToken.issue(owner)[1]),
        "session cookie (member)": {"query_string": b"", "headers": [(b"cookie", cookie.encode())]},
    }
    kinds.update(scoped_credentials(document, owner))
    return kinds


def scoped_credentials(document, owner) -> dict[str, dict]:
    """Document-scoped tokens: minted by Collab, and a JWT signed by an embedding product."""
    try:
        from documents.models import DocumentToken
    except ImportError:  # a checkout from before document-scoped tokens
        return {}
    import jwt

    settings.COLLAB_JWT_SECRET = settings.COLLAB_JWT_SECRET or "bench-" + "x" * 32
    _, minted = DocumentToken.issue(document, role="editor", expires_in=3600, created_by=owner)
    claims = {"doc": str(document.pk), "role": "editor", "sub": "bench", "exp": time.time() + 3600}
    signed = jwt.encode(claims, settings.COLLAB_JWT_SECRET, algorithm="HS256")
    return {"document token": scope_with_token(minted), "jwt": scope_with_token(signed)}


def measure(scope: dict, document_id: str, calls: int) -> tuple[float, float]:
    """(median wall µs, mean CPU µs) per call."""
    for _ in range(50):
        handshake_access(scope, document_id)  # warm: connection, prepared statements, caches
    walls = []
    cpu_started = time.process_time()
    for _ in range(calls):
        started = time.perf_counter()
        user, _, role = handshake_access(scope, document_id)
        walls.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu_started
    assert user.is_authenticated and role, (user, role)
    return statistics.median(walls) * 1e6, cpu / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    calls = parser.parse_args().calls
    tag = uuid.uuid4().hex[:8]
    users = get_user_model().objects
    owner = users.create_user(f"bench-owner-{tag}")
    member = users.create_user(f"bench-member-{tag}")
    document = Document.objects.create(title="handshake bench", owner=owner)
    Membership.objects.create(document=document, user=member, role="editor")
    try:
        for kind, scope in credentials(document, owner, member).items():
            wall, cpu = measure(scope, str(document.pk), calls)
            print(f"{kind:26} median {wall:7.1f} µs wall, {cpu:7.1f} µs CPU per handshake")
    finally:
        document.delete()
        users.filter(pk__in=[owner.pk, member.pk]).delete()
        close_old_connections()


if __name__ == "__main__":
    main()
