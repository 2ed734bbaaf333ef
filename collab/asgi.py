"""ASGI entry point: HTTP goes to Django, WebSockets to the document endpoint, lifespan to the
graceful stop (uvicorn); the first call on a loop starts the process's background work. Served
by `manage.py serve`, `daphne collab.asgi:application` or `uvicorn collab.asgi:application`
(docs/self-hosting.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from documents.server import adapters  # noqa: E402
from documents.server.background import StartBackgroundWork  # noqa: E402
from documents.server.body_limit import BodyLimit  # noqa: E402
from documents.server.gc_tuning import settle_after_startup  # noqa: E402
from documents.server.graceful import Lifespan  # noqa: E402
from documents.server.routing import websocket_urlpatterns  # noqa: E402
from documents.token_auth import HandshakeClock  # noqa: E402

adapters.prepare()  # before any server builds its listeners

application = StartBackgroundWork(
    ProtocolTypeRouter(
        {
            "http": BodyLimit(django_asgi_app, settings.COLLAB_MAX_MESSAGE_BYTES),
            "websocket": HandshakeClock(URLRouter(websocket_urlpatterns)),
            "lifespan": Lifespan(),
        }
    )
)
settle_after_startup()  # last: what is loaded by now lives as long as the process
