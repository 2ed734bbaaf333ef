from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from documents.api import schema  # noqa: F401  (registers the bearer scheme)
from documents.api.tokens import DocumentTokenListView, DocumentTokenView
from documents.api.versions import (
    VersionContentView,
    VersionDiffView,
    VersionListView,
    VersionRestoreView,
)
from documents.api.views import DocumentViewSet, MemberViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # SPEC writes `.../state` and `.../documents/`: both forms work
router.register("documents", DocumentViewSet, basename="document")


class UsernameConverter:
    """Django's username characters only: anything else (a NUL byte, say) is a 404, never a
    database error."""

    regex = r"[\w.@+-]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(UsernameConverter, "username")

members = MemberViewSet.as_view({"get": "list", "post": "create"})
member = MemberViewSet.as_view({"delete": "destroy"})
DOCUMENT = "documents/<uuid:document_pk>"
VERSION = r"documents/(?P<document_pk>[0-9a-fA-F-]{36})/versions/(?P<version_id>[0-9]{1,18})"

urlpatterns = [
    *router.urls,
    path(f"{DOCUMENT}/members/", members, name="document-members"),
    path(f"{DOCUMENT}/members/<username:username>/", member, name="document-member"),
    path(f"{DOCUMENT}/versions/", VersionListView.as_view(), name="document-versions"),
    path(
        f"{DOCUMENT}/versions/<int:version_id>/restore/",
        VersionRestoreView.as_view(),
        name="document-version-restore",
    ),
    path(f"{DOCUMENT}/tokens/", DocumentTokenListView.as_view(), name="document-tokens"),
    path(
        f"{DOCUMENT}/tokens/<uuid:token_id>/",
        DocumentTokenView.as_view(),
        name="document-token",
    ),
    # SPEC.md writes these without the trailing slash; both forms work, as for the router's.
    re_path(
        rf"^{VERSION}/content/?$", VersionContentView.as_view(), name="document-version-content"
    ),
    re_path(rf"^{VERSION}/diff/?$", VersionDiffView.as_view(), name="document-version-diff"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
