"""Role checks for the API: which role each action on a document needs."""

from rest_framework.exceptions import PermissionDenied

from documents.access import at_least, role_for
from documents.models import Role

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
