"""A client flooding presence updates is slowed to COLLAB_AWARENESS_PER_SECOND; the newest
state still arrives, so a dragged cursor ends where it stopped."""

import pytest
from channels.testing import WebsocketCommunicator

from collab.asgi import application
from documents.models import ApiToken, Document
from documents.sync import protocol

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shut_down_rooms")]


def awareness(clock: int) -> bytes:
    entry = protocol.AwarenessEntry(31337, clock, f'{{"cursor":{clock}}}')
    return protocol.encode_awareness(protocol.encode_awareness_entries([entry]))


@pytest.fixture
def flood_target(make_user):
    user = make_user("dragger")
    document = Document.objects.create(title="t", owner=user)
    return f"/ws/documents/{document.id}?token={ApiToken.issue(user)[1]}"


async def test_presence_flood_is_thinned_but_the_last_state_arrives(flood_target):
    path = flood_target
    flooder = WebsocketCommunicator(application, path)
    watcher = WebsocketCommunicator(application, path)
    for socket in (flooder, watcher):
        assert (await socket.connect())[0]
        await socket.receive_from()  # sync step 1
    for clock in range(1, 201):
        await flooder.send_to(bytes_data=awareness(clock))
    clocks = []
    while not await watcher.receive_nothing(timeout=0.5):
        frame = await watcher.receive_from()
        clocks += [e.clock for e in protocol.parse_message(frame).entries]
    assert clocks[-1] == 200
    assert len(clocks) < 100
    for socket in (flooder, watcher):
        await socket.disconnect()
