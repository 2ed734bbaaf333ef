"""Throttles: API requests per user and per anonymous address (DRF), and failed sign-ins on
/accounts/login/ and the admin login (django-axes). Each answers 429."""

from __future__ import annotations

import pytest
from django.test import Client

from documents.models import ApiToken


@pytest.fixture
def token_client(db, make_user):
    def as_user(username: str) -> Client:
        user = make_user(username, is_staff=username.startswith("admin"))
        return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user)[1]}")

    return as_user


def test_a_signed_in_user_past_the_api_rate_gets_429_with_retry_after(token_client, settings):
    settings.COLLAB_API_THROTTLE_USER = "3/min"
    alice, bob = token_client("alice"), token_client("bob")
    assert [alice.get("/api/documents/").status_code for _ in range(3)] == [200] * 3
    throttled = alice.get("/api/documents/")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["detail"].lower()
    assert bob.get("/api/documents/").status_code == 200  # counted per user


def test_anonymous_requests_past_their_rate_get_429(db, settings):
    settings.COLLAB_API_THROTTLE_ANON = "2/min"
    client = Client()  # the schema is the API's one page open to anyone
    assert [client.get("/api/schema/").status_code for _ in range(2)] == [200, 200]
    assert client.get("/api/schema/").status_code == 429


def sign_in(client: Client, path: str, username: str, password: str):
    return client.post(path, {"username": username, "password": password})


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_repeated_failed_sign_ins_lock_that_username_out(db, make_user, settings, path):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("admin-alice", password="right-password", is_staff=True)
    make_user("admin-bob", password="right-password", is_staff=True)
    client = Client()
    failures = [sign_in(client, path, "admin-alice", "wrong").status_code for _ in range(2)]
    assert failures == [200, 200]  # the form again, with its error
    assert sign_in(client, path, "admin-alice", "wrong").status_code == 429  # the limit
    assert sign_in(client, path, "admin-alice", "right-password").status_code == 429
    # Another account from the same address is not locked out with it.
    assert sign_in(Client(), path, "admin-bob", "right-password").status_code == 302


def test_a_successful_sign_in_forgets_earlier_failures(db, make_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_user("alice", password="right-password")
    client = Client()
    for _ in range(2):
        assert sign_in(client, "/accounts/login/", "alice", "wrong").status_code == 200
    assert sign_in(client, "/accounts/login/", "alice", "right-password").status_code == 302
    for _ in range(2):
        assert sign_in(Client(), "/accounts/login/", "alice", "wrong").status_code == 200
    assert sign_in(Client(), "/accounts/login/", "alice", "right-password").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_anonymous_rate(db, settings):
    settings.COLLAB_API_THROTTLE_ANON = "2/min"
    client = Client()
    statuses = [
        client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 429]
