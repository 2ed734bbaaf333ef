"""Postgres connections: one bounded pool per process (Django's psycopg pool), and how a process
comes back by itself after the database restarts.

Why a pool: under an ASGI server Django runs each request's sync code in a fresh thread, and a
persistent connection is kept per thread. With `CONN_MAX_AGE=60`, 90 sequential API requests
left 90 connections open, and 600 requests beside 30 sockets got 157 answers of 500 ("too many
clients already"); with `CONN_MAX_AGE=0` every database call connects anew, and a join storm of
1,500 clients took 11.7 s to sync instead of 3.9 s. With the pool, a thread borrows a connection
for one request (or one `in_db_thread` call) and hands it back when Django closes it, so a
process never holds more than COLLAB_DB_POOL_SIZE connections, whatever the traffic.

Coming back after a restart: every idle connection in the pool is dead then. The pool checks a
connection before lending it (Django's CONN_HEALTH_CHECKS: one empty query) and replaces a dead
one; while the database is away, requests wait up to COLLAB_DB_POOL_TIMEOUT and are answered 503
(documents.api.errors.unhandled), joins are closed with 1013. Measured with a private cluster
(tests/e2e/test_database_restart.py): a process served again 0.05 s after a restart and 0.9 s
after a kill -9 of the postmaster, with no error after that.
"""

from __future__ import annotations

import os
import socket

# While the database is unreachable the pool retries with exponential back-off; giving up a
# series after this long (and starting a new one on the next request) bounds the wait between
# the database's return and the first new connection.
RECONNECT_SECONDS = 2.0
MIN_CONNECTIONS = 2
# Seconds a client of the API is asked to wait when no connection could be had.
RETRY_AFTER_SECONDS = 2


def pool_options(size: int, timeout: float) -> dict:
    """`OPTIONS["pool"]` for Django's Postgres backend (psycopg_pool.ConnectionPool's options)."""
    return {
        "min_size": min(MIN_CONNECTIONS, size),
        "max_size": size,
        "timeout": timeout,
        "reconnect_timeout": RECONNECT_SECONDS,
        "name": "collab",
    }


def application_name() -> str:
    """What this process's connections are called in pg_stat_activity: `collab HOST:PID`, the
    process id the admin's live connections use too (Postgres keeps the first 63 bytes)."""
    return f"collab {socket.gethostname()}:{os.getpid()}"


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether an exception means "no database now" (unreachable, restarting, or no pooled
    connection free within COLLAB_DB_POOL_TIMEOUT): worth a retry, not a bug."""
    from django.db import InterfaceError, OperationalError

    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
