"""The browser pages: the documents list and the editor (SPEC.md "Browser pages").

The pages are thin: Django renders the frame and hands the script what only it knows (who is
signed in, their role, the CSRF token) as JSON; the scripts do the rest through the JSON API and
the WebSocket.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.middleware.csrf import get_token
from django.shortcuts import render

from documents.access import at_least, role_for
from documents.models import Document, Role


def _config(request, **extra) -> dict:
    return {"username": request.user.get_username(), "csrfToken": get_token(request), **extra}


@login_required
def documents_list(request):
    return render(request, "documents/list.html", {"page_config": _config(request)})


@login_required
def editor(request, document_id):
    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return render(request, "documents/missing.html", status=404)
    role = role_for(request.user, document)
    if role is None:
        return render(request, "documents/forbidden.html", status=403)
    config = _config(request, documentId=str(document.pk), title=document.title, role=role)
    return render(
        request,
        "documents/editor.html",
        {
            "document": document,
            "role": role,
            "can_edit": at_least(role, Role.EDITOR),
            "is_owner": role == Role.OWNER,
            "page_config": config,
        },
    )
