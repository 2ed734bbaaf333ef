"""A browser page may open a socket only from the server's own origin (scheme, host and port) or
from one listed in CSRF_TRUSTED_ORIGINS; a page on another port or scheme is another origin."""

import pytest
from channels.testing import WebsocketCommunicator

from collab.asgi import application
from documents.models import ApiToken, Document

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shut_down_rooms")]


@pytest.fixture
def path(make_user):
    user = make_user("owner")
    document = Document.objects.create(title="t", owner=user)
    return f"/ws/documents/{document.id}?token={ApiToken.issue(user)[1]}"


async def close_code(
    path: str, host: str, origin: str | None, scheme: str | None = "ws", extra_headers=()
) -> int | None:
    headers = [(b"host", host.encode()), *extra_headers]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    socket = WebsocketCommunicator(application, path, headers=headers)
    if scheme is None:  # as daphne builds the scope: no scheme at all
        socket.scope.pop("scheme", None)
    else:
        socket.scope["scheme"] = scheme
    assert (await socket.connect(timeout=5))[0]
    first = await socket.receive_output(timeout=5)
    await socket.disconnect()
    return first.get("code") if first["type"] == "websocket.close" else None


@pytest.mark.parametrize(
    "scheme, host, origin, expected",
    [
        ("ws", "127.0.0.1:8000", "http://127.0.0.1:8000", None),  # the page's own origin
        ("ws", "localhost:8000", "http://LOCALHOST:8000", None),  # host names are caseless
        ("ws", "localhost", "http://localhost:80", None),  # the default port, said or not
        ("wss", "localhost", "https://localhost", None),
        ("ws", "127.0.0.1:8000", "http://127.0.0.1:9000", 4403),  # another port
        ("ws", "127.0.0.1:8000", "http://127.0.0.1", 4403),
        ("ws", "127.0.0.1:8000", "https://127.0.0.1:8000", 4403),  # another scheme
        ("wss", "localhost", "http://localhost", 4403),
        ("ws", "127.0.0.1:8000", "http://localhost:8000", 4403),  # another allowed host
        ("ws", "evil.example:8000", "http://evil.example:8000", 4403),  # not in ALLOWED_HOSTS
        ("ws", "127.0.0.1:8000", "null", 4403),  # sandboxed pages and files
        ("ws", "127.0.0.1:8000", None, None),  # no Origin: not a browser, credentials decide
    ],
)
async def test_origin_matrix(path, scheme, host, origin, expected):
    assert await close_code(path, host, origin, scheme) == expected


async def test_a_trusted_origin_may_connect_from_another_port(path, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example:8443"]
    assert await close_code(path, "127.0.0.1:8000", "https://app.example:8443") is None
    assert await close_code(path, "127.0.0.1:8000", "https://app.example") == 4403


async def test_behind_a_tls_proxy_the_page_origin_is_https(path, settings):
    """daphne's scope has no scheme; behind a proxy the scheme comes from X-Forwarded-Proto."""
    settings.COLLAB_BEHIND_PROXY = True
    forwarded = [(b"x-forwarded-proto", b"https")]
    host = "localhost:8443"
    assert await close_code(path, host, "https://localhost:8443", None, forwarded) is None
    assert await close_code(path, host, "http://localhost:8443", None, forwarded) == 4403
    assert await close_code(path, host, "https://localhost:8443", None) == 4403  # no header
