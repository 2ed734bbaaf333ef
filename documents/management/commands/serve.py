"""Serve the ASGI application with daphne (the default, SPEC.md) or uvicorn, with the settings their
flags would otherwise need (documents.server.adapters):

- the largest WebSocket message is COLLAB_MAX_MESSAGE_BYTES, and so is the largest HTTP
  request body (413 before it is read);
- X-Forwarded-* headers are honoured when COLLAB_BEHIND_PROXY is set;
- SIGTERM commits every accepted update, then closes every socket with 1001, then exits.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

SERVERS = ("daphne", "uvicorn")


class Command(BaseCommand):
    help = "Serve Collab (HTTP and WebSocket) with daphne or uvicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--server",
            default=settings.COLLAB_SERVER,
            help=f"one of {', '.join(SERVERS)} (default: COLLAB_SERVER, {settings.COLLAB_SERVER})",
        )

    def handle(self, *args, host, port, server, **options):
        if server not in SERVERS:
            raise CommandError(f"--server must be one of {', '.join(SERVERS)}, not {server!r}")
        from collab.asgi import application

        if server == "uvicorn":
            from documents.server.adapters.uvicorn import serve
        else:
            from documents.server.adapters.daphne import serve
        self.stdout.write(
            f"Collab serving on http://{host}:{port}/ with {server} (Ctrl-C or SIGTERM stops)"
        )
        self.stdout.flush()
        serve(application, host, port, behind_proxy=settings.COLLAB_BEHIND_PROXY)
