"""Database calls from async code, on a pool of threads.

Channels' `database_sync_to_async` is thread-sensitive by default: every database call of the
process runs on ONE thread, one after another, so a compaction or a slow commit makes every
sign-in and every room load wait behind it. Our database work is independent per call (each
opens its own transaction), so it runs on the loop's thread pool instead; each pool thread
keeps its own connection. The pool is our own, sized by COLLAB_DB_THREADS: asyncio's default
pool has min(32, cores + 4) threads, 6 on two cores, and a reconnect storm queued its
authorizations and room loads behind them while the threads mostly waited on the database.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from functools import partial

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.dateparse import parse_datetime

DB_EXECUTOR = ThreadPoolExecutor(
    max_workers=settings.COLLAB_DB_THREADS, thread_name_prefix="collab-db"
)

in_db_thread = partial(database_sync_to_async, thread_sensitive=False, executor=DB_EXECUTOR)


def aware(value):
    """A datetime as the ORM would hand it back from raw SQL: SQLite's driver gives naive UTC
    datetimes (or text), Postgres aware ones; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
