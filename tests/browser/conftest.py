"""Playwright (sync API) driving Debian's chromium against pytest-django's live_server.

Every test here is marked `browser`. The browser runs headless with --no-sandbox and no background
networking; there is no browser download on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Playwright's sync API keeps an asyncio loop running in the test's thread; Django would then refuse
# the fixtures' ORM calls as "async context". They are plain synchronous calls (Django's documented
# escape hatch for this case).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(30_000)  # a shared, busy machine: generous, never asserted
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def guarded_flush(transactional_db: Any) -> Iterator[None]:
    """live_server needs transactional_db, which empties every table after the test. The audit trail
    and the change history refuse DELETE by design (database triggers), so before the flush the guards
    are dropped; the flush's post_migrate signal installs them again (custody.core.apps)."""
    yield
    from django.db import connection

    from custody.core.history import tracked_models

    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            from custody.ledger.models import APPEND_ONLY_TABLES

            for table in ("core_auditevent", "core_historychange", *APPEND_ONLY_TABLES):
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}_update"')
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}_delete"')
            for model in tracked_models():
                for op in ("insert", "update", "delete"):
                    cur.execute(f'DROP TRIGGER IF EXISTS "hist_{model._meta.db_table}_{op}"')
        # PostgreSQL's flush is a TRUNCATE, which row triggers do not see.
