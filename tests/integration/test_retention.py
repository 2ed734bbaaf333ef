"""What the database keeps, and for how long (SPEC.md "Endurance": every table that grows with
traffic has a bound or a periodic clean-up, with its setting; docs/self-hosting.md).

Each retention job deletes what is past its retention and keeps the rest (rows dated in the past
stand in for time going by); a server applies them by itself every
COLLAB_RETENTION_INTERVAL_SECONDS, whichever way it is run; several runs or servers at once
delete each row once. Every test here also runs on SQLite (`storage`).
"""

from __future__ import annotations

import io
import signal
import threading
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone
from pycrdt import Doc, Text

from documents.models import (
    Document,
    DocumentSnapshot,
    DocumentToken,
    DocumentUpdate,
    LiveConnection,
)
from documents.retention import apply_retention
from documents.storage import append_updates, load_document_state, load_stored_document
from tests.support.api import metrics
from tests.support.server import WAYS_TO_RUN
from tests.support.waiting import eventually_sync
from tests.unit.fakes import typed_update

pytestmark = [pytest.mark.storage, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-secret-123"


def apply_retention_command() -> dict[str, int]:
    """`manage.py apply_retention`, as an operator runs it: rows deleted per table."""
    out = io.StringIO()
    call_command("apply_retention", stdout=out)
    return {
        table: int(rows.split()[0])
        for table, rows in (line.split(": ") for line in out.getvalue().splitlines())
    }


def signed_in(username: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, "signed in"
    return client


def session_of(client: Client) -> Session:
    return Session.objects.get(session_key=client.session.session_key)


def age(queryset, field: str, by: timedelta) -> None:
    queryset.update(**{field: timezone.now() - by})


# -- each job -----------------------------------------------------------------------------------
def test_expired_sessions_are_deleted_and_live_ones_kept(make_user):
    make_user("alice"), make_user("bob")
    alice, bob = signed_in("alice"), signed_in("bob")
    age(Session.objects.filter(pk=session_of(alice).pk), "expire_date", timedelta(seconds=1))

    assert apply_retention_command()["sessions"] == 1
    assert list(Session.objects.values_list("pk", flat=True)) == [session_of(bob).pk]
    assert bob.get("/").status_code == 200  # still signed in
    assert alice.get("/").status_code == 302  # sent to sign in again


def test_sessions_last_COLLAB_SESSION_DAYS(make_user, settings):
    assert settings.SESSION_COOKIE_AGE == settings.COLLAB_SESSION_DAYS * 24 * 3600
    make_user("alice")
    expiry = session_of(signed_in("alice")).expire_date - timezone.now()
    assert abs(expiry - timedelta(days=settings.COLLAB_SESSION_DAYS)) < timedelta(minutes=1)


def test_more_expired_sessions_than_one_batch_are_all_deleted():
    past = timezone.now() - timedelta(hours=1)
    Session.objects.bulk_create(
        Session(session_key=f"expired{n:05}", session_data="", expire_date=past)
        for n in range(2500)
    )
    assert apply_retention_command()["sessions"] == 2500
    assert not Session.objects.exists()


def test_failed_sign_ins_are_forgotten_after_the_cooloff(make_user, settings):
    make_user("alice")
    for username in ("mallory", "alice"):
        Client().post("/accounts/login/", {"username": username, "password": "wrong"})
    cooloff = settings.AXES_COOLOFF_TIME  # COLLAB_LOGIN_COOLOFF_MINUTES
    age(AccessAttempt.objects.filter(username="mallory"), "attempt_time", cooloff * 2)

    assert apply_retention_command()["sign-in attempts"] == 1
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["alice"]


def test_the_sign_in_log_keeps_COLLAB_SIGNIN_LOG_DAYS(make_user, settings):
    make_user("alice"), make_user("bob")
    signed_in("alice"), signed_in("bob")
    assert AccessLog.objects.count() == 2, "each sign-in is logged"
    days = timedelta(days=settings.COLLAB_SIGNIN_LOG_DAYS)
    age(AccessLog.objects.filter(username="alice"), "attempt_time", days + timedelta(hours=1))
    for username, when in (("old", days + timedelta(hours=1)), ("new", days / 2)):
        row = AccessFailureLog.objects.create(username=username, user_agent="", http_accept="")
        age(AccessFailureLog.objects.filter(pk=row.pk), "attempt_time", when)

    deleted = apply_retention_command()
    assert deleted["sign-in log"] == 1 and deleted["sign-in failure log"] == 1
    assert list(AccessLog.objects.values_list("username", flat=True)) == ["bob"]
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["new"]


def test_connection_rows_of_a_process_that_died_are_deleted(make_user):
    owner = make_user("owner")
    document = Document.objects.create(title="plan", owner=owner)
    for process_id in ("gone:1", "alive:2"):
        LiveConnection.objects.create(process_id=process_id, document=document, user=owner)
    age(LiveConnection.objects.filter(process_id="gone:1"), "seen_at", timedelta(minutes=20))

    assert apply_retention_command()["connection rows"] == 1
    assert list(LiveConnection.objects.values_list("process_id", flat=True)) == ["alive:2"]


def test_expired_document_tokens_are_deleted_and_valid_ones_kept(make_user):
    owner = make_user("owner")
    document = Document.objects.create(title="plan", owner=owner)
    for label in ("old", "current"):
        DocumentToken.issue(document, role="viewer", expires_in=60, label=label)
    age(DocumentToken.objects.filter(label="old"), "expires_at", timedelta(seconds=1))

    assert apply_retention_command()["expired document tokens"] == 1
    assert list(DocumentToken.objects.values_list("label", flat=True)) == ["current"]


def typed_in_steps(doc: Doc, words: list[str]) -> list[bytes]:
    """One update per word, as an editor's client sends them."""
    text = doc.get("text", type=Text)
    updates = []
    for word in words:
        before = doc.get_state()
        text += word
        updates.append(doc.get_update(before))
    return updates


def test_the_log_of_a_document_nobody_opens_again_is_folded_into_one_snapshot(make_user, settings):
    owner = make_user("owner")
    idle, busy = (Document.objects.create(title=t, owner=owner) for t in ("idle", "busy"))
    words = [f"w{n} " for n in range(40)]
    append_updates({str(idle.id): typed_in_steps(Doc(), words)})
    append_updates({str(busy.id): typed_in_steps(Doc(), words)})
    before = load_document_state(str(idle.id))
    idle_for = timedelta(minutes=settings.COLLAB_COMPACT_LOG_AFTER_MINUTES + 1)
    age(DocumentUpdate.objects.filter(document=idle), "created_at", idle_for)

    assert apply_retention_command()["update log"] == 40
    assert not DocumentUpdate.objects.filter(document=idle).exists()
    assert DocumentSnapshot.objects.filter(document=idle).count() == 1
    assert load_document_state(str(idle.id)) == before
    assert DocumentUpdate.objects.filter(document=busy).count() == 40  # edited just now


def test_an_update_waiting_for_its_dependency_is_kept_and_not_folded_again(make_user, settings):
    """SPEC.md: nothing stored is ever dropped, however long it waits."""
    owner = make_user("owner")
    document = Document.objects.create(title="broken", owner=owner)
    name = str(document.id)
    first = typed_update("ab", client_id=1)
    append_updates({name: [typed_update("c", client_id=2, base=first)]})
    idle_for = timedelta(minutes=settings.COLLAB_COMPACT_LOG_AFTER_MINUTES + 1)
    age(DocumentUpdate.objects.filter(document=document), "created_at", idle_for)

    assert apply_retention_command()["update log"] == 0
    assert DocumentUpdate.objects.filter(document=document).count() == 1
    append_updates({name: [first]})  # the dependency arrives at last
    age(DocumentUpdate.objects.filter(document=document), "created_at", idle_for)
    assert apply_retention_command()["update log"] == 2
    assert load_stored_document(name).complete


def test_runs_at_the_same_time_delete_each_row_once():
    past = timezone.now() - timedelta(hours=1)
    Session.objects.bulk_create(
        Session(session_key=f"expired{n:05}", session_data="", expire_date=past)
        for n in range(3000)
    )
    results, errors = [], []
    start = threading.Barrier(4)

    def run():
        try:
            start.wait(timeout=10)
            results.append(apply_retention())
        except Exception as error:  # reported below, with the others'
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(result["sessions"] for result in results if result is not None) == 3000
    assert not Session.objects.exists()


# -- a server applies retention by itself --------------------------------------------------------
def deleted_rows(server, table: str) -> float:
    """`collab_retention_deleted_rows_total{table=...}` of one server; 0 before its first run."""
    prefix = f'collab_retention_deleted_rows_total{{table="{table}"}} '
    for line in metrics(server).splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def expired_sessions(count: int) -> None:
    past = timezone.now() - timedelta(minutes=1)
    Session.objects.bulk_create(
        (
            Session(session_key=f"expired{n:07}", session_data="", expire_date=past)
            for n in range(count)
        ),
        batch_size=10_000,
    )


@pytest.mark.parametrize("way", list(WAYS_TO_RUN))
def test_a_server_deletes_expired_sessions_by_itself(servers, make_user, way):
    make_user("alice")
    alice = signed_in("alice")
    expired_sessions(3)

    server = servers.start(way=way, COLLAB_RETENTION_INTERVAL_SECONDS="1")
    eventually_sync(
        lambda: Session.objects.count() == 1, timeout=30, what="the expired sessions deleted"
    )
    assert Session.objects.get().pk == session_of(alice).pk
    assert deleted_rows(server, "sessions") == 3
    assert "Traceback" not in server.log()
    exit_code = server.stop()  # the background work ends with the graceful stop
    assert exit_code == (-signal.SIGTERM if way == "uvicorn" else 0), server.log()


def test_several_servers_at_once_delete_each_row_once(servers, make_user):
    owner = make_user("owner")
    document = Document.objects.create(title="plan", owner=owner)
    expired_sessions(4000)
    LiveConnection.objects.bulk_create(
        LiveConnection(process_id=f"gone:{n}", document=document, user=owner) for n in range(2000)
    )
    age(LiveConnection.objects.all(), "seen_at", timedelta(minutes=20))

    group = [servers.start(COLLAB_RETENTION_INTERVAL_SECONDS="1") for _ in range(3)]
    eventually_sync(
        lambda: not Session.objects.exists() and not LiveConnection.objects.exists(),
        timeout=60,
        what="every expired row deleted",
    )
    assert sum(deleted_rows(server, "sessions") for server in group) == 4000
    assert sum(deleted_rows(server, "connection rows") for server in group) == 2000
    for server in group:
        assert "Traceback" not in server.log()
        assert server.stop() == 0


def test_a_server_stopped_in_the_middle_of_a_run_stops_after_the_batch_in_progress(servers):
    """SIGTERM stops the background work first: a long run ends between two batches instead of
    holding up the exit until it is done."""
    expired_sessions(200_000)  # about 10 s of deleting, 1,000 rows a batch
    server = servers.start(COLLAB_RETENTION_INTERVAL_SECONDS="1")
    eventually_sync(lambda: Session.objects.count() < 200_000, timeout=30, what="the run under way")
    stopping = time.monotonic()
    assert server.stop() == 0, server.log()
    stopped_after = time.monotonic() - stopping
    # Measured without the stop between batches: the exit waited 10.6 s for the run to end.
    assert Session.objects.count() > 0, f"the run went on to the end ({stopped_after:.1f} s)"
