"""API throttling (DRF): the rates come from settings at request time, so that a deployment (and
a test) can change them without touching DRF's class attributes, which it reads once at import.
The counts live in the default cache: Redis when REDIS_URL is set (shared by every process),
otherwise the process's memory."""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class SignedInThrottle(UserRateThrottle):
    """Requests per signed-in user (session or token), COLLAB_API_THROTTLE_USER."""

    def get_rate(self):
        return settings.COLLAB_API_THROTTLE_USER or None  # empty: no limit


class AnonymousThrottle(AnonRateThrottle):
    """Requests per address without credentials, COLLAB_API_THROTTLE_ANON."""

    def get_rate(self):
        return settings.COLLAB_API_THROTTLE_ANON or None
