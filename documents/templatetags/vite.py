"""`{% vite_assets "src/pages/editor.js" %}`: the tags that load one of the frontend's entries.

Vite names its files by content hash (assets/editor-1a2b3c.js) and records which source became
which file in frontend/dist/.vite/manifest.json; templates name the source and this tag looks up
the built files, the stylesheets they need, and the chunks to preload.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

MANIFEST = Path(settings.BASE_DIR) / "frontend" / "dist" / ".vite" / "manifest.json"


class FrontendNotBuilt(RuntimeError):
    pass


@lru_cache(maxsize=4)
def _manifest(path: Path, mtime: float) -> dict:
    return json.loads(path.read_text())


def load_manifest(path: Path = MANIFEST) -> dict:
    """The manifest, re-read whenever `npm run build` rewrote it."""
    try:
        return _manifest(path, path.stat().st_mtime)
    except FileNotFoundError:
        raise FrontendNotBuilt(
            f"{path} is missing: build the frontend first (`make frontend`)"
        ) from None


def entry_files(manifest: dict, entry: str) -> tuple[list[str], list[str], list[str]]:
    """(scripts, stylesheets, chunks to preload) of one entry, its imports' included."""
    if entry not in manifest:
        raise FrontendNotBuilt(f"{entry} is not an entry of the frontend build")
    chunk = manifest[entry]
    scripts, styles, preloads = [], [], []
    if chunk["file"].endswith(".css"):
        styles.append(chunk["file"])
    else:
        scripts.append(chunk["file"])
    styles.extend(chunk.get("css", []))
    seen = set()
    pending = list(chunk.get("imports", []))
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        imported = manifest[name]
        preloads.append(imported["file"])
        styles.extend(css for css in imported.get("css", []) if css not in styles)
        pending.extend(imported.get("imports", []))
    return scripts, styles, preloads


@register.simple_tag
def vite_assets(*entries: str) -> str:
    try:
        manifest = load_manifest()
        files = [entry_files(manifest, entry) for entry in entries]
    except FrontendNotBuilt as exc:
        # Visible on the page rather than a server error: the HTML still works without scripts.
        return format_html('<p class="error" role="alert">{}</p>', exc)
    scripts, styles, preloads = ([f for group in files for f in group[i]] for i in range(3))
    tags = (
        [format_html('<link rel="stylesheet" href="{}">', static(f)) for f in dict.fromkeys(styles)]
        + [
            format_html('<link rel="modulepreload" href="{}">', static(f))
            for f in dict.fromkeys(preloads)
        ]
        + [
            format_html('<script type="module" src="{}"></script>', static(f))
            for f in dict.fromkeys(scripts)
        ]
    )
    return mark_safe("\n".join(tags))  # each tag was escaped by format_html
