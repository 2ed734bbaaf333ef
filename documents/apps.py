from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    verbose_name = "Documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from documents import (
            access_changes,  # noqa: F401  (connects the signal receivers)
            retention,
            versions,
        )
        from documents.server import background, live_connections

        # What every server process runs beside its connections, from start to stop.
        background.on_start(live_connections.keep_rows_renewed)
        background.on_start(versions.take_automatic_versions)
        background.on_start(retention.apply_periodically)
