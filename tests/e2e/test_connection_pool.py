"""A process holds at most COLLAB_DB_POOL_SIZE database connections, whatever the traffic, and
answers no request with 5xx for want of one (SPEC.md "Endurance"). The server runs the defaults
users get."""

from __future__ import annotations

import asyncio
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
from django.conf import settings

from tests.support.api import api
from tests.support.server import database_url_of_test_db
from tests.support.waiting import eventually
from tests.support.yclient import synced_client

REQUESTS, CLIENTS, SOCKETS = 600, 8, 30


class ConnectionCount:
    """The most connections one server process held at once, sampled from pg_stat_activity."""

    def __init__(self, pid: int) -> None:
        self.name = f"collab %:{pid}"  # collab.db_pool.application_name
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with psycopg.connect(database_url_of_test_db(), autocommit=True) as connection:
            while not self._stop.wait(0.02):
                (now,) = connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s",
                    [self.name],
                ).fetchone()
                self.peak = max(self.peak, now)

    def __enter__(self) -> ConnectionCount:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()


def one_request(server, token: str, document_id: str, n: int) -> int:
    """The API calls a product makes all day: list, read, rename, content, members, create."""
    kind = n % 6
    if kind == 0:
        return api(server, token, "get", "").status_code
    if kind == 1:
        return api(server, token, "get", f"{document_id}/").status_code
    if kind == 2:
        return api(server, token, "patch", f"{document_id}/", json={"title": f"t{n}"}).status_code
    if kind == 3:
        return api(server, token, "get", f"{document_id}/content?format=text").status_code
    if kind == 4:
        return api(server, token, "get", f"{document_id}/members/").status_code
    return api(server, token, "post", "", json={"title": f"new {n}"}).status_code


async def test_600_api_requests_beside_open_sockets_stay_within_the_pool(servers, owned_document):
    document_id, token = owned_document
    server = await asyncio.to_thread(servers.start)
    sockets = [await synced_client(server, document_id, token) for _ in range(SOCKETS)]
    with ConnectionCount(server.process.pid) as connections:
        with ThreadPoolExecutor(CLIENTS) as clients:
            statuses = list(
                clients.map(lambda n: one_request(server, token, document_id, n), range(REQUESTS))
            )
        sockets[0].text += "still live"  # the sockets' database work shares the same pool
        await sockets[1].wait_for(lambda: str(sockets[1].text) == "still live")
    for client in sockets:
        await client.close()
    counts = {status: len(list(group)) for status, group in itertools.groupby(sorted(statuses))}
    print(f"statuses {counts}, peak connections {connections.peak}")
    assert not [status for status in statuses if status >= 500], counts
    assert set(statuses) <= {200, 201}, counts
    # Measured before the pool (COLLAB_DB_CONN_MAX_AGE=60): a connection per request thread,
    # 93 at the peak and 157 answers of 500 once Postgres refused more.
    assert 0 < connections.peak <= settings.COLLAB_DB_POOL_SIZE


async def test_a_request_that_gets_no_connection_in_time_is_told_to_retry(servers, owned_document):
    """With every pooled connection busy past COLLAB_DB_POOL_TIMEOUT, the answer is 503 with
    Retry-After; the busy request itself completes once the database lets it."""
    document_id, token = owned_document
    server = await asyncio.to_thread(
        servers.start, COLLAB_DB_POOL_SIZE="1", COLLAB_DB_POOL_TIMEOUT="1"
    )
    with psycopg.connect(database_url_of_test_db()) as blocker, ThreadPoolExecutor(2) as clients:
        # The one connection gets stuck: its request waits for a lock the test holds.
        blocker.execute("LOCK TABLE documents_document IN ACCESS EXCLUSIVE MODE")
        stuck = clients.submit(api, server, token, "get", f"{document_id}/")

        async def request_waits() -> bool:
            return await asyncio.to_thread(lock_waiters) == 1

        await eventually(request_waits, what="a request waits for the lock")
        refused = await asyncio.to_thread(api, server, token, "get", "")
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        blocker.rollback()  # the lock goes
        assert stuck.result(timeout=30).status_code == 200
    assert (await asyncio.to_thread(api, server, token, "get", "")).status_code == 200


def lock_waiters() -> int:
    """Sessions of the test database waiting for a lock (read outside any transaction: one
    sees a single snapshot of pg_stat_activity)."""
    with psycopg.connect(database_url_of_test_db(), autocommit=True) as connection:
        (waiting,) = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return waiting
