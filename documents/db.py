"""Database calls from async code, on a pool of threads.

Channels' `database_sync_to_async` is thread-sensitive by default: every database call of the
process runs on ONE thread, one after another, so a compaction or a slow commit makes every
sign-in and every room load wait behind it. Our database work is independent per call (each
opens its own transaction), so it runs on the loop's thread pool instead; each pool thread
keeps its own connection.
"""

from functools import partial

from channels.db import database_sync_to_async

in_db_thread = partial(database_sync_to_async, thread_sensitive=False)
