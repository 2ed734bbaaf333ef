"""The application, once loaded, has frozen what startup made (documents/server/gc_tuning.py)
and leaves CPython's own collector thresholds alone."""

import gc
import subprocess
import sys


def test_loading_the_application_freezes_what_startup_made_and_keeps_the_thresholds():
    import collab.asgi  # noqa: F401  (what every server imports first)

    assert gc.get_freeze_count() > 10_000  # Django, the apps, the URL map
    fresh = subprocess.run(
        [sys.executable, "-c", "import gc; print(gc.get_threshold())"],
        capture_output=True,
        text=True,
        check=True,
    )
    # Raised thresholds kept reference cycles until a rare full collection over a grown heap.
    assert str(gc.get_threshold()) == fresh.stdout.strip()
