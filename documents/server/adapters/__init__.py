"""The one place that touches an ASGI server's internals (docs/architecture.md).

Collab runs under daphne (`manage.py serve`, the default; or `daphne collab.asgi:application`)
and under uvicorn (`manage.py serve --server uvicorn`, or `uvicorn collab.asgi:application`).
SPEC.md's promises that the ASGI interface cannot express live here, one module per server:

- `daphne`: close codes autobahn refuses from applications (1001, 1011, 1013), 1009 with a
  closing handshake, the slow-reader bound, 413 before Twisted reads a body, graceful SIGTERM,
  Collab's message size and handshake timeouts. The packages it reaches into (daphne,
  autobahn, Twisted) are pinned in the lock files; `INTERNALS` lists every attribute it
  needs, and tests/integration/test_server_internals.py fails naming the one that is gone.
- `uvicorn`: nothing private. Its options come from Collab's settings, and graceful SIGTERM
  comes through ASGI lifespan (documents.server.graceful).

`prepare()` runs when collab.asgi is imported, before any server builds its listeners, so the
daphne adjustments hold however daphne was started. Adjusting daphne's classes when another
server runs the application changes nothing that server uses.
"""

from __future__ import annotations

import importlib.util


def prepare() -> None:
    if importlib.util.find_spec("daphne") is not None:
        from documents.server.adapters import daphne

        daphne.install()
