from django.contrib import admin
from django.urls import include, path

from documents.server import health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("documents.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("", include("documents.urls")),
]

handler404 = "documents.api.errors.not_found"
handler500 = "documents.api.errors.unhandled"
