"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


# A probe's answer comes within this: load balancers give up after a few seconds, and requests
# wait for a pooled connection far longer (COLLAB_DB_POOL_TIMEOUT).
PROBE_SECONDS = 2


def _database_ok() -> str | None:
    pool = getattr(connection, "pool", None)  # Postgres' pool; SQLite has none
    try:
        if pool is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        else:
            pool.open()  # Django opens it lazily, at the first query
            with pool.connection(timeout=PROBE_SECONDS) as pooled:
                pooled.execute("SELECT 1")
    except Exception as exc:
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def _redis_ok() -> str | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
        client.close()
    except Exception as exc:
        return f"redis unreachable: {exc.__class__.__name__}"
    return None


def readyz(request):
    problems = [p for p in (_database_ok(), _redis_ok()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "detail": "; ".join(problems)}, status=503)
    return JsonResponse({"status": "ready"})
