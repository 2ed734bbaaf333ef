"""The application, once loaded, has the collector tuned (documents/server/gc_tuning.py)."""

import gc

from documents.server import gc_tuning


def test_loading_the_application_freezes_what_startup_made_and_raises_the_thresholds():
    import collab.asgi  # noqa: F401  (what every server imports first)

    assert gc.get_freeze_count() > 10_000  # Django, the apps, the URL map
    assert gc.get_threshold() == (
        gc_tuning.YOUNG_THRESHOLD,
        gc_tuning.MIDDLE_THRESHOLD,
        gc_tuning.OLD_THRESHOLD,
    )
