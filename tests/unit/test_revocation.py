"""Revocations reach the connections they name, on every process, and no others."""

from __future__ import annotations

import time

from documents.sync.revocation import Revocation
from tests.support.waiting import eventually
from tests.unit.fakes import RecordingClient
from tests.unit.processes import cluster


def connection(user_id, role="editor", token_id=None) -> RecordingClient:
    client = RecordingClient(user_id=user_id, can_write=role != "viewer")
    client.role, client.token_id = role, token_id
    return client


def test_a_revocation_names_connections_by_user_token_and_role():
    demoted = Revocation(4403, room="doc", user_id=7, roles=("editor", "owner"))
    assert demoted.matches(connection(7, "editor"))
    assert not demoted.matches(connection(7, "viewer"))
    assert not demoted.matches(connection(8, "editor"))
    token = Revocation(4401, token_id=3)
    assert token.matches(connection(7, token_id=3))
    assert not token.matches(connection(7, token_id=None))  # the same user, by session
    assert Revocation.from_message(demoted.to_message()) == demoted


async def test_a_user_revocation_closes_them_in_every_room_of_every_process():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        here, there, elsewhere = connection(7), connection(7), connection(7)
        bystander = connection(8)
        await first.join("a", here)
        await second.join("a", there)
        await second.join("b", elsewhere)
        await second.join("b", bystander)
        first.revoke_matching(Revocation(4401, user_id=7))
        await eventually(lambda: there.closed_with == 4401 and elsewhere.closed_with == 4401)
        assert here.closed_with == 4401 and bystander.closed_with is None


async def test_a_demotion_closes_only_connections_opened_above_the_new_role():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        as_editor, as_viewer = connection(7, "editor"), connection(7, "viewer")
        await second.join("doc", as_editor)
        await second.join("doc", as_viewer)
        first.revoke_matching(Revocation(4403, room="doc", user_id=7, roles=("editor", "owner")))
        await eventually(lambda: as_editor.closed_with == 4403)
        assert as_viewer.closed_with is None


async def test_a_client_whose_handshake_began_before_a_revocation_is_closed_when_it_joins():
    async with cluster() as processes:
        first, second = processes.process(), processes.process()
        await second.start()
        slow = connection(7)
        slow.handshake_at = time.monotonic()  # credentials read now: still an editor
        first.revoke_matching(Revocation(4403, room="doc", user_id=7, roles=("editor", "owner")))
        await eventually(lambda: len(second._recent_revocations) == 1)
        later = connection(7)  # e.g. made editor again: its handshake began after the revocation
        later.handshake_at = time.monotonic()
        room = await second.join("doc", slow)
        assert slow.closed_with == 4403 and slow not in room.clients
        await second.join("doc", later)
        assert later.closed_with is None and later in room.clients
