from django.contrib.auth import get_user_model
from rest_framework import serializers

from documents.access import role_for
from documents.models import (
    Document,
    DocumentToken,
    DocumentVersion,
    Membership,
    Role,
    ScopedRole,
)


class DocumentSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = ["id", "title", "role", "created_at", "updated_at"]
        read_only_fields = ["id", "role", "created_at", "updated_at"]

    def get_role(self, document) -> str | None:
        return role_for(self.context["request"].user, document)


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)

    def validate_username(self, value):
        user = get_user_model().objects.filter(username=value).first()
        if user is None:
            raise serializers.ValidationError("no such user")
        return value

    @staticmethod
    def of(membership: Membership) -> dict:
        return {"username": membership.user.get_username(), "role": membership.role}


class VersionSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = DocumentVersion
        fields = ["id", "name", "author", "automatic", "created_at", "preview"]
        read_only_fields = fields

    def get_author(self, version) -> str | None:
        return version.author.get_username() if version.author is not None else None


class VersionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class DocumentTokenSerializer(serializers.ModelSerializer):
    """A document token as listed: everything but the secret, which only minting shows."""

    class Meta:
        model = DocumentToken
        fields = ["id", "role", "expires_at", "label", "created_at"]
        read_only_fields = fields


class DocumentTokenMintSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ScopedRole.choices)
    expires_in = serializers.IntegerField(
        min_value=1,
        max_value=int(DocumentToken.LONGEST.total_seconds()),
        error_messages={
            "max_value": "at most {max_value} seconds (30 days)",
            "min_value": "at least {min_value} second",
        },
        help_text="seconds the token stays valid, at most 30 days",
    )
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MintedTokenSerializer(serializers.Serializer):
    """The answer to minting: the only time the token itself is shown."""

    id = serializers.UUIDField()
    token = serializers.CharField()
    role = serializers.CharField()
    expires_at = serializers.DateTimeField()
    label = serializers.CharField()


class ChangeSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["equal", "insert", "delete"])
    text = serializers.CharField()


class DiffSerializer(serializers.Serializer):
    """A word-level diff (documents.richtext.diff), for the schema."""

    changes = ChangeSerializer(many=True)
