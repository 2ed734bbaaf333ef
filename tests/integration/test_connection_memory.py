"""A closed connection, and a room once unloaded, are freed by reference counting.

Anything of theirs left in a reference cycle waits for the collector's next full collection,
which under load comes rarely and then walks the whole heap: the process grew with every
document served, and paused when it finally collected (docs/scaling.md, "Memory and the
garbage collector"). So these run with the collector off."""

from __future__ import annotations

import gc
import weakref

import pytest
from channels.testing import WebsocketCommunicator

from collab.asgi import application
from documents.server.runtime import current_registry
from documents.sync import protocol
from tests.support.waiting import eventually
from tests.unit.fakes import typed_update

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shut_down_rooms")]


@pytest.fixture
def collector_off():
    gc.disable()
    yield
    gc.enable()


async def test_a_closed_socket_and_its_unloaded_room_leave_nothing_for_the_collector(
    shared_plan, collector_off
):
    document, _, tokens = shared_plan
    name = str(document.id)
    socket = WebsocketCommunicator(application, f"/ws/documents/{name}?token={tokens['editor']}")
    connected, _ = await socket.connect(timeout=5)
    assert connected
    await socket.receive_output(timeout=5)  # sync step 1
    await socket.send_to(bytes_data=protocol.encode_update(typed_update("hello", client_id=7)))
    registry = current_registry()
    await eventually(lambda: registry.rooms[name].size_bytes > 0, what="the edit applied")
    room = weakref.ref(registry.rooms[name])
    (client,) = (weakref.ref(c) for c in room().clients)

    await socket.disconnect()
    await eventually(lambda: not room().clients, what="the client left the room")
    assert client() is None, "the socket's client outlived its connection"
    await registry.unload_idle(name)
    assert name not in registry.rooms
    assert room() is None, "the room outlived its unloading"
