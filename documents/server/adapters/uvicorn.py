"""uvicorn, configured from Collab's settings (`manage.py serve --server uvicorn`).

Nothing private is touched: the limits are uvicorn's own options (and the endpoint's own check
of COLLAB_MAX_MESSAGE_BYTES), and the graceful stop comes
through ASGI lifespan (documents.server.graceful). Under uvicorn a slow reader is bounded by
the socket's send queue (COLLAB_SEND_QUEUE_LIMIT frames or COLLAB_SEND_BUFFER_LIMIT bytes):
uvicorn waits for the peer before every send, so the queue fills; past it the room stops
sending to that socket at once, and uvicorn's ping timeout (about 40 s) ends the connection,
since a close frame cannot be sent to a peer that does not read.
"""

from __future__ import annotations

import signal

LISTEN_BACKLOG = 2048  # as under daphne: a reconnect storm overflowed a small backlog


def serve(application, host: str, port: int, *, behind_proxy: bool) -> None:
    import uvicorn
    from django.conf import settings

    # uvicorn raises the signal that stopped it again once it has stopped, for the handler
    # that was there before it: here, a handler that lets `manage.py serve` exit with 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    uvicorn.Server(
        uvicorn.Config(
            application,
            host=host,
            port=port,
            lifespan="on",
            backlog=LISTEN_BACKLOG,
            # Compressing small Yjs updates costs CPU per frame and saves little (daphne does
            # not offer it either); Node's `ws` clients ask for it by default.
            ws_per_message_deflate=False,
            # Above Collab's limit: the endpoint refuses what passes COLLAB_MAX_MESSAGE_BYTES
            # with 1009 and a closing handshake. uvicorn's own refusal (past twice the limit)
            # closes the transport at once, which a client still sending sees as 1006.
            ws_max_size=2 * settings.COLLAB_MAX_MESSAGE_BYTES,
            proxy_headers=behind_proxy,
            forwarded_allow_ips="*" if behind_proxy else None,
            access_log=False,
            log_config=None,  # Collab's own logging (collab/logging.py)
            timeout_graceful_shutdown=10,
        )
    ).run()
