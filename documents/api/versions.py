"""Version history over HTTP: list and take named versions, restore one for everyone."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from documents import versions
from documents.api.errors import QuotaExceeded
from documents.api.permissions import require_role
from documents.api.serializers import VersionCreateSerializer, VersionSerializer
from documents.api.views import document_or_404
from documents.models import DocumentVersion, Role
from documents.scoped_tokens import account_of


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
