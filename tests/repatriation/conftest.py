"""Nationals of Tunisia and France in custody, in every situation the rules care about. Each carries
markers (RATIONALE-..., FACTION-...) that must never reach an export."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class RepWorld:
    fac: Any
    tn: Any          # Tunisian, in custody (with a ledger intake)
    dual: Any        # Tunisian and French
    minor: Any       # Tunisian minor
    trial: Any       # Tunisian with a pending trial (charged)
    gone: Any        # Tunisian, not in custody
    secret: Any      # Tunisian, record classified Confidential
    hidden: Any      # Tunisian, record releasable to IRQ only


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def rw(agencies: dict[str, Any], facility_factory: Any, person_factory: Any, make_user: Any) -> RepWorld:
    from custody.cases import services as cases
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec
    from custody.registry.models import Identifier, Nationality

    fac = facility_factory("RIRQ1", custodian="IRQ", kind="prison", country="IQ")

    def mk(ref: str, name: str, name_ar: str, **extra: Any) -> Any:
        return person_factory(name, name_ar, facility=extra.pop("facility", fac), nationality=extra.pop("nationality", "TN"), ref=ref,
                              risk_tier=1, risk_rationale=f"RATIONALE-{ref}", faction=f"FACTION-{ref}", **extra)

    tn = mk("P-820001", "Anis Ben Salah", "أنيس بن صالح", father_name="Salah", mother_name="Fatma Trabelsi")
    record_event(EventSpec(kind="intake", person=tn, occurred_at=dt.datetime(2026, 1, 25, 9, tzinfo=dt.UTC), facility=fac))
    tn.refresh_from_db()
    Identifier.objects.create(person=tn, kind="passport", country="TN", value="TN1234567")
    Identifier.objects.create(person=tn, kind="prisoner", authority=agencies["IRQ"], value="PR-INTERNAL-77")
    dual = mk("P-820002", "Karim Haddad", "كريم حداد")
    Nationality.objects.create(person=dual, country="FR")
    minor = mk("P-820003", "Youssef Mejri", "يوسف المجري", is_minor=True)
    trial = mk("P-820004", "Hamza Jaziri", "حمزة الجزيري")
    cases.do_set_case_status(make_user("IRQ", "clerk"), trial, stage="charged", on=dt.date(2026, 2, 1), court="Central Criminal Court")
    gone = mk("P-820005", "Walid Gharbi", "وليد الغربي", facility=None)
    secret = mk("P-820006", "Sami Ferchichi", "سامي الفرشيشي", classification=2)
    hidden = mk("P-820007", "Nabil Dridi", "نبيل الدريدي", release_all=False, originating_agency=agencies["IRQ"])
    return RepWorld(fac, tn, dual, minor, trial, gone, secret, hidden)
