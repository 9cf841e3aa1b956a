"""The handover screen in a real browser, as two officers use it: the sending clerk opens the handover
and confirms each person by typing the wristband (a scanner types the same keys); the receiving clerk,
working in Arabic, confirms with the result of the identity check. The ledger records one handed_over
event per person only once both sides have confirmed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pages"


@pytest.fixture
def handover_world(transactional_db: Any, guarded_flush: None, live_server: Any, settings: Any, agencies: dict[str, Any],
                   facility_factory: Any, person_factory: Any, make_user: Any, tmp_path: Path) -> dict[str, Any]:
    from datetime import UTC, datetime

    from custody.ledger import services
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec
    from custody.registry.models import Identifier

    settings.DEMO_MODE = True
    settings.LEDGER_KEY_FILE = tmp_path / "ledger-key.pem"
    services._key_for.cache_clear()
    prison = facility_factory("HSK", custodian="SDF", kind="prison", name="Hasakah Central")
    people = [person_factory() for _ in range(2)]
    for i, p in enumerate(people):
        Identifier.objects.create(person=p, kind="wristband", value=f"WB-40{i}")
        record_event(EventSpec("intake", p, datetime(2026, 1, 5, 6, i, tzinfo=UTC), facility=prison))
    return {"url": live_server.url, "people": people, "sdf": make_user("SDF", "clerk"), "mil": make_user("MIL", "clerk")}


def sign_in(page: Any, base: str, user: Any, prefix: str = "") -> None:
    page.goto(f"{base}{prefix}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "a-long-test-password")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url


def test_both_sides_confirm_person_by_person(browser: Any, handover_world: dict[str, Any]) -> None:

    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}, locale=loc) for loc in ("en-GB", "ar")]
    try:
        run_handover(handover_world, *(c.new_page() for c in contexts))
    finally:
        # Closed before the live server's database connection goes: its keep-alive threads close with it.
        for c in contexts:
            c.close()


def run_handover(w: dict[str, Any], sender: Any, receiver: Any) -> None:
    from custody.ledger.models import LedgerEvent

    base = w["url"]
    sign_in(sender, base, w["sdf"])
    sign_in(receiver, base, w["mil"], prefix="/ar")

    sender.goto(base + "/ledger/handovers/")
    sender.select_option("select[name=facility]", "HSK")
    sender.select_option("select[name=from_custodian]", "SDF")
    sender.select_option("select[name=to_custodian]", "MIL")
    sender.fill("input[name=manifest]", "M-0105-1")
    sender.fill("textarea[name=people]", " ".join(p.ref for p in w["people"]))
    sender.locator("form button[type=submit]").last.click()
    sender.wait_for_url("**/ledger/handovers/H-*/")
    detail = sender.url.removeprefix(base)

    # A wrong wristband is refused with the rule named, and nothing is confirmed.
    first = sender.locator("tbody tr").first
    first.locator("input[name=wristband]").fill("WB-499")
    first.locator("button").click()
    sender.wait_for_load_state()
    assert "wristband" in sender.locator("main").inner_text().lower()
    for i in range(2):
        row = sender.locator("tbody tr").nth(i)
        row.locator("input[name=wristband]").fill(f"wb 40{i}")  # as typed: case and spacing do not matter
        row.locator("button").click()
        sender.wait_for_load_state()
    assert sender.locator("tbody tr td:nth-child(3)").all_inner_texts()[0].startswith("✓ ")
    assert not LedgerEvent.objects.filter(kind="handed_over").exists()  # the receiving side has not confirmed

    receiver.goto(f"{base}/ar{detail}")
    assert receiver.locator("html").get_attribute("dir") == "rtl"
    for i in range(2):
        row = receiver.locator("tbody tr").nth(i)
        row.locator("input[name=wristband]").fill(f"WB-40{i}")
        row.locator("select[name=identity_check]").select_option("match")
        row.locator("button").click()
        receiver.wait_for_load_state()
    SHOTS.mkdir(parents=True, exist_ok=True)
    receiver.screenshot(path=str(SHOTS / "handover-done-ar.png"), full_page=True)
    events = list(LedgerEvent.objects.filter(kind="handed_over").order_by("seq"))
    assert [e.person_id for e in events] == [p.pk for p in w["people"]]
    assert all(e.custodian.code == "MIL" for e in events)
    cells = receiver.locator("tbody tr td:nth-child(6)").all_inner_texts()
    assert cells == [f"#{e.seq}" for e in events]
    # Both confirmed: the sending side now offers the signed bundle a partner verifies offline.
    sender.goto(base + detail)
    assert sender.locator("a[href$='/bundle/']").count() == 1
