"""Losing access live (SPEC.md): every change of access closes the sockets it concerns, on every
server process, within 2 seconds, whatever made the change: the API on one process, or a
`manage.py shell` in a process that serves nothing. Unrelated connections keep syncing.

Two real server processes share the test database and Redis (a private channel prefix); each
story has a client on each process.
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
import requests

from tests.support.server import ROOT
from tests.support.yclient import YClient, synced_client

WITHIN_SECONDS = 2.0


async def clients_on_each(servers, document_id, token) -> list[YClient]:
    return [await synced_client(server, document_id, token) for server in servers]


async def connect_everywhere(cluster, team, *whose: str) -> list[list[YClient]]:
    """For each of `whose` tokens (keys of `team`), a synced client on every process."""
    return [await clients_on_each(cluster, team["document"], team[key]) for key in whose]


async def shell(env, code: str) -> float:
    """Run `code` in `manage.py shell` (a process with no server loop); return the time at
    which it started making the change (Django already set up)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        "import time; started = time.time()\n" + code + "\nprint('started', started)",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:  # timed out or cancelled: never leave it running
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return float(out.decode().split("started")[-1])


async def closed_at(client: YClient, timeout: float = 30) -> tuple[int | None, float]:
    code = await client.wait_closed(timeout)
    return code, time.time()


async def assert_closed_within(clients, code: int, since: float | None = None):
    results = await asyncio.gather(*(closed_at(client) for client in clients))
    assert [c for c, _ in results] == [code] * len(clients)
    if since is not None:
        delays = [at - since for _, at in results]
        assert max(delays) < WITHIN_SECONDS, delays
    return results


async def assert_still_syncing(writer: YClient, reader: YClient, tag: str):
    writer.text += tag
    await reader.wait_for(lambda: tag in str(reader.text), timeout=5)
    assert writer.close_code is None and reader.close_code is None


async def assert_shell_closes(cluster, clients, code: int, script: str) -> None:
    """Run `script` in a separate `manage.py shell`; every client closes with `code` within
    WITHIN_SECONDS of the shell starting the change."""
    closing = asyncio.ensure_future(assert_closed_within(clients, code))
    started = await shell(cluster[0].env, script)
    results = await closing
    assert max(at for _, at in results) - started < WITHIN_SECONDS


async def close_all(clients):
    for client in clients:
        await client.close()


async def test_an_editor_demoted_through_the_api_is_closed_4403_on_every_process(team, cluster):
    servers, doc = cluster, team["document"]
    owners, members = await connect_everywhere(cluster, team, "owner", "member")

    started = time.time()
    response = await asyncio.to_thread(
        requests.post,
        f"{servers[0].http}/api/documents/{doc}/members/",
        json={"username": "member", "role": "viewer"},
        headers={"Authorization": f"Bearer {team['owner']}"},
    )
    assert response.status_code == 200
    await assert_closed_within(members, 4403, since=started)
    await assert_still_syncing(owners[0], owners[1], "after-demotion;")

    # Reconnecting gets what the role now allows: a viewer, whose edits go nowhere.
    viewer = (await clients_on_each(servers[1:], doc, team["member"]))[0]
    viewer.text += "viewer-edit;"
    await assert_still_syncing(owners[1], owners[0], "owner-edit;")
    assert "viewer-edit" not in str(owners[0].text)
    await close_all([*owners, viewer])


@pytest.mark.parametrize(
    "change",
    [
        "u = User.objects.get(username='member'); u.is_active = False; u.save()",
        "User.objects.filter(username='member').delete()",
    ],
    ids=["made-inactive", "deleted"],
)
async def test_a_user_made_inactive_or_deleted_from_a_shell_is_closed_4401_everywhere(
    team, cluster, change
):
    owners, members = await connect_everywhere(cluster, team, "owner", "member")

    await assert_shell_closes(
        cluster, members, 4401, "from django.contrib.auth.models import User\n" + change
    )
    await assert_still_syncing(owners[1], owners[0], "still-here;")
    await close_all(owners)


async def test_a_revoked_token_closes_only_the_connections_opened_with_it(team, cluster):
    revoked, kept = await connect_everywhere(cluster, team, "member", "member_other")

    await assert_shell_closes(
        cluster,
        revoked,
        4401,
        f"from documents.models import ApiToken\n"
        f"ApiToken.objects.filter(pk={team['member_token_id']}).delete()",
    )
    await assert_still_syncing(kept[0], kept[1], "same-user-other-token;")
    await close_all(kept)


async def test_the_previous_owner_is_closed_4403_when_the_owner_changes(team, cluster):
    previous, members = await connect_everywhere(cluster, team, "owner", "member")

    await assert_shell_closes(
        cluster,
        previous,
        4403,
        "from django.contrib.auth.models import User\n"
        "from documents.models import Document\n"
        f"d = Document.objects.get(pk='{team['document']}')\n"
        "d.owner = User.objects.get(username='member'); d.save()",
    )
    # The new owner's sockets were opened as editor: more rights now, nothing closed.
    await assert_still_syncing(members[0], members[1], "new-owner;")
    await close_all(members)


async def test_a_change_that_rolls_back_closes_nothing(team, cluster):
    owners, members = await connect_everywhere(cluster, team, "owner", "member")

    await shell(
        cluster[0].env,
        "from django.db import transaction\n"
        "from documents.models import Membership\n"
        "try:\n"
        "    with transaction.atomic():\n"
        "        Membership.objects.all().delete()\n"
        "        raise RuntimeError('changed my mind')\n"
        "except RuntimeError:\n"
        "    pass\n"
        f"from documents.models import ApiToken\n"
        f"ApiToken.objects.filter(pk={team['member_token_id']}).delete()",
    )
    # The token's revocation went out after the rollback; once it arrived, nothing else had.
    await assert_closed_within(members, 4401)
    await assert_still_syncing(owners[0], owners[1], "nothing-else;")
    await close_all(owners)
