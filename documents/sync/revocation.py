"""Revocation: which open connections lose access, and with which close code.

Made by the Django side when access changes (documents.access_changes), carried to every process
as a control message, and matched here against each connection of each room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Revocable(Protocol):
    user_id: object
    role: str  # the role the connection was opened with
    token_id: object  # what it was opened with (API token id, document token id, JWT digest)


@dataclass(frozen=True, slots=True)
class Revocation:
    code: int
    room: str | None = None  # None: every room of the process
    user_id: object = None  # None: every user
    token_id: object = None  # None: however the connection authenticated
    roles: tuple[str, ...] | None = None  # None: whatever role it was opened with

    def matches(self, client: Revocable) -> bool:
        if self.user_id is not None and client.user_id != self.user_id:
            return False
        if self.token_id is not None and getattr(client, "token_id", None) != self.token_id:
            return False
        return self.roles is None or getattr(client, "role", None) in self.roles

    def to_message(self) -> dict:
        return {
            "action": "close",
            "code": int(self.code),
            "room": self.room,
            "user_id": self.user_id,
            "token_id": self.token_id,
            "roles": None if self.roles is None else list(self.roles),
        }

    @classmethod
    def from_message(cls, message: dict) -> Revocation:
        roles = message.get("roles")
        return cls(
            code=int(message["code"]),
            room=message.get("room") or None,
            user_id=message.get("user_id"),
            token_id=message.get("token_id"),
            roles=None if roles is None else tuple(roles),
        )
