from django.urls import re_path

from documents.server.consumer import DocumentConsumer

# y-websocket's provider appends the room name without a trailing slash; both forms work.
websocket_urlpatterns = [
    re_path(r"^ws/documents/(?P<document_id>[^/]+)/?$", DocumentConsumer.as_asgi()),
]
