"""uvicorn, configured from Collab's settings (`manage.py serve --server uvicorn`).

Nothing private is touched: the limits are uvicorn's own options (and the endpoint's own check
of COLLAB_MAX_MESSAGE_BYTES), and the graceful stop comes
through ASGI lifespan (documents.server.graceful). Under uvicorn a slow reader is bounded by
the socket's send queue (COLLAB_SEND_QUEUE_LIMIT frames, then 4408): uvicorn applies the
transport's flow control, so a send waits while the peer does not read, and the queue fills.
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
