"""Role checks for the API: which role each action on a document needs, and the one document a
document token or JWT may reach."""

import uuid

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from documents.access import at_least, role_for
from documents.models import Role
from documents.scoped_tokens import is_scoped

NEEDED_ROLE = {
    "GET": Role.VIEWER,
    "HEAD": Role.VIEWER,
    "OPTIONS": Role.VIEWER,
    "PATCH": Role.EDITOR,
    "PUT": Role.EDITOR,
    "POST": Role.EDITOR,
    "DELETE": Role.OWNER,
}


def require_role(request, document, needed: str) -> str:
    """The caller's role, or 403 (with what was needed) if it is below `needed`."""
    role = role_for(request.user, document)
    if not at_least(role, needed):
        if role is None:
            raise PermissionDenied("you have no access to this document")
        raise PermissionDenied(f"this needs the {needed} role; you are {role}")
    return role


class OnlyItsDocument(BasePermission):
    """A document token or JWT reaches its own document's endpoints and nothing else: not the
    documents list, not creating documents, not another document, nor any endpoint that names
    no document (403). A default permission class, so an endpoint added later is closed to
    them unless it is a document's. Views name the URL keyword that holds the document id in
    `document_url_kwarg` ("document_pk" unless they say otherwise)."""

    message = "this token is for one document only"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not is_scoped(user):
            return True
        named = view.kwargs.get(getattr(view, "document_url_kwarg", "document_pk"))
        try:
            return named is not None and user.role_on(uuid.UUID(str(named))) is not None
        except ValueError:
            return False
