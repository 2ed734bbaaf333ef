from django.contrib import admin
from django.urls import include, path

from documents import metrics, ops

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("documents.api.urls")),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", include("documents.urls")),
]

handler404 = "documents.api.errors.not_found"
