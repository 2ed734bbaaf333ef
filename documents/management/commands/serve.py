"""Serve the ASGI application with daphne, with the settings daphne's flags would otherwise need.

- the largest WebSocket message is COLLAB_MAX_MESSAGE_BYTES (daphne's own default is 1 MiB), and
  so is the largest HTTP request body (413 before it is read);
- X-Forwarded-* headers are honoured when COLLAB_BEHIND_PROXY is set;
- SIGTERM commits every accepted update, then closes every socket with 1001, then exits
  (documents.server.daphne_adapter).
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand

LISTEN_BACKLOG = 2048  # the kernel caps it at net.core.somaxconn (4096 on current Linux)


class Command(BaseCommand):
    help = "Serve Collab (HTTP and WebSocket) with daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host, port, **options):
        from daphne.endpoints import build_endpoint_description_strings

        from collab.asgi import application
        from documents.server.daphne_adapter import CollabServer, adjust_daphne

        max_bytes = settings.COLLAB_MAX_MESSAGE_BYTES
        adjust_daphne(max_body_bytes=max_bytes)
        CollabServer.send_buffer_limit = settings.COLLAB_SEND_BUFFER_LIMIT
        proxy = {}
        if settings.COLLAB_BEHIND_PROXY:
            proxy = {
                "proxy_forwarded_address_header": "X-Forwarded-For",
                "proxy_forwarded_port_header": "X-Forwarded-Port",
                "proxy_forwarded_proto_header": "X-Forwarded-Proto",
            }
        self.stdout.write(f"Collab serving on http://{host}:{port}/ (Ctrl-C or SIGTERM stops)")
        self.stdout.flush()
        CollabServer(
            application=application,
            endpoints=[
                # Twisted listens with a backlog of 50: a reconnect storm overflowed it (the
                # kernel's ListenOverflows counter) and clients waited for SYN retries.
                endpoint + f":backlog={LISTEN_BACKLOG}"
                for endpoint in build_endpoint_description_strings(host=host, port=port)
            ],
            websocket_max_message_size=max_bytes,
            websocket_max_frame_size=max_bytes,
            application_close_timeout=10,
            # A reconnect storm (every deploy makes one) queues handshakes behind each other's
            # authorization: daphne's 5 s dropped a quarter of 1,500 clients, who then came back
            # to the same queue. Slow beats refused.
            websocket_handshake_timeout=30,
            websocket_connect_timeout=30,
            verbosity=0,
            **proxy,
        ).run()
