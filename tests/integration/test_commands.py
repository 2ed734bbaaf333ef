"""The management commands: create_token and the first-run admin account (SPEC.md), and
check_documents."""

import io

import pytest
from django.core.management import CommandError, call_command

from documents.models import Document
from documents.storage import append_updates
from documents.token_auth import user_for_token
from tests.unit.fakes import typed_update

pytestmark = pytest.mark.django_db


def test_create_token_prints_a_working_token_alone_on_the_last_line(make_user, capsys):
    alice = make_user("alice")
    call_command("create_token", "alice")
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith("collab_") and " " not in last_line
    assert user_for_token(last_line) == alice


def test_create_token_for_an_unknown_user_fails_with_a_message():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_token", "ghost")


def test_first_run_creates_an_admin_and_prints_its_password_once(capsys, django_user_model):
    call_command("ensure_admin")
    first = capsys.readouterr().out
    password = first.split("password: ")[1].split()[0]
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    call_command("ensure_admin")
    assert password not in capsys.readouterr().out  # shown once only
    assert django_user_model.objects.filter(is_superuser=True).count() == 1


def test_check_documents_names_a_document_whose_stored_edit_waits_for_a_missing_one(make_user):
    owner = make_user("keeper")
    whole = Document.objects.create(title="whole", owner=owner)
    broken = Document.objects.create(title="broken", owner=owner)
    first = typed_update("ab", client_id=1)
    append_updates({str(whole.id): [first]})
    append_updates({str(broken.id): [typed_update("c", client_id=2, base=first)]})

    out = io.StringIO()
    with pytest.raises(CommandError, match="1 documents do not load completely"):
        call_command("check_documents", stdout=out)
    assert str(broken.id) in out.getvalue()
    assert str(whole.id) not in out.getvalue()
    assert "1 of 2 documents load completely" in out.getvalue()

    append_updates({str(broken.id): [first]})
    out = io.StringIO()
    call_command("check_documents", stdout=out)
    assert "2 of 2 documents load completely" in out.getvalue()
