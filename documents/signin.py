"""Sign-in throttling (django-axes) for /accounts/login/ and the admin login."""


def client_address(request) -> str | None:
    """The address daphne resolved: the peer, or X-Forwarded-For's client when
    COLLAB_BEHIND_PROXY is set (daphne applies it). Never a header a client could forge."""
    return request.META.get("REMOTE_ADDR")
