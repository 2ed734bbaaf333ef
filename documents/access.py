"""Who may do what with a document: one function, used by the WebSocket and the HTTP API."""

from __future__ import annotations

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


def at_least(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]
