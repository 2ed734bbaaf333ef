"""API tokens: DRF authentication for HTTP, and an ASGI middleware for WebSocket handshakes.

A token comes as `Authorization: Bearer TOKEN` or (WebSocket only, since browsers cannot set
headers there) `?token=TOKEN`. A token that is given but wrong makes the request
unauthenticated even if a session cookie is present: the caller asked to be someone specific.
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions

from documents.db import in_db_thread
from documents.models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)


def active_token(token: str) -> ApiToken | None:
    """The row of `token` if it exists and its user is active (user preloaded), or None."""
    row = (
        ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash(token)).first()
        if token
        else None
    )
    if row is None or not row.user.is_active:
        return None
    now = timezone.now()
    # A write (and a commit) per connection was most of a reconnect storm's database time;
    # "last used" to the minute is what the admin needs.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row


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


class TokenOrSessionAuthMiddleware:
    """Sets scope["user"] from the handshake's token if it carries one, else from the session;
    with a token also scope["api_token_id"], so that revoking that token closes the
    connections opened with it.

    A token decides alone (see the module docstring), so a handshake with one skips Channels'
    session stack, whose user lookup runs on a single shared thread: in a reconnect storm every
    handshake queued there, token or not."""

    def __init__(self, app):
        self.app = app
        self.session_app = AuthMiddlewareStack(app)

    async def __call__(self, scope, receive, send):
        token = websocket_token(scope)
        if token is None:
            return await self.session_app(scope, receive, send)
        row = await in_db_thread(active_token)(token)
        scope = dict(
            scope,
            user=row.user if row is not None else AnonymousUser(),
            api_token_id=row.pk if row is not None else None,
        )
        return await self.app(scope, receive, send)
