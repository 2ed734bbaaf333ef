"""ASGI entry point: HTTP goes to Django, WebSockets to the document consumer."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from documents.server.body_limit import BodyLimit  # noqa: E402
from documents.server.routing import websocket_urlpatterns  # noqa: E402
from documents.token_auth import HandshakeClock, TokenOrSessionAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app, settings.COLLAB_MAX_MESSAGE_BYTES),
        "websocket": HandshakeClock(TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
