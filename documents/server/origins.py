"""Browser Origin check for WebSocket handshakes (daphne itself allows any Origin).

A browser always sends Origin; a page on another site must not be able to open a socket with the
user's cookie. Non-browser clients send no Origin and are judged by their credentials alone.

An origin is scheme, host and port together (as for Django's CSRF check): it is allowed when it is
listed in CSRF_TRUSTED_ORIGINS, or when it is the handshake's own origin (the scheme the socket
was opened with, and its Host header, port included) and that host is in ALLOWED_HOSTS. A page
served on another port of an allowed host is another origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}
PAGE_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def origin_allowed(origin: str | None, scope: dict | None = None) -> bool:
    if origin is None:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    claimed = _origin_tuple(origin)
    if claimed is None or scope is None:
        return False
    own = _own_origin(scope)
    if own is None or claimed != own:
        return False
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(claimed[1], allowed)


def _origin_tuple(origin: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # urlsplit drops an IPv6 address's brackets; ALLOWED_HOSTS keeps them
        host = f"[{host}]"
    return scheme, host, port or DEFAULT_PORTS[scheme]


def _own_origin(scope: dict) -> tuple[str, str, int] | None:
    """The origin of a page on the server this handshake reached."""
    scheme = PAGE_SCHEME.get(scope.get("scheme", "ws"))  # daphne's scope has no scheme: ws
    authority = header(scope, b"host")
    if settings.COLLAB_BEHIND_PROXY:
        # The proxy terminated TLS: the page is https:// although the socket reached us as ws.
        forwarded_proto = header(scope, b"x-forwarded-proto")
        if forwarded_proto:
            scheme = PAGE_SCHEME.get(forwarded_proto.split(",")[0].strip().lower())
        authority = header(scope, b"x-forwarded-host") or authority
    if scheme is None or not authority:
        return None
    host, port = split_domain_port(authority.split(",")[0].strip())
    if not host:
        return None
    return scheme, host, int(port) if port else DEFAULT_PORTS[scheme]


def header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def handshake_origin(scope) -> str | None:
    return header(scope, b"origin")
