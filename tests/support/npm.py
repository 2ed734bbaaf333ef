"""Node packages the tests drive (the bench's peers and load generator), installed on demand."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def npm_ci(folder: Path) -> None:
    """`npm ci` in `folder` unless its node_modules is there (a few seconds, from the lock)."""
    assert shutil.which("node") and shutil.which("npm"), "node and npm are needed for the bench"
    if not (folder / "node_modules").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            check=True,
            timeout=300,
        )
