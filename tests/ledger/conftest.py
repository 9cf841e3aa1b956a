"""Ledger fixtures: a signing key per test, two facilities and officers on each side of a handover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def ledger_key(tmp_path: Any, settings: Any) -> Any:
    from custody.ledger import services

    settings.LEDGER_KEY_FILE = tmp_path / "ledger-key.pem"
    settings.LEDGER_CHECKPOINT_EVENTS = 5
    services._key_for.cache_clear()
    yield settings.LEDGER_KEY_FILE
    services._key_for.cache_clear()


@pytest.fixture
def world(agencies: dict[str, Any], facility_factory: Any, make_user: Any) -> dict[str, Any]:
    return {
        "prison": facility_factory("HSK", custodian="SDF", kind="prison"),
        "biap": facility_factory("BIAP", custodian="IRQ", kind="receiving", country="IQ"),
        "hospital": facility_factory("HOSP", custodian="SDF", kind="hospital"),
        "sdf": make_user("SDF", "clerk"),
        "mil": make_user("MIL", "clerk"),
        "irq": make_user("IRQ", "clerk"),
        "sup": make_user("CIO", "supervisor"),
        "agencies": agencies,
    }


T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def transfer(world: dict[str, Any]) -> Any:
    """Records the whole journey of one person: intake at HSK, manifest, handover to MIL, departure,
    arrival at BIAP, handover to IRQ. Returns the list of recorded events."""
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    def run(person: Any, manifest: str = "M-1", start: int = 0) -> list[Any]:
        w, a = world, world["agencies"]
        specs = [
            EventSpec("intake", person, at(start), facility=w["prison"]),
            EventSpec("manifested", person, at(start + 10), manifest=manifest, to_facility=w["biap"],
                      expected_arrival=at(start + 180)),
            EventSpec("handed_over", person, at(start + 20), custodian=a["MIL"], sending_officer=w["sdf"],
                      receiving_officer=w["mil"], identity_check="match"),
            EventSpec("departed", person, at(start + 30), facility=w["prison"], manifest=manifest),
            EventSpec("arrived", person, at(start + 120), facility=w["biap"], manifest=manifest),
            EventSpec("handed_over", person, at(start + 130), custodian=a["IRQ"], sending_officer=w["mil"],
                      receiving_officer=w["irq"], identity_check="match"),
        ]
        return [record_event(s, user=w["sdf"]).event for s in specs]

    return run
