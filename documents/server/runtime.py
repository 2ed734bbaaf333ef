"""Wires the engine to Django: one RoomRegistry per event loop (per process in production),
built from settings with the ORM store and the broadcast that fits the channel layer."""

from __future__ import annotations

import asyncio
import contextvars
import weakref

from django.conf import settings

from documents.storage import DjangoStore
from documents.sync.broadcast import Broadcast, LocalBroadcast
from documents.sync.registry import RegistryConfig, RoomRegistry

_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RoomRegistry] = (
    weakref.WeakKeyDictionary()
)


def registry_config() -> RegistryConfig:
    return RegistryConfig(
        flush_interval=settings.COLLAB_FLUSH_INTERVAL_MS / 1000,
        idle_seconds=settings.COLLAB_ROOM_IDLE_SECONDS,
        max_awareness_bytes=settings.COLLAB_MAX_AWARENESS_BYTES,
        max_awareness_ids=settings.COLLAB_MAX_AWARENESS_IDS,
        pending_bytes_limit=settings.COLLAB_PENDING_BYTES_LIMIT,
        anti_entropy_seconds=settings.COLLAB_ANTI_ENTROPY_SECONDS,
        max_document_bytes=settings.COLLAB_MAX_DOCUMENT_BYTES,
        compact_after_updates=settings.COLLAB_COMPACT_AFTER_UPDATES,
        coalesce=settings.COLLAB_COALESCE,
    )


def make_broadcast() -> Broadcast:
    if settings.REDIS_URL:
        from documents.server.channel_layer_broadcast import ChannelLayerBroadcast

        return ChannelLayerBroadcast()
    return LocalBroadcast()


def get_registry() -> RoomRegistry:
    """The registry of the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        registry = RoomRegistry(
            DjangoStore(compact_after_updates=settings.COLLAB_COMPACT_AFTER_UPDATES),
            make_broadcast(),
            registry_config(),
        )
        _registries[loop] = registry
    return registry


def run_on_server_loop(make_coroutine, timeout: float = 30.0):
    """Run a coroutine on the loop that holds the rooms, from a sync view's worker thread.

    Returns (True, result), or (False, None) when no server loop is running in this process
    (management commands, Django's test client): the caller then does the work without rooms.
    """
    for loop, _registry in list(_registries.items()):
        if loop.is_running() and not loop.is_closed():
            # An empty context: the view's thread-sensitive executor (asgiref) must not be
            # inherited, or the coroutine's database calls would wait for the blocked view.
            future = contextvars.Context().run(
                asyncio.run_coroutine_threadsafe, make_coroutine(), loop
            )
            return True, future.result(timeout)
    return False, None


def current_registry() -> RoomRegistry | None:
    """The running loop's registry if one exists (shutdown must not create one)."""
    try:
        return _registries.get(asyncio.get_running_loop())
    except RuntimeError:
        return None
