"""Document-scoped credentials as an embedding product makes them (docs/embedding.md): JWTs
signed with the deployment's COLLAB_JWT_SECRET, and tokens minted through the API."""

from __future__ import annotations

import time

import jwt
import requests

JWT_SECRET = "test-only-jwt-secret-" + "s" * 32  # COLLAB_JWT_SECRET of the tests' servers
WRONG_SECRET = "not-the-deployments-secret-" + "w" * 32


def signed_jwt(
    document_id,
    role: str = "editor",
    *,
    secret: str = JWT_SECRET,
    expires_in: float = 600,
    sub: str = "ada@product.example",
    **claims,
) -> str:
    """A JWT for `document_id` as the product's backend signs it: HS256, `exp` `expires_in`
    seconds from now (negative: already expired); `claims` override or add (None drops one)."""
    payload = {
        "doc": str(document_id),
        "role": role,
        "sub": sub,
        "iat": int(time.time()),
        "exp": int(time.time() + expires_in),
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


def mint(server, owner_token: str, document_id: str, **body) -> requests.Response:
    """`POST /api/documents/<id>/tokens/` on a test server, as the owner."""
    return requests.post(
        f"{server.http}/api/documents/{document_id}/tokens/",
        json={"role": "viewer", "expires_in": 600, "label": "", **body},
        headers={"Authorization": f"Bearer {owner_token}"},
        timeout=30,
    )
