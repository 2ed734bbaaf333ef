"""Who takes part in a soak: people who type, sign in and share documents, a guest whose access
comes and goes, a staff member who reads every document at the end, and the long-lived rooms."""

from __future__ import annotations

import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    username: str
    password: str
    token: str


@dataclass(frozen=True)
class Room:
    document: str
    owner: Person
    editors: tuple[Person, ...]

    @property
    def typists(self) -> tuple[Person, ...]:
        return (self.owner, *self.editors)


@dataclass(frozen=True)
class Cast:
    people: tuple[Person, ...]
    guest: Person
    staff: Person
    rooms: tuple[Room, ...]

    def team(self, first: int, size: int) -> tuple[Person, ...]:
        """`size` people starting at `first` (round the table): an owner and its editors."""
        return tuple(self.people[(first + n) % len(self.people)] for n in range(size))


def create_cast(*, people: int, rooms: int, typists_per_room: int) -> Cast:
    """Users with real passwords (hashed with the default hasher, so the servers can check them)
    and API tokens; `rooms` documents, each owned by one person and shared with the next ones."""
    from django.contrib.auth import get_user_model

    from documents.models import ApiToken, Document, Membership, Role

    users = get_user_model().objects

    def person(username: str, *, signs_in: bool = True, **extra) -> Person:
        password = secrets.token_urlsafe(12) if signs_in else ""
        user = users.create_user(username, password=password or None, **extra)
        return Person(username, password, ApiToken.issue(user, name="soak")[1])

    cast = Cast(
        people=tuple(person(f"soak-{n}") for n in range(people)),
        guest=person("soak-guest", signs_in=False),
        staff=person("soak-staff", signs_in=False, is_staff=True),
        rooms=(),
    )
    long_lived = []
    for n in range(rooms):
        owner, *editors = cast.team(n, typists_per_room)
        document = Document.objects.create(
            title=f"soak room {n}", owner=users.get(username=owner.username)
        )
        Membership.objects.bulk_create(
            Membership(document=document, user=users.get(username=e.username), role=Role.EDITOR)
            for e in editors
        )
        long_lived.append(Room(str(document.id), owner, tuple(editors)))
    return Cast(cast.people, cast.guest, cast.staff, tuple(long_lived))
