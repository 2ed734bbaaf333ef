from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from documents.api.views import DocumentViewSet, MemberViewSet

router = SimpleRouter(trailing_slash="/?")
router.register("documents", DocumentViewSet, basename="document")

members = MemberViewSet.as_view({"get": "list", "post": "create"})
member = MemberViewSet.as_view({"delete": "destroy"})

urlpatterns = [
    *router.urls,
    path("documents/<uuid:document_pk>/members/", members, name="document-members"),
    path("documents/<uuid:document_pk>/members/<str:username>/", member, name="document-member"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
