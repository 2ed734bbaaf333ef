import pytest

from documents.server.runtime import current_registry


@pytest.fixture
async def shut_down_rooms():
    """Commit and close the test loop's rooms after the test, as a server would at exit."""
    yield
    registry = current_registry()
    if registry is not None:
        await registry.shutdown()


@pytest.fixture(scope="session", autouse=True)
def close_db_thread_connections(django_db_setup):
    """In-process consumers and views run their queries on documents.db's pool, and each pool
    thread keeps its connection: close them all before the test database is dropped (else
    Postgres refuses: "being accessed by other users")."""
    yield
    import threading

    from django.conf import settings
    from django.db import connections

    from documents.db import DB_EXECUTOR

    every_thread = threading.Barrier(settings.COLLAB_DB_THREADS)

    def close_this_threads_connections():
        every_thread.wait(timeout=10)  # one task per pool thread: each waits for the others
        connections.close_all()

    tasks = [
        DB_EXECUTOR.submit(close_this_threads_connections)
        for _ in range(settings.COLLAB_DB_THREADS)
    ]
    for task in tasks:
        task.result(timeout=30)
