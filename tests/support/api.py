"""The HTTP API of a test server, as a client script would call it."""

from __future__ import annotations

import requests
from pycrdt import Doc, Text


def typed(text: str) -> bytes:
    """A Yjs update (v1) of a fresh document whose "text" holds `text`."""
    doc = Doc()
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


def api(server, token: str, method: str, path: str, **kwargs) -> requests.Response:
    """`method /api/documents/<path>` with a bearer token."""
    return requests.request(
        method,
        f"{server.http}/api/documents/{path}",
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        timeout=30,
        **kwargs,
    )


def post_update(server, document_id: str, token: str, update: bytes) -> requests.Response:
    return api(
        server,
        token,
        "post",
        f"{document_id}/updates",
        data=update,
        headers={"Content-Type": "application/octet-stream"},
    )


def metrics(server) -> str:
    """`GET /metrics` (Prometheus text format)."""
    return requests.get(f"{server.http}/metrics", timeout=10).text


def metric(text: str, name: str) -> float:
    """The value of the sample line `name value` (labels included in `name`) in `text`."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")
