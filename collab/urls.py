from django.contrib import admin
from django.urls import include, path

from documents import ops

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("documents.api.urls")),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("", include("documents.urls")),
]

handler404 = "documents.api.errors.not_found"
