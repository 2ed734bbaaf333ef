"""Suite-wide checks and fixtures. The suite runs against real Postgres and Redis: a service that
is not there fails the run with a message saying what to start (never a skip)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith("postgres") and not _reachable(database_url, 5432):
        pytest.exit(
            f"Postgres is not reachable at {database_url}. Start it: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            returncode=3,
        )
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _reachable(redis_url, 6379):
        pytest.exit(
            f"Redis is not reachable at {redis_url}. Start it: redis-server --daemonize yes "
            '--bind 127.0.0.1 --port 6379 --save "" --appendonly no',
            returncode=3,
        )


@pytest.fixture(autouse=True)
def fresh_throttles():
    """API throttle counts live in the cache: each test starts with none (sign-in attempts live
    in the test database, which each test gets fresh)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, *, password: str = "pw-secret-123", **extra):
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def shared_plan(make_user):
    """A document 'plan' with one person per role (owner, editor, viewer), a stranger, a staff
    user, and an API token each: (document, people, tokens)."""
    from documents.models import ApiToken, Document, Membership

    owner = make_user("owner")
    document = Document.objects.create(title="plan", owner=owner)
    people = {"owner": owner}
    for role in ("editor", "viewer"):
        people[role] = make_user(role)
        Membership.objects.create(document=document, user=people[role], role=role)
    people["stranger"] = make_user("stranger")
    people["staff"] = make_user("staff", is_staff=True)
    tokens = {name: ApiToken.issue(user)[1] for name, user in people.items()}
    return document, people, tokens


@pytest.fixture
def owned_document(transactional_db, make_user):
    """A document and its owner, committed for real servers: (document id, owner's token)."""
    from documents.models import ApiToken, Document

    owner = make_user("owner")
    document = Document.objects.create(title="owned", owner=owner)
    return str(document.id), ApiToken.issue(owner)[1]


@pytest.fixture
def team(transactional_db, make_user):
    """A document of 'owner', shared with 'member' as editor, committed for real servers:
    {"document", "owner", "member"} (ids and tokens) and the member's user and token ids."""
    from documents.models import ApiToken, Document, Membership

    owner, member = make_user("owner"), make_user("member")
    document = Document.objects.create(title="shared", owner=owner)
    Membership.objects.create(document=document, user=member, role="editor")
    member_token, member_secret = ApiToken.issue(member)
    return {
        "document": str(document.id),
        "owner": ApiToken.issue(owner)[1],
        "member": member_secret,
        "member_token_id": member_token.pk,
        "member_id": member.pk,
        "member_other": ApiToken.issue(member)[1],  # a second token of the member's
    }


@pytest.fixture
def owner_and_viewer(transactional_db, make_user):
    """A document with its owner and a viewer, committed for real servers:
    (document id, owner's token, viewer's token)."""
    from documents.models import ApiToken, Document, Membership, Role

    owner, viewer = make_user("owner"), make_user("viewer")
    document = Document.objects.create(title="shared", owner=owner)
    Membership.objects.create(document=document, user=viewer, role=Role.VIEWER)
    return str(document.id), ApiToken.issue(owner)[1], ApiToken.issue(viewer)[1]


@pytest.fixture
def servers(transactional_db):
    """Start real `manage.py serve` processes: `servers.start(**env)` (in a thread from async
    tests); every one started is stopped after the test, passed or failed."""
    from tests.support.server import ServerGroup

    with ServerGroup() as group:
        yield group


@pytest.fixture
def live_server_process(servers):
    """A real `manage.py serve` on a free port, on the test database; stopped after the test."""
    return servers.start()


@pytest.fixture
def cluster(servers, redis_url):
    """Two server processes on the test database and Redis, with a channel prefix of their own."""
    return servers.start_cluster(2, redis_url)


@pytest.fixture
def private_redis():
    """A redis-server of the test's own, not started yet (a test may stop and restart it);
    stopped after the test."""
    from tests.support.redis_server import RedisServer

    redis = RedisServer()
    yield redis
    redis.stop()
