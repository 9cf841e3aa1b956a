"""Attaching a file to a custody event in a real browser: the clerk picks the file on the record
form, the timeline lists it, and the download gives back the same bytes (whose hash the signed
event carries)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from .test_handover_screen import SHOTS, sign_in

pytestmark = pytest.mark.browser

ORDER = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def files_world(transactional_db: Any, guarded_flush: None, live_server: Any, settings: Any, agencies: dict[str, Any],
                facility_factory: Any, person_factory: Any, make_user: Any, tmp_path: Path) -> dict[str, Any]:
    from custody.ledger import services

    settings.DEMO_MODE = True
    settings.LEDGER_KEY_FILE = tmp_path / "ledger-key.pem"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    services._key_for.cache_clear()
    facility_factory("HSK", custodian="SDF", kind="prison", name="Hasakah Central")
    return {"url": live_server.url, "person": person_factory(held_by="SDF"), "sdf": make_user("SDF", "clerk")}


def test_a_clerk_attaches_a_court_order_and_downloads_it_back(browser: Any, files_world: dict[str, Any],
                                                               tmp_path: Path) -> None:
    from custody.ledger.models import LedgerEvent

    w, base = files_world, files_world["url"]
    order = tmp_path / "court-order.pdf"
    order.write_bytes(ORDER)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True)
    try:
        page = context.new_page()
        sign_in(page, base, w["sdf"])
        page.goto(base + "/ledger/record/")
        page.fill("input[name=person]", w["person"].ref)
        page.select_option("select[name=kind]", "intake")
        page.select_option("select[name=facility]", "HSK")
        page.fill("input[name=reason]", "committed by the court")
        page.set_input_files("input[name=files]", str(order))
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"**/ledger/people/{w['person'].ref}/")
        link = page.get_by_role("link", name="court-order.pdf")
        assert link.is_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "ledger-timeline-with-file.png"), full_page=True)
        with page.expect_download() as info:
            link.click()
        assert Path(info.value.path()).read_bytes() == ORDER
        event = LedgerEvent.objects.get(person=w["person"])
        assert json.loads(event.body)["attachments"] == [hashlib.sha256(ORDER).hexdigest()]
    finally:
        context.close()
