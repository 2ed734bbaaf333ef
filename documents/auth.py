"""API tokens: DRF authentication for HTTP, and an ASGI middleware for WebSocket handshakes.

A token comes as `Authorization: Bearer TOKEN` or (WebSocket only, since browsers cannot set
headers there) `?token=TOKEN`. A token that is given but wrong makes the request
unauthenticated even if a session cookie is present: the caller asked to be someone specific.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework import authentication, exceptions

from documents.db import in_db_thread
from documents.models import ApiToken


def active_token(token: str) -> ApiToken | None:
    """The row of `token` if it exists and its user is active (user preloaded), or None."""
    row = (
        ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash(token)).first()
        if token
        else None
    )
    if row is None or not row.user.is_active:
        return None
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
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


class TokenAuthMiddleware:
    """Sets scope["user"] from a token when the handshake carries one (after the session), and
    scope["api_token_id"], so that revoking that token closes the connections opened with it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        token = websocket_token(scope)
        if token is not None:
            row = await in_db_thread(active_token)(token)
            scope = dict(
                scope,
                user=row.user if row is not None else AnonymousUser(),
                api_token_id=row.pk if row is not None else None,
            )
        return await self.app(scope, receive, send)
