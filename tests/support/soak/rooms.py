"""The rooms of a soak and who is in them, through the Node load generator (bench/nodeload):
the long-lived rooms, the fresh documents opened and left every window, and the guest whose
access comes and goes."""

from __future__ import annotations

import asyncio

from tests.support.soak.cast import Cast, Person, Room
from tests.support.soak.traffic import Http, create_document

# SPEC.md: a role lowered below what the socket was opened with closes it within 2 s, on every
# process. The soak waits longer before calling it a failure (the machine is shared), and
# records how long it took.
CLOSE_DEADLINE_S = 5


def client_spec(server, document: str, person: Person, **extra) -> dict:
    return {
        "url": f"{server.ws}/ws/documents/{document}?token={person.token}",
        "dialect": "plain",
        "document": document,
        "room": document,
        **extra,
    }


def typists(servers: list, rooms: list[tuple[str, tuple[Person, ...]]]) -> list[dict]:
    """One typing client per person of each room, consecutive clients on consecutive processes:
    every room has clients on each process, so its edits also cross Redis."""
    specs = []
    for document, people in rooms:
        for person in people:
            server = servers[len(specs) % len(servers)]
            specs.append(client_spec(server, document, person, typist=True))
    return specs


class RoomLog:
    """What leaving rooms found: every edit delivered to each other client, clients agreeing."""

    def __init__(self) -> None:
        self.left = 0
        self.missing = 0
        self.disagreeing: list[str] = []

    def record(self, left: dict) -> None:
        for room in left["rooms"]:
            self.left += 1
            self.missing += room["missing"]
            if not room["agree"]:
                self.disagreeing.append(room["room"])

    def summary(self) -> dict:
        return {"rooms": self.left, "missing": self.missing, "disagreeing": self.disagreeing}


class Churn:
    """Every window: the documents opened in the previous one are left, and `per_window` new
    ones are created through the API, shared, and typed in by three people."""

    def __init__(
        self,
        http: Http,
        load,
        cast: Cast,
        servers: list,
        log: RoomLog,
        *,
        per_window: int,
        size: int,
    ):
        self.http, self.load, self.cast, self.servers = http, load, cast, servers
        self.log = log
        self.per_window = per_window
        self.size = size
        self.open: list[str] = []
        self.created = 0
        self.problems: list[str] = []

    async def step(self, window: int, drain_s: float) -> None:
        if self.open:
            self.log.record(await self.load.leave(self.open, drain_s=drain_s))
        rooms = []
        for n in range(self.per_window):
            owner, *editors = self.cast.team(self.created, self.size)
            self.created += 1
            title = f"soak window {window} document {n}"
            document = await create_document(self.http, owner, editors, title)
            if document is not None:
                rooms.append((document, (owner, *editors)))
        self.open = [document for document, _ in rooms]
        if rooms:
            joined = await self.load.connect(typists(self.servers, rooms), batch=0)
            if joined["synced"] != joined["requested"]:
                self.problems.append(f"window {window}: fresh documents: {joined['failures']}")


class AccessChanges:
    """Now and then the guest is made an editor of a long-lived document and opens it; the next
    time, it is lowered to viewer, which must close that socket with 4403, and removed."""

    def __init__(self, http: Http, load, cast: Cast, servers: list) -> None:
        self.http, self.load, self.cast, self.servers = http, load, cast, servers
        self.turn = 0
        self.granted: tuple[Room, int] | None = None
        self.close_ms: list[int] = []
        self.problems: list[str] = []

    async def step(self) -> None:
        self.turn += 1
        if self.granted is None:
            await self._grant(self.cast.rooms[self.turn % len(self.cast.rooms)])
        else:
            await self._revoke(*self.granted)
            self.granted = None

    def _members(self, room: Room) -> str:
        return f"/api/documents/{room.document}/members/"

    async def _grant(self, room: Room) -> None:
        guest = self.cast.guest
        added = await self.http.call(
            "share",
            "POST",
            self._members(room),
            expect=(201,),
            token=room.owner.token,
            json={"username": guest.username, "role": "editor"},
        )
        if added is None or added.status_code != 201:
            return
        server = self.servers[self.turn % len(self.servers)]
        spec = client_spec(server, room.document, guest, observer=True, expect_close=[4403])
        joined = await self.load.connect([spec])
        if joined["synced"] != 1:
            self.problems.append(f"the guest could not open its document: {joined['failures']}")
            return
        self.granted = (room, joined["first_index"])

    async def _revoke(self, room: Room, client: int) -> None:
        guest = self.cast.guest
        started = asyncio.get_running_loop().time()
        await self.http.call(
            "access change",
            "POST",
            self._members(room),
            token=room.owner.token,
            json={"username": guest.username, "role": "viewer"},
        )
        closed = await self.load.await_close(client, timeout_s=CLOSE_DEADLINE_S)
        elapsed_ms = round((asyncio.get_running_loop().time() - started) * 1000)
        if closed["code"] == 4403:
            self.close_ms.append(elapsed_ms)
        else:
            self.problems.append(
                f"the guest, lowered to viewer, was not closed with 4403 within "
                f"{CLOSE_DEADLINE_S} s (close code {closed['code']})"
            )
        await self.http.call(
            "unshare",
            "DELETE",
            f"{self._members(room)}{guest.username}/",
            expect=(204,),
            token=room.owner.token,
        )
