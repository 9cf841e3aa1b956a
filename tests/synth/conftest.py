"""The plain-Python generator tests run with `-p no:django`; the loader's tests need pytest-django."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in ("test_load.py", "test_duplicates_load.py") and not config.pluginmanager.hasplugin("django"):
        return True
    return None
