"""Uploaded rosters waiting between the upload and the import: kept under VAR_DIR/uploads by a random
token, and removed by the task queue once UPLOAD_MAX_AGE_HOURS have passed without an import (a clerk
who uploads and walks away left the file on disk for ever, with the names it holds; issue 14)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings


def upload_dir() -> Path:
    return Path(settings.VAR_DIR) / "uploads"


def max_age() -> timedelta:
    return timedelta(hours=float(getattr(settings, "UPLOAD_MAX_AGE_HOURS", 24)))


def sweep(now: float | None = None) -> list[str]:
    """Remove every upload older than max_age(), including a `.committing` claim left by a commit that
    died mid-way (a live commit takes seconds, never hours). Returns the names removed."""
    folder = upload_dir()
    if not folder.is_dir():
        return []
    cutoff = (now if now is not None else time.time()) - max_age().total_seconds()
    removed = []
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path.name)
        except FileNotFoundError:
            continue  # imported or swept by someone else meanwhile
    return sorted(removed)
