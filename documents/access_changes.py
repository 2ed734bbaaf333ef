"""Access taken away acts on open sockets, on every server process (SPEC.md: "Losing access
live"), whatever made the change: the API, the admin, a shell or command in another process.

Model signals see every such change. Each is acted on once its transaction commits (nothing is
closed for a change that rolls back), by reading what the user may do *now* and closing the
connections that were opened with more: a role lowered or a membership removed closes 4403, a
document deleted 4404, a revoked token (an API token or a document token) or a user made
inactive or deleted 4401. Expiry of a document token or JWT is no change of the database: each
process closes those connections itself when it comes (documents.server.expiry). When one change
cascades (a deleted user takes their memberships and tokens along), the narrower acts find the
user or the document gone and leave the close code to the user's or the document's own act.

QuerySet.update() sends no signals: code that lowers roles or deactivates users that way must
call documents.server.live_rooms.revoke itself.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from documents.access import role_for
from documents.models import (
    ROLE_RANK,
    ApiToken,
    Document,
    DocumentToken,
    LiveConnection,
    Membership,
    Role,
)
from documents.server import live_rooms
from documents.sync.closecodes import CloseCode
from documents.sync.revocation import Revocation

log = logging.getLogger("collab.access")
User = get_user_model()

ALL_ROLES = tuple(Role.values)


def roles_above(role: str | None) -> tuple[str, ...]:
    """The roles a connection may have been opened with that `role` no longer allows."""
    if role is None:
        return ALL_ROLES
    return tuple(r for r in ALL_ROLES if ROLE_RANK[Role(r)] > ROLE_RANK[Role(role)])


def _after_commit(act) -> None:
    # robust: a failure to reach Redis is logged; it must not turn a committed change into a 500.
    transaction.on_commit(act, robust=True)


def _revoke_beyond_current_role(document_id, user_id) -> None:
    """After commit: close the user's connections to the document opened with a role above the
    one they have now (all of them if they have none)."""

    def act():
        user = User.objects.filter(pk=user_id, is_active=True).first()
        document = Document.objects.filter(pk=document_id).first()
        if user is None or document is None:
            return  # gone: the user's (4401) or the document's (4404) own act closes them
        above = roles_above(role_for(user, document))
        if above:
            live_rooms.revoke(
                Revocation(CloseCode.FORBIDDEN, room=str(document_id), user_id=user_id, roles=above)
            )

    _after_commit(act)


def _revoke_user(user_id) -> None:
    _after_commit(lambda: live_rooms.revoke(Revocation(CloseCode.UNAUTHENTICATED, user_id=user_id)))


# -- memberships -------------------------------------------------------------------------------
@receiver(pre_save, sender=Membership, dispatch_uid="collab-membership-before")
def _remember_membership(sender, instance, **kwargs):
    old = Membership.objects.filter(pk=instance.pk).first() if instance.pk else None
    instance._collab_before = (old.document_id, old.user_id, old.role) if old else None


@receiver(post_save, sender=Membership, dispatch_uid="collab-membership-saved")
def _membership_saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_collab_before", None)
    if created or before is None:
        return
    document_id, user_id, role = before
    if (document_id, user_id) != (instance.document_id, instance.user_id):
        _revoke_beyond_current_role(document_id, user_id)  # moved to someone else
    elif ROLE_RANK[Role(instance.role)] < ROLE_RANK[Role(role)]:
        _revoke_beyond_current_role(instance.document_id, instance.user_id)


@receiver(post_delete, sender=Membership, dispatch_uid="collab-membership-deleted")
def _membership_deleted(sender, instance, **kwargs):
    _revoke_beyond_current_role(instance.document_id, instance.user_id)


# -- documents ---------------------------------------------------------------------------------
@receiver(pre_save, sender=Document, dispatch_uid="collab-document-before")
def _remember_owner(sender, instance, **kwargs):
    instance._collab_owner_before = (
        Document.objects.filter(pk=instance.pk).values_list("owner_id", flat=True).first()
        if not instance._state.adding
        else None
    )


@receiver(post_save, sender=Document, dispatch_uid="collab-document-saved")
def _owner_changed(sender, instance, created, **kwargs):
    previous = getattr(instance, "_collab_owner_before", None)
    if not created and previous is not None and previous != instance.owner_id:
        _revoke_beyond_current_role(instance.pk, previous)


@receiver(post_delete, sender=Document, dispatch_uid="collab-document-deleted")
def _document_deleted(sender, instance, **kwargs):
    document_id, owner_id = str(instance.pk), instance.owner_id

    def act():
        if not User.objects.filter(pk=owner_id, is_active=True).exists():
            # Deleted with its owner: the owner's sockets say 4401 (the user is gone) first.
            live_rooms.revoke(Revocation(CloseCode.UNAUTHENTICATED, user_id=owner_id))
        live_rooms.revoke(Revocation(CloseCode.NOT_FOUND, room=document_id))

    _after_commit(act)


# -- tokens and users --------------------------------------------------------------------------
@receiver(post_delete, sender=ApiToken, dispatch_uid="collab-token-deleted")
def _token_deleted(sender, instance, **kwargs):
    token_id = instance.pk
    _after_commit(
        lambda: live_rooms.revoke(Revocation(CloseCode.UNAUTHENTICATED, token_id=token_id))
    )


@receiver(post_delete, sender=DocumentToken, dispatch_uid="collab-document-token-deleted")
def _document_token_deleted(sender, instance, **kwargs):
    if instance.expires_at <= timezone.now():
        return  # expired: its connections were closed then (the retention job deletes these)
    token_id, document_id = str(instance.pk), str(instance.document_id)

    def act():
        if not Document.objects.filter(pk=document_id).exists():
            return  # deleted with its document: the document's own act closes them with 4404
        live_rooms.revoke(
            Revocation(CloseCode.UNAUTHENTICATED, room=document_id, token_id=token_id)
        )

    _after_commit(act)


USER_ACCESS_FIELDS = {"is_active", "is_staff"}


@receiver(pre_save, sender=User, dispatch_uid="collab-user-before")
def _remember_user(sender, instance, update_fields=None, **kwargs):
    instance._collab_before = None
    if instance._state.adding or (
        update_fields is not None and not USER_ACCESS_FIELDS & set(update_fields)
    ):
        return  # e.g. a sign-in saving last_login: nothing about access changed
    instance._collab_before = (
        User.objects.filter(pk=instance.pk).values_list("is_active", "is_staff").first()
    )


@receiver(post_save, sender=User, dispatch_uid="collab-user-saved")
def _user_saved(sender, instance, created, **kwargs):
    before = getattr(instance, "_collab_before", None)
    if created or before is None:
        return
    was_active, was_staff = before
    if was_active and not instance.is_active:
        _revoke_user(instance.pk)
    elif was_staff and not instance.is_staff:
        # Staff act as owner everywhere; now only where they really are owner. Their open
        # documents are the ones the "connected now" rows name.
        documents = (
            LiveConnection.objects.filter(user_id=instance.pk)
            .values_list("document_id", flat=True)
            .distinct()
        )
        for document_id in documents:
            _revoke_beyond_current_role(document_id, instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="collab-user-deleted")
def _user_deleted(sender, instance, **kwargs):
    _revoke_user(instance.pk)
