"""The HTTP API (SPEC.md): documents, their content (read and written), state and updates, and
members."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, parsers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from documents import quotas
from documents.api.errors import PayloadTooLarge, TryAgainLater
from documents.api.negotiation import FirstRenderer
from documents.api.permissions import NEEDED_ROLE, require_role
from documents.api.serializers import DocumentSerializer, MemberSerializer
from documents.models import Document, Membership, Role
from documents.richtext import formats
from documents.richtext.schema import ContentError
from documents.richtext.ydoc import state_of
from documents.server import live_rooms
from documents.sync.protocol import ProtocolError
from documents.sync.room import DocumentTooLarge, Overloaded
from documents.sync.update_check import InvalidUpdate, check_update


class OctetStreamParser(parsers.BaseParser):
    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class RawBodyParser(OctetStreamParser):
    """The body as bytes whatever its type: `PUT .../content` reads it by `?format=`."""

    media_type = "*/*"


def document_or_404(pk) -> Document:
    """The document `pk` names; 404 for unknown ids and for strings that are not UUIDs."""
    try:
        return get_object_or_404(Document, pk=uuid.UUID(str(pk)))
    except ValueError:
        raise Http404("no such document") from None


def readable_documents(user):
    if user.is_staff:
        return Document.objects.all()
    return Document.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct()


FORMAT_PARAMETER = OpenApiParameter("format", str, enum=list(formats.FORMATS), default="json")
CONTENT_RESPONSES = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/html"): OpenApiTypes.STR,
    (200, "text/plain"): OpenApiTypes.STR,
    (200, "text/markdown"): OpenApiTypes.STR,
}


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class DocumentViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DocumentSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    document_url_kwarg = "pk"  # api.permissions.OnlyItsDocument

    def get_queryset(self):
        if self.action == "list":
            return readable_documents(self.request.user).order_by("-updated_at")
        return Document.objects.all()

    def get_object(self):
        document = document_or_404(self.kwargs["pk"])
        require_role(self.request, document, NEEDED_ROLE[self.request.method])
        return document

    def perform_create(self, serializer):
        quotas.check_can_create_document(self.request.user)
        serializer.save(owner=self.request.user)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        description="The whole document as one Yjs update (v1).",
    )
    @action(detail=True, methods=["get"])
    def state(self, request, pk=None):
        document = document_or_404(pk)
        require_role(request, document, Role.VIEWER)
        return HttpResponse(
            live_rooms.document_state(str(document.pk)), content_type="application/octet-stream"
        )

    @extend_schema(
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={204: OpenApiResponse(description="applied, stored and relayed")},
        description="Apply a Yjs update (v1): stored and relayed live to connected clients.",
    )
    @action(detail=True, methods=["post"], parser_classes=[OctetStreamParser])
    def updates(self, request, pk=None):
        """The same checks as an update from a socket: size, decodability, buffer room."""
        document = document_or_404(pk)
        require_role(request, document, Role.EDITOR)
        limit = settings.COLLAB_MAX_MESSAGE_BYTES
        if _declared_length(request) > limit:
            raise PayloadTooLarge(f"the update is larger than {limit} bytes")
        body = request.data
        if not isinstance(body, bytes) or not body:
            raise ParseError("send a Yjs update as application/octet-stream")
        if len(body) > limit:
            raise PayloadTooLarge(f"the update is larger than {limit} bytes")
        try:
            check_update(body)
        except InvalidUpdate as exc:
            raise ParseError(f"undecodable update: {exc}") from None
        quotas.check_stored_bytes(document.owner, len(body))
        with live_write_errors():
            live_rooms.apply_update(str(document.pk), body)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[FORMAT_PARAMETER],
        responses=CONTENT_RESPONSES,
        description="The rich text (root `default`, as Tiptap writes it) as ProseMirror JSON, "
        "HTML, plain text (one line per block) or Markdown (CommonMark).",
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[JSONRenderer],
        content_negotiation_class=FirstRenderer,
        parser_classes=[RawBodyParser],
        http_method_names=["get", "put", "head", "options"],
    )
    def content(self, request, pk=None):
        document = document_or_404(pk)
        require_role(request, document, Role.VIEWER)
        return content_response(live_rooms.document_state(str(document.pk)), request)

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(formats.INPUT_FORMATS), default="json")
        ],
        request={
            "application/json": OpenApiTypes.OBJECT,
            "text/html": OpenApiTypes.STR,
            "text/markdown": OpenApiTypes.STR,
        },
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
        description="Editor+: the body (ProseMirror JSON, HTML or Markdown) becomes the live "
        "content for every connected editor, as one new change: blocks that did not change keep "
        "their identity. Answers the stored content as ProseMirror JSON.",
    )
    @content.mapping.put
    def write_content(self, request, pk=None):
        document = document_or_404(pk)
        require_role(request, document, Role.EDITOR)
        fmt = request.query_params.get("format", "json")
        if fmt not in formats.INPUT_FORMATS:
            raise ValidationError({"format": [f"use one of {', '.join(formats.INPUT_FORMATS)}"]})
        body = _bounded_body(request)
        try:
            target = state_of(formats.read(body, fmt))
        except ContentError as exc:
            raise ParseError(str(exc)) from None
        quotas.check_stored_bytes(document.owner, len(target))
        with live_write_errors():
            live_rooms.replace_content(str(document.pk), target)
        stored = formats.render(live_rooms.document_state(str(document.pk)), "json")
        return HttpResponse(json.dumps(stored, ensure_ascii=False), content_type="application/json")


def content_response(state: bytes, request) -> HttpResponse:
    """A document's (or a version's) rich text in the format `?format=` asks for."""
    fmt = request.query_params.get("format", "json")
    if fmt not in formats.FORMATS:
        raise ValidationError({"format": [f"use one of {', '.join(formats.FORMATS)}"]})
    body = formats.render(state, fmt)
    if fmt == "json":
        body = json.dumps(body, ensure_ascii=False)
    return HttpResponse(body, content_type=formats.MEDIA_TYPES[fmt])


def _bounded_body(request) -> bytes:
    """The request body, refused (413) past COLLAB_MAX_MESSAGE_BYTES as every body is."""
    limit = settings.COLLAB_MAX_MESSAGE_BYTES
    if _declared_length(request) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    body = request.data
    if not isinstance(body, bytes):
        body = b""
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return body


@contextmanager
def live_write_errors():
    """What applying a change to a live document can refuse, as the API answers it."""
    try:
        yield
    except Overloaded:
        raise TryAgainLater() from None
    except DocumentTooLarge:
        raise PayloadTooLarge(
            f"the document would grow past {settings.COLLAB_MAX_DOCUMENT_BYTES} bytes"
        ) from None
    except ProtocolError as exc:
        raise ParseError(str(exc)) from None


class MemberViewSet(viewsets.ViewSet):
    """Sharing: owners list, add, change and remove members."""

    serializer_class = MemberSerializer
    lookup_field = "username"
    lookup_value_regex = "[^/]+"

    def _document(self, request, document_pk):
        document = document_or_404(document_pk)
        require_role(request, document, Role.OWNER)
        return document

    @extend_schema(responses=MemberSerializer(many=True))
    def list(self, request, document_pk=None):
        document = self._document(request, document_pk)
        members = document.memberships.select_related("user").order_by("user__username")
        return Response([MemberSerializer.of(m) for m in members])

    @extend_schema(request=MemberSerializer, responses={201: MemberSerializer})
    def create(self, request, document_pk=None):
        document = self._document(request, document_pk)
        serializer = MemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = get_user_model().objects.get(username=serializer.validated_data["username"])
        membership, created = Membership.objects.update_or_create(
            document=document, user=user, defaults={"role": serializer.validated_data["role"]}
        )
        return Response(
            MemberSerializer.of(membership),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(responses={204: None})
    def destroy(self, request, document_pk=None, username=None):
        document = self._document(request, document_pk)
        membership = get_object_or_404(Membership, document=document, user__username=username)
        membership.delete()  # its sockets close 4403 (documents.access_changes)
        return Response(status=status.HTTP_204_NO_CONTENT)
