"""Presence is bounded per connection (SPEC.md): at most COLLAB_MAX_AWARENESS_IDS client ids,
more closes 4400, a removal frees an id; what breaks the framing closes 4400 as well."""

import pytest
from channels.testing import WebsocketCommunicator

from collab.asgi import application
from documents.models import ApiToken, Document, Membership, Role
from documents.sync import protocol

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("shut_down_rooms")]


def awareness(*entries: tuple[int, int, str]) -> bytes:
    payload = protocol.encode_awareness_entries([protocol.AwarenessEntry(*e) for e in entries])
    return protocol.encode_awareness(payload)


@pytest.fixture
def paths(make_user):
    owner, viewer = make_user("owner"), make_user("viewer")
    document = Document.objects.create(title="t", owner=owner)
    Membership.objects.create(document=document, user=viewer, role=Role.VIEWER)
    base = f"/ws/documents/{document.id}?token="
    return base + ApiToken.issue(owner)[1], base + ApiToken.issue(viewer)[1]


async def connected(path: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path)
    assert (await socket.connect(timeout=5))[0]
    await socket.receive_from(timeout=5)  # sync step 1
    return socket


async def close_code(socket: WebsocketCommunicator) -> int:
    while True:
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


async def test_the_ninth_awareness_id_closes_the_connection_with_4400(paths):
    owner_path, viewer_path = paths
    watcher, flooder = await connected(owner_path), await connected(viewer_path)
    await flooder.send_to(bytes_data=awareness(*[(i, 1, '{"n":1}') for i in range(1, 9)]))
    seen = protocol.parse_message(await watcher.receive_from(timeout=5))
    assert len(seen.entries) == 8
    await flooder.send_to(bytes_data=awareness((9, 1, '{"n":1}')))
    assert await close_code(flooder) == 4400
    await flooder.disconnect()
    # The watcher then learns that the flooder's eight are gone, and never saw the ninth.
    gone = protocol.parse_message(await watcher.receive_from(timeout=5))
    assert sorted(e.client_id for e in gone.entries if e.is_removal) == list(range(1, 9))
    await watcher.disconnect()


async def test_removing_an_awareness_id_frees_it(paths):
    owner_path, viewer_path = paths
    watcher, viewer = await connected(owner_path), await connected(viewer_path)
    await viewer.send_to(bytes_data=awareness((1, 1, '{"n":1}')))
    for client_id in range(2, 21):  # 20 ids over time, each one replacing the one before
        await viewer.send_to(bytes_data=awareness((client_id - 1, 2, "null"), (client_id, 1, "{}")))
    seen = []
    while len(seen) < 39:
        seen += protocol.parse_message(await watcher.receive_from(timeout=5)).entries
    assert seen[-2:] == [
        protocol.AwarenessEntry(19, 2, "null"),
        protocol.AwarenessEntry(20, 1, "{}"),
    ]
    assert await viewer.receive_nothing(timeout=0.2)  # still open
    await watcher.disconnect()
    await viewer.disconnect()


async def test_echoed_states_of_others_do_not_count_as_the_echoers_own(paths):
    """y-websocket's provider sends back every change it receives: in a room of ten people each
    client repeats nine others' states, and must not be closed for it."""
    owner_path, viewer_path = paths
    people = [await connected(owner_path) for _ in range(10)]
    for n, person in enumerate(people):
        await person.send_to(bytes_data=awareness((100 + n, 1, '{"n":1}')))
    echo = awareness(*[(100 + n, 1, '{"n":1}') for n in range(10)])
    echoer = await connected(viewer_path)
    present = protocol.parse_message(await echoer.receive_from(timeout=5))  # who is here
    assert len(present.entries) == 10
    await echoer.send_to(bytes_data=echo)
    assert await echoer.receive_nothing(timeout=0.3)  # neither closed nor relayed back
    for person in [*people, echoer]:
        await person.disconnect()


@pytest.mark.parametrize(
    "frame",
    [b"\x81\x00" + awareness((1, 1, '{"n":1}'))[1:], b"\x80\x00\x00\x01\x00"],
    ids=["awareness type as 81 00", "sync type as 80 00"],
)
async def test_a_message_type_written_as_a_non_canonical_varint_closes_4400(paths, frame):
    socket = await connected(paths[0])
    await socket.send_to(bytes_data=frame)
    assert await close_code(socket) == 4400


async def test_an_awareness_state_that_is_not_an_object_closes_4400(paths):
    socket = await connected(paths[1])
    await socket.send_to(bytes_data=awareness((1, 1, '"just a string"')))
    assert await close_code(socket) == 4400
