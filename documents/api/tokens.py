"""Document tokens over HTTP (SPEC.md, "Document-scoped tokens"): the owner mints, lists and
revokes the bearer tokens of one document that a product hands its own users."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.api.permissions import require_role
from documents.api.serializers import (
    DocumentTokenMintSerializer,
    DocumentTokenSerializer,
    MintedTokenSerializer,
)
from documents.api.views import document_or_404
from documents.models import DocumentToken, Role
from documents.scoped_tokens import account_of


class DocumentTokenListView(APIView):
    """The owner's: a document's tokens that still work, and minting one."""

    def _document(self, request, document_pk):
        document = document_or_404(document_pk)
        require_role(request, document, Role.OWNER)
        return document

    @extend_schema(responses=DocumentTokenSerializer(many=True))
    def get(self, request, document_pk):
        document = self._document(request, document_pk)
        tokens = document.tokens.filter(expires_at__gt=timezone.now())
        return Response(DocumentTokenSerializer(tokens, many=True).data)

    @extend_schema(request=DocumentTokenMintSerializer, responses={201: MintedTokenSerializer})
    def post(self, request, document_pk):
        document = self._document(request, document_pk)
        serializer = DocumentTokenMintSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row, token = DocumentToken.issue(
            document, created_by=account_of(request.user), **serializer.validated_data
        )
        minted = {
            "id": row.pk,
            "token": token,
            "role": row.role,
            "expires_at": row.expires_at,
            "label": row.label,
        }
        return Response(MintedTokenSerializer(minted).data, status=status.HTTP_201_CREATED)


class DocumentTokenView(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, document_pk, token_id):
        """Revoke: the connections opened with it close with 4401 on every process
        (documents.access_changes)."""
        document = document_or_404(document_pk)
        require_role(request, document, Role.OWNER)
        get_object_or_404(DocumentToken, document=document, pk=token_id).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
