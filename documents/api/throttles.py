"""API throttling (DRF): the rates come from settings at request time, so that a deployment (and
a test) can change them without touching DRF's class attributes, which it reads once at import.
The counts live in the default cache: Redis when REDIS_URL is set (shared by every process),
otherwise the process's memory."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from documents.scoped_tokens import is_scoped


class SignedInThrottle(UserRateThrottle):
    """Requests per signed-in user (session or token), COLLAB_API_THROTTLE_USER; a document
    token or JWT counts as one user of its own (it has no user id to share)."""

    def get_rate(self):
        return settings.COLLAB_API_THROTTLE_USER or None  # empty: no limit

    def get_cache_key(self, request, view):
        if is_scoped(request.user):
            return self.cache_format % {"scope": self.scope, "ident": request.user.credential}
        return super().get_cache_key(request, view)


class AnonymousThrottle(AnonRateThrottle):
    """Requests per address without credentials, COLLAB_API_THROTTLE_ANON."""

    def get_rate(self):
        return settings.COLLAB_API_THROTTLE_ANON or None
