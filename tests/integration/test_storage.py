"""The update log and snapshots on the real database (Postgres, and SQLite in a second pass)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from documents.models import Document, DocumentSnapshot, DocumentUpdate
from documents.storage import (
    WAITING,
    DjangoStore,
    append_updates,
    compact_document,
    load_document_state,
    load_stored_document,
)
from tests.support.histories import content_of, doc_of, random_history, storage_schedule
from tests.unit.fakes import typed_update

pytestmark = [pytest.mark.storage, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def document(make_user):
    return Document.objects.create(title="log", owner=make_user("writer"))


def text_of(state: bytes | None) -> str:
    doc = Doc()
    if state:
        doc.apply_update(state)
    return str(doc.get("text", type=Text))


def typing(count: int, client_id: int = 1) -> list[bytes]:
    """`count` one-character updates, each building on the previous one."""
    doc = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    updates = []
    for i in range(count):
        before = doc.get_state()
        text += str(i % 10)
        updates.append(doc.get_update(before))
    return updates


def test_appended_updates_load_back(document):
    name = str(document.id)
    append_updates({name: typing(3)})
    assert text_of(load_document_state(name)) == "012"


def test_compaction_folds_the_log_into_one_snapshot_and_keeps_the_content(document):
    name = str(document.id)
    append_updates({name: typing(50)})
    before = text_of(load_document_state(name))
    compact_document(name)
    assert DocumentUpdate.objects.filter(document=document).count() == 0
    assert DocumentSnapshot.objects.filter(document=document).count() == 1
    assert text_of(load_document_state(name)) == before


def test_a_long_log_is_compacted_when_loaded_so_later_loads_are_one_snapshot(document):
    """Loading cost does not grow with history: a log past the bound is folded on load."""
    name = str(document.id)
    store = DjangoStore(compact_after_updates=20)
    append_updates({name: typing(100)})
    assert text_of(store._load(name).state) == "0123456789" * 10
    assert DocumentUpdate.objects.filter(document=document).count() == 0
    assert DocumentSnapshot.objects.filter(document=document).count() == 1
    append_updates({name: typing(5, client_id=2)})
    assert len(text_of(store._load(name).state)) == 105  # snapshot + a short tail


def test_updates_of_a_deleted_document_are_dropped_not_fatal(document, make_user):
    other = Document.objects.create(title="other", owner=make_user("someone"))
    gone = str(document.id)
    document.delete()
    append_updates({gone: typing(1), str(other.id): [typed_update("kept", client_id=3)]})
    assert text_of(load_document_state(str(other.id))) == "kept"
    assert load_document_state(gone) is None


def test_compacting_while_others_append_loses_nothing(document):
    """Two writers append (as two processes would) while two compactors run: every update
    ends up loaded exactly once."""
    name = str(document.id)
    streams = {1: typing(60, client_id=1), 2: typing(60, client_id=2)}
    errors = []

    def write(updates):
        try:
            for update in updates:
                append_updates({name: [update]})
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    def compact():
        try:
            for _ in range(10):
                compact_document(name)
        except Exception as exc:
            errors.append(exc)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=write, args=(u,)) for u in streams.values()]
    threads += [threading.Thread(target=compact) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    loaded = text_of(load_document_state(name))
    assert sorted(loaded) == sorted("0123456789" * 12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_commit_order_with_compactions_loads_the_whole_document(document, seed):
    """The same property as tests/unit/test_storage_never_drops.py, on the real database."""
    name = str(document.id)
    DocumentUpdate.objects.filter(document=document).delete()
    DocumentSnapshot.objects.filter(document=document).delete()
    rng = random.Random(seed)
    history = random_history(rng, steps=rng.randint(4, 25))
    for operation in storage_schedule(rng, history):
        if operation is None:
            compact_document(name)
        else:
            append_updates({name: operation})
    stored = load_stored_document(name)
    assert stored.complete
    assert content_of(doc_of(stored.state)) == content_of(history.truth)


def test_a_row_waiting_for_its_dependency_is_kept_by_compaction_and_reported(document, caplog):
    name = str(document.id)
    base = typing(2, client_id=1)
    later = Doc(client_id=2)
    for update in base:
        later.apply_update(update)
    before = later.get_state()
    later.get("text", type=Text).insert(2, "!")
    dependent = later.get_update(before)

    append_updates({name: [dependent]})
    DocumentUpdate.objects.filter(document=document).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    with caplog.at_level("WARNING", logger="collab.storage"):
        compact_document(name)
    assert DocumentUpdate.objects.filter(document=document).count() == 1  # kept
    assert "waited" in caplog.text
    assert WAITING.totals()[0] >= 1

    append_updates({name: base})
    compact_document(name)
    assert DocumentUpdate.objects.filter(document=document).count() == 0
    assert text_of(load_document_state(name)) == "01!"
    assert name not in WAITING.by_document
