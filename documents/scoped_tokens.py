"""Document-scoped credentials (SPEC.md, "Document-scoped tokens"): a token minted by Collab for
one document (documents.models.DocumentToken), or a JWT the embedding product signed itself with
COLLAB_JWT_SECRET. Either becomes a `ScopedUser`: it stands where a user stands (request.user,
the handshake's user) but is no account, so it is never staff, owns nothing and belongs to no
document but its own; documents.access gives it its role on that document and none elsewhere.

Told apart by their form, without a database call: minted tokens start with
DocumentToken.PREFIX, JWTs are three dot-separated parts; anything else is an API token.
"""

from __future__ import annotations

import hashlib
import uuid

import jwt
from django.conf import settings
from django.db import connection
from django.utils import timezone

from documents.db import aware
from documents.models import ApiToken, Document, DocumentToken, ScopedRole

SCOPED_ROLES = tuple(ScopedRole.values)
JWT_ALGORITHMS = ["HS256"]  # never taken from the token's header (no "none", no RS/HS confusion)
JWT_REQUIRED_CLAIMS = ["exp", "doc", "role"]
LABEL_LENGTH = 200  # LiveConnection.label


class ScopedTokenRefused(Exception):
    """A scoped credential that is wrong: expired, badly signed, malformed, for no document.
    The message is the `detail` an HTTP client gets (WebSocket: 4401)."""


class ScopedUser:
    """Who a document token or a JWT is: one document, one role, until `expires_at` (Unix
    seconds). `credential` names it for revocation and the admin: the DocumentToken's id, or
    "jwt:" and a digest of the JWT (Collab never stores those)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    __slots__ = ("credential", "document_id", "expires_at", "label", "role")

    def __init__(
        self, *, document_id: str, role: str, expires_at: float, label: str, credential: str
    ) -> None:
        self.document_id = document_id
        self.role = role
        self.expires_at = expires_at
        self.label = label
        self.credential = credential

    def get_username(self) -> str:
        return self.label

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_module_perms(self, app_label) -> bool:
        return False

    def role_on(self, document_id) -> str | None:
        """Its role on `document_id` (a UUID or its text): its own role there, none elsewhere."""
        return self.role if str(document_id) == self.document_id else None

    def __str__(self) -> str:
        return self.label or self.credential


def is_scoped(user) -> bool:
    return isinstance(user, ScopedUser)


def account_of(user):
    """The Django user behind `user`, or None for a scoped one (which has no account): what a
    foreign key to the user model (a version's author) may hold."""
    return None if is_scoped(user) else user


def looks_scoped(token: str) -> bool:
    return token.startswith(DocumentToken.PREFIX) or token.count(".") == 2


def scoped_user(token: str) -> ScopedUser:
    """The ScopedUser of a minted token or a JWT (`looks_scoped(token)`); ScopedTokenRefused
    with the reason otherwise. One database statement either way."""
    if token.startswith(DocumentToken.PREFIX):
        return _minted(token)
    return _signed(token)


def _minted(token: str) -> ScopedUser:
    with connection.cursor() as cursor:
        cursor.execute(_MINTED_QUERY, [ApiToken.hash(token)])
        found = cursor.fetchone()
    if found is None:
        raise ScopedTokenRefused("invalid or revoked token")
    token_id, document_id, role, label, expires_at = found
    expires_at = aware(expires_at)
    if expires_at <= timezone.now():
        raise ScopedTokenRefused("the token has expired")
    return ScopedUser(
        document_id=str(uuid.UUID(str(document_id))),
        role=role,
        expires_at=expires_at.timestamp(),
        label=label,
        credential=str(uuid.UUID(str(token_id))),
    )


_MINTED_QUERY = (
    "SELECT id, document_id, role, label, expires_at"
    f" FROM {DocumentToken._meta.db_table} WHERE key_hash = %s"
)


def _signed(token: str) -> ScopedUser:
    secret = settings.COLLAB_JWT_SECRET
    if not secret:
        raise ScopedTokenRefused("JWTs are not accepted here (COLLAB_JWT_SECRET is not set)")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=JWT_ALGORITHMS,
            options={"require": JWT_REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise ScopedTokenRefused("the token has expired") from None
    except jwt.ImmatureSignatureError as exc:
        raise ScopedTokenRefused(f"the token is not valid yet ({exc})") from None
    except jwt.InvalidSignatureError:
        raise ScopedTokenRefused("the token's signature does not verify") from None
    except jwt.InvalidTokenError as exc:
        raise ScopedTokenRefused(f"malformed token: {exc}") from None
    role = claims["role"]
    if role not in SCOPED_ROLES:
        raise ScopedTokenRefused(f"the role claim must be one of {', '.join(SCOPED_ROLES)}")
    try:
        document_id = uuid.UUID(str(claims["doc"]))
    except ValueError:
        raise ScopedTokenRefused("the doc claim is not a document id") from None
    if not _document_exists(document_id):
        raise ScopedTokenRefused("the doc claim names no document")
    return ScopedUser(
        document_id=str(document_id),
        role=role,
        expires_at=float(claims["exp"]),
        label=str(claims.get("sub", ""))[:LABEL_LENGTH],
        credential="jwt:" + hashlib.sha256(token.encode()).hexdigest()[:32],
    )


def _document_exists(document_id: uuid.UUID) -> bool:
    key = Document._meta.pk.get_db_prep_value(document_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_DOCUMENT_EXISTS, [key])
        return cursor.fetchone() is not None


_DOCUMENT_EXISTS = f"SELECT 1 FROM {Document._meta.db_table} WHERE id = %s"
