"""Who may do what with a document. One rule (`_role`): staff act as owner everywhere, the owner
is owner, a member has their membership's role, a document token or JWT has its own role on its
one document (documents.scoped_tokens). Two ways to feed it: a loaded document (`role_for`: the
HTTP API, pages, access changes) or a document id in one SQL statement (`role_on`: the
WebSocket handshake, through `handshake_access`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db import connection

from documents.models import ROLE_RANK, Document, Membership, Role
from documents.scoped_tokens import is_scoped


def _role(user, document_id, owner_id, member_role: Callable[[], str | None]) -> str | None:
    """The user's role on the document, or None; `member_role` is asked only when nothing else
    decides (it may cost a query)."""
    if not user or not user.is_authenticated:
        return None
    if is_scoped(user):
        return user.role_on(document_id)
    if user.is_staff or owner_id == user.pk:
        return Role.OWNER
    return member_role()


def role_for(user, document: Document) -> str | None:
    """The user's role on a loaded document, or None: no query for its owner or staff."""
    return _role(
        user,
        document.pk,
        document.owner_id,
        lambda: (
            Membership.objects.filter(document=document, user=user)
            .values_list("role", flat=True)
            .first()
        ),
    )


NO_DOCUMENT = "no-document"  # role_on's answer when the document does not exist


def role_on(user, document_id: str) -> str | None:
    """The user's role on the document `document_id` names, in one query (the document's owner
    and the user's membership together); NO_DOCUMENT if there is no such document.

    Written as SQL: building the same query through the ORM cost about 1 ms of CPU per
    handshake, most of a reconnect storm's authorization time."""
    document_id = uuid.UUID(document_id)
    if not user or not user.is_authenticated or is_scoped(user):
        # Nothing to read: a scoped user's own document exists (a minted token goes with it,
        # a JWT's was checked), and any other is not its business.
        return _role(user, document_id, None, lambda: None)
    document_key = Document._meta.pk.get_db_prep_value(document_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_ROLE_QUERY, [user.pk, document_key])
        row = cursor.fetchone()
    if row is None:
        return NO_DOCUMENT
    owner_id, member_role = row
    return _role(user, document_id, owner_id, lambda: member_role)


_ROLE_QUERY = (
    f"SELECT d.owner_id, (SELECT m.role FROM {Membership._meta.db_table} m"
    " WHERE m.document_id = d.id AND m.user_id = %s LIMIT 1)"
    f" FROM {Document._meta.db_table} d WHERE d.id = %s"
)


def handshake_access(scope, document_id: str | None):
    """(user, token id, role) for a WebSocket handshake, in one trip to a database thread:
    a thread hop costs more than a query when a reconnect storm queues hundreds of them.
    The role is None if the user is not authenticated or `document_id` is None."""
    from documents.token_auth import handshake_user

    user, token_id = handshake_user(scope)
    if document_id is None or not user.is_authenticated:
        return user, token_id, None
    return user, token_id, role_on(user, document_id)


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]
