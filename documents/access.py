"""Who may do what with a document: one function, used by the WebSocket and the HTTP API."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from documents.models import ROLE_RANK, Document, Membership, Role


def role_for(user, document: Document) -> str | None:
    """The user's role on the document, or None. Staff act as owner everywhere."""
    if not user or not user.is_authenticated:
        return None
    if user.is_staff or document.owner_id == user.pk:
        return Role.OWNER
    return (
        Membership.objects.filter(document=document, user=user)
        .values_list("role", flat=True)
        .first()
    )


NO_DOCUMENT = "no-document"  # role_on's answer when the document does not exist


def role_on(user, document_id: str) -> str | None:
    """role_for in one query (the WebSocket handshake's path): the document's owner and the
    user's membership together; NO_DOCUMENT if there is no such document."""
    if not user or not user.is_authenticated:
        return None
    row = (
        Document.objects.filter(id=document_id)
        .annotate(
            member_role=Subquery(
                Membership.objects.filter(document=OuterRef("pk"), user=user).values("role")[:1]
            )
        )
        .values_list("owner_id", "member_role")
        .first()
    )
    if row is None:
        return NO_DOCUMENT
    owner_id, member_role = row
    if user.is_staff or owner_id == user.pk:
        return Role.OWNER
    return member_role


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]
