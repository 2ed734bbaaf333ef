"""Bearer tokens: DRF authentication for HTTP, and the user of a WebSocket handshake.

A token comes as `Authorization: Bearer TOKEN` or (WebSocket only, since browsers cannot set
headers there) `?token=TOKEN`. A token that is given but wrong makes the request
unauthenticated even if a session cookie is present: the caller asked to be someone specific.
It is an API token (a user's), or a document token or JWT (documents.scoped_tokens: one
document, one role, no account).
"""

from __future__ import annotations

import time
from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import DateTimeField
from django.http.cookie import parse_cookie
from django.utils import timezone
from rest_framework import authentication, exceptions

from documents.db import aware
from documents.models import ApiToken
from documents.scoped_tokens import ScopedTokenRefused, looks_scoped, scoped_user

LAST_USED_RESOLUTION = timedelta(minutes=1)


def active_token(token: str) -> ApiToken | None:
    """The row of `token` if it exists and its user is active (user preloaded), or None.

    One SQL statement: the ORM built the same join for every handshake, about 0.6 ms of CPU,
    a fifth of what a reconnect storm costs per client (docs/benchmarks.md)."""
    if not token:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_TOKEN_AND_USER, [ApiToken.hash(token)])
        found = cursor.fetchone()
    if found is None:
        return None
    token_id, last_used_at, *user_values = found
    user_values = [
        aware(value) if name in _USER_DATETIMES else value
        for name, value in zip(_USER_FIELDS, user_values, strict=True)
    ]
    user = get_user_model().from_db(connection.alias, _USER_FIELDS, user_values)
    if not user.is_active:
        return None
    row = ApiToken.from_db(
        connection.alias,
        ["id", "user_id", "last_used_at"],
        [token_id, user.pk, aware(last_used_at)],
    )
    row.user = user
    now = timezone.now()
    # A write (and a commit) per connection was most of a reconnect storm's database time;
    # "last used" to the minute is what the admin needs.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


_USER_FIELDS = [field.attname for field in get_user_model()._meta.concrete_fields]
_USER_DATETIMES = {
    field.attname
    for field in get_user_model()._meta.concrete_fields
    if isinstance(field, DateTimeField)
}
_TOKEN_AND_USER = (
    "SELECT t.id, t.last_used_at, "
    + ", ".join(f"u.{connection.ops.quote_name(name)}" for name in _USER_FIELDS)
    + f" FROM {ApiToken._meta.db_table} t"
    + f" JOIN {get_user_model()._meta.db_table} u ON u.{get_user_model()._meta.pk.column}"
    + " = t.user_id WHERE t.key_hash = %s"
)


def user_for_token(token: str):
    """The active user owning `token`, or None."""
    row = active_token(token)
    return row.user if row is not None else None


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        if token is None:
            return None
        if looks_scoped(token):
            try:
                return (scoped_user(token), token)
            except ScopedTokenRefused as exc:
                raise exceptions.AuthenticationFailed(str(exc)) from None
        user = user_for_token(token)
        if user is None:
            raise exceptions.AuthenticationFailed("invalid or revoked token")
        return (user, token)

    def authenticate_header(self, request):
        return self.keyword


def websocket_token(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    headers = dict(scope.get("headers", []))
    return bearer_token(headers.get(b"authorization", b"").decode("latin-1") or None)


class HandshakeClock:
    """Stamps scope["handshake_at"] before any credential is read, so that a revocation arriving
    while the handshake reads them still reaches the connection (RoomRegistry.join)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        return await self.app(dict(scope, handshake_at=time.monotonic()), receive, send)


def handshake_user(scope):
    """(user, token id) for a WebSocket handshake: from its token if it carries one, else from
    its session cookie. Runs on a database thread, in the same call as the role lookup
    (documents.access.handshake_access).

    Not Channels' AuthMiddlewareStack: its user lookup runs on one shared thread (a reconnect
    storm queued every handshake there), and its session middleware wraps `send` to save the
    session, inspecting every frame sent, while a socket never changes the session. Here the
    session is read once, with Django's own `get_user`."""
    token = websocket_token(scope)
    if token is None:
        return session_user(scope), None
    return token_user(token)


def token_user(token: str):
    """(user, token id) for a bearer token of any kind, or (AnonymousUser, None) if it is wrong.
    The token id is what revoking that token matches: an ApiToken's id, or a scoped user's
    `credential`."""
    if looks_scoped(token):
        try:
            user = scoped_user(token)
        except ScopedTokenRefused:
            return AnonymousUser(), None
        return user, user.credential
    row = active_token(token)
    if row is None:
        return AnonymousUser(), None
    return row.user, row.pk


def session_user(scope):
    """The user of the handshake's session cookie, or AnonymousUser."""
    headers = dict(scope.get("headers", []))
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=session))
