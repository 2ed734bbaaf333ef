"""Version history over HTTP: list and take named versions, restore one for everyone, read one
in any format, and compare it with another or with now."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import versions
from documents.api.errors import QuotaExceeded
from documents.api.negotiation import FirstRenderer
from documents.api.permissions import require_role
from documents.api.serializers import DiffSerializer, VersionCreateSerializer, VersionSerializer
from documents.api.views import (
    CONTENT_RESPONSES,
    FORMAT_PARAMETER,
    content_response,
    document_or_404,
)
from documents.models import DocumentVersion, Role
from documents.richtext import formats
from documents.richtext.diff import diff_html, word_diff
from documents.scoped_tokens import account_of
from documents.server import live_rooms


class VersionListView(generics.GenericAPIView):
    """Viewers list a document's versions (newest first); editors take a named one."""

    serializer_class = VersionSerializer

    def get_queryset(self):
        return DocumentVersion.objects.none()

    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request, document_pk):
        document = document_or_404(document_pk)
        require_role(request, document, Role.VIEWER)
        queryset = document.versions.select_related("author").defer("state")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(VersionSerializer(page, many=True).data)

    @extend_schema(request=VersionCreateSerializer, responses={201: VersionSerializer})
    def post(self, request, document_pk):
        document = document_or_404(document_pk)
        require_role(request, document, Role.EDITOR)
        serializer = VersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            version = versions.create_version(
                document,
                name=serializer.validated_data["name"],
                author=account_of(request.user),
            )
        except versions.VersionLimitReached:
            raise QuotaExceeded(
                "this document has as many named versions as allowed "
                "(COLLAB_MAX_VERSIONS_PER_DOCUMENT)"
            ) from None
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionRestoreView(APIView):
    """Editors make the live document equal to a version, as a new change for everyone."""

    @extend_schema(request=None, responses={200: VersionSerializer})
    def post(self, request, document_pk, version_id):
        document = document_or_404(document_pk)
        require_role(request, document, Role.EDITOR)
        version = get_object_or_404(DocumentVersion, document=document, pk=version_id)
        versions.restore_version(version)
        return Response(VersionSerializer(version).data)


class VersionContentView(APIView):
    """Viewers read a version's rich text in any format the live content has."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRenderer  # `?format=` is the content's, not DRF's

    @extend_schema(parameters=[FORMAT_PARAMETER], responses=CONTENT_RESPONSES)
    def get(self, request, document_pk, version_id):
        document = document_or_404(document_pk)
        require_role(request, document, Role.VIEWER)
        version = get_object_or_404(DocumentVersion, document=document, pk=version_id)
        return content_response(bytes(version.state), request)


class VersionDiffView(APIView):
    """Viewers compare a version with another version of the document, or with now."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = FirstRenderer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "against",
                str,
                required=True,
                description="another version's id, or `current` for the live document",
            ),
            OpenApiParameter("format", str, enum=["json", "html"], default="json"),
        ],
        responses={(200, "application/json"): DiffSerializer, (200, "text/html"): str},
        description="What changed from this version to `against`, word by word in document "
        "order: `equal`, `delete` (only in this version) and `insert` (only in `against`); as "
        "HTML, one `<p>` per block with `<del>` and `<ins>`.",
    )
    def get(self, request, document_pk, version_id):
        document = document_or_404(document_pk)
        require_role(request, document, Role.VIEWER)
        version = get_object_or_404(DocumentVersion, document=document, pk=version_id)
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "html"):
            raise ValidationError({"format": ["use json or html"]})
        other = self._against(document, request.query_params.get("against", ""))
        changes = word_diff(
            formats.render(bytes(version.state), "text"), formats.render(other, "text")
        )
        if fmt == "html":
            return HttpResponse(diff_html(changes), content_type="text/html; charset=utf-8")
        return Response({"changes": changes})

    @staticmethod
    def _against(document, against: str) -> bytes:
        if against == "current":
            return live_rooms.document_state(str(document.pk))
        if not against.isascii() or not against.isdigit():
            raise ValidationError({"against": ["a version id of this document, or `current`"]})
        return bytes(get_object_or_404(DocumentVersion, document=document, pk=int(against)).state)
