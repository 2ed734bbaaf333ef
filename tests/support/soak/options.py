"""What a soak run is asked to do (scripts/soak's options); no Django here, so the command line
can be read before Django is set up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_AUTO_VERSION_MINUTES = 10.0  # collab/settings.py's default
AUTO_VERSION_WINDOWS = 10  # an automatic version every 10 windows, as the default every 10 min


@dataclass
class SoakOptions:
    minutes: float
    out: Path
    seed: int = 0
    window_seconds: float = 60
    processes: int = 2
    rooms: int = 30
    typists_per_room: int = 3
    edits_per_second: float = 2.0  # per typist
    keep: int = 40  # markers in each typist's paragraph: a bounded document however long
    fresh_per_window: int = 3
    api_per_second: float = 3.0
    sign_ins_per_window: int = 2
    server_env: dict[str, str] = field(default_factory=dict)  # --server-env, on top of ours

    @property
    def windows(self) -> int:
        return max(2, round(self.minutes * 60 / self.window_seconds))

    def server_settings(self) -> dict[str, str]:
        """What the servers get beside the defaults. COLLAB_AUTO_VERSION_MINUTES only when a run
        is too short for the default (10): at most a quarter of the run, so that the first
        round (every long-lived room at once) comes before the second half, whose RSS slope is
        judged, and the rounds there repeat work already done."""
        settings = {}
        minutes = min(
            AUTO_VERSION_WINDOWS * self.window_seconds / 60,
            self.windows * self.window_seconds / 60 / 4,
        )
        if minutes != DEFAULT_AUTO_VERSION_MINUTES:
            settings["COLLAB_AUTO_VERSION_MINUTES"] = f"{minutes:g}"
        return {**settings, **self.server_env}
