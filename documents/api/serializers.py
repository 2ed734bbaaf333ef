from django.contrib.auth import get_user_model
from rest_framework import serializers

from documents.access import role_for
from documents.models import Document, DocumentVersion, Membership, Role


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


class ChangeSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["equal", "insert", "delete"])
    text = serializers.CharField()


class DiffSerializer(serializers.Serializer):
    """A word-level diff (documents.richtext.diff), for the schema."""

    changes = ChangeSerializer(many=True)
