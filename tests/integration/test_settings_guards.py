"""Settings that would make a server unsafe are refused at start, with a message that says what
to do; the generated secret key is readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start(**env: str) -> subprocess.CompletedProcess:
    """`manage.py check` with only `env` (no test key, no database of this shell)."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_allowed_hosts_star_is_refused_outside_debug(tmp_path):
    result = start(SECRET_KEY="k" * 50, ALLOWED_HOSTS="*", COLLAB_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "ALLOWED_HOSTS=* is refused when DEBUG is off" in result.stderr


def test_allowed_hosts_star_is_allowed_for_development(tmp_path):
    result = start(ALLOWED_HOSTS="*", DEBUG="1", COLLAB_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_the_generated_secret_key_is_readable_by_its_owner_only(tmp_path):
    assert start(COLLAB_VAR_DIR=str(tmp_path)).returncode == 0
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    key_file.chmod(0o644)  # written by an older version
    assert start(COLLAB_VAR_DIR=str(tmp_path)).returncode == 0
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == key  # the same key: sessions survive


def test_a_jwt_secret_shorter_than_hs256_needs_is_refused(tmp_path):
    short = start(SECRET_KEY="k" * 50, COLLAB_JWT_SECRET="s" * 31, COLLAB_VAR_DIR=str(tmp_path))
    assert short.returncode != 0
    assert "COLLAB_JWT_SECRET must be at least 32 bytes" in short.stderr
    enough = start(SECRET_KEY="k" * 50, COLLAB_JWT_SECRET="s" * 32, COLLAB_VAR_DIR=str(tmp_path))
    assert enough.returncode == 0, enough.stderr
