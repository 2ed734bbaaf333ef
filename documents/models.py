"""Documents, who may use them, API and document tokens, and each document's persisted Yjs state.

The state is an append-only log of updates plus snapshots: loading reads the latest snapshot and
the updates after it; compaction folds a long tail into a new snapshot (documents.storage).
"""

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}


class ScopedRole(models.TextChoices):
    """The roles a document token or JWT may carry: never owner (it cannot share or delete)."""

    EDITOR = Role.EDITOR.value, Role.EDITOR.label
    VIEWER = Role.VIEWER.value, Role.VIEWER.label


class Document(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200, default="Untitled")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_documents"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title


class Membership(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.document}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    PREFIX = "collab_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False, help_text="first characters")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user})"

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user, name: str = "") -> tuple["ApiToken", str]:
        """Create a token for `user`; return the row and the token (never stored in clear)."""
        token = cls.PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            user=user, name=name, key_hash=cls.hash(token), hint=token[: len(cls.PREFIX) + 6]
        )
        return row, token


class DocumentToken(models.Model):
    """A bearer token for one document, with at most one role, until `expires_at` (SPEC.md,
    "Document-scoped tokens"): what a product that embeds Collab hands its own users. Only its
    SHA-256 is stored; the token is shown once, when it is minted.

    The id is a UUID: open connections carry the id of the token they were opened with, and
    revoking one closes those (documents.sync.revocation), so these ids must never equal an
    ApiToken's integer id."""

    PREFIX = "collabdoc_"
    LONGEST = timedelta(days=30)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="tokens")
    role = models.CharField(max_length=10, choices=ScopedRole.choices)
    label = models.CharField(max_length=200, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=20, editable=False, help_text="first characters")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="document_tokens",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label or self.hint + '…'} ({self.role} of {self.document_id})"

    @classmethod
    def issue(
        cls, document: Document, *, role: str, expires_in: int, label: str = "", created_by=None
    ) -> tuple["DocumentToken", str]:
        """Mint a token for `document`; return the row and the token (never stored in clear)."""
        token = cls.PREFIX + secrets.token_urlsafe(32)
        row = cls.objects.create(
            document=document,
            role=role,
            label=label,
            key_hash=ApiToken.hash(token),
            hint=token[: len(cls.PREFIX) + 6],
            created_by=created_by,
            expires_at=timezone.now() + timedelta(seconds=expires_in),
        )
        return row, token


class DocumentUpdate(models.Model):
    """One committed Yjs v1 update (the log); ids grow in commit order."""

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="updates")
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["document", "id"])]


class DocumentSnapshot(models.Model):
    """The document folded into one update. It contains the log rows its compaction deleted (the
    newest of them is `upto_update_id`); rows still waiting for dependencies stay in the log."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="snapshots")
    data = models.BinaryField()
    state_vector = models.BinaryField()
    upto_update_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["document", "-upto_update_id"])]


class DocumentVersion(models.Model):
    """A named or automatic snapshot of a document, which can be restored as a new change."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    name = models.CharField(max_length=200, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="document_versions",
        help_text="empty for automatic versions",
    )
    automatic = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.BinaryField(help_text="the whole document as one Yjs update (v1)")
    preview = models.TextField(blank=True, help_text="the start of its plain text")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["document", "-created_at"])]

    def __str__(self) -> str:
        return self.name or f"version of {self.created_at:%Y-%m-%d %H:%M}"


class LiveConnection(models.Model):
    """A WebSocket open right now on some server process: the admin's "connected now" page.

    Written off the hot path when a socket joins or leaves; each process renews `seen_at` of its
    rows periodically, so rows of a process that died without cleaning up fade out.
    """

    process_id = models.CharField(max_length=200, db_index=True)
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="live_connections"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="live_connections",
        help_text="empty for a connection opened with a document token or a JWT",
    )
    label = models.CharField(
        max_length=200, blank=True, help_text="the document token's label, or the JWT's sub"
    )
    credential = models.CharField(
        max_length=80,
        blank=True,
        help_text="the document token or JWT it was opened with (the id revocation matches)",
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    address = models.CharField(max_length=100, blank=True)
    connected_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-connected_at"]

    def __str__(self) -> str:
        return f"{self.user or self.label} on {self.document}"
