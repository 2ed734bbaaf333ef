"""Browser Origin check for WebSocket handshakes (daphne itself allows any Origin).

A browser always sends Origin; a page on another site must not be able to open a socket with the
user's cookie. Non-browser clients send no Origin and are judged by their credentials alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host


def origin_allowed(origin: str | None) -> bool:
    if origin is None:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    host = urlsplit(origin).hostname
    if not host:
        return False
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(host, allowed)


def handshake_origin(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"origin":
            return value.decode("latin-1")
    return None
