"""Delegation: a custodian lets another agency record for its people (at one facility, for a time, with a
reason), visibly and revocably; and a refusal by the custodian rule names the rule and the holding
agency, in English and in Arabic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from custody.core.models import AuditEvent
from custody.ledger.models import Delegation, LedgerEvent

from .conftest import at


def _held(world: dict[str, Any], person_factory: Any, facility: Any) -> Any:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    p = person_factory()
    record_event(EventSpec("intake", p, at(0), facility=facility))
    return p


def _move(api: Any, person: Any, block: str) -> Any:
    return api.post("/api/ledger/events/", {"kind": "moved", "person": person.ref, "facility": "HSK",
                                            "occurred_at": "2026-01-06T08:00:00Z", "data": {"block": block}},
                    format="json")


def test_a_delegation_lets_the_other_agency_record_there_until_revoked(world: dict[str, Any], person_factory: Any,
                                                                         make_user: Any, api_for: Any,
                                                                         client_for: Any) -> None:
    at_hsk, in_hospital = _held(world, person_factory, world["prison"]), _held(world, person_factory, world["hospital"])
    hum = api_for(make_user("HUM", "clerk"))
    refused = _move(hum, at_hsk, "B")
    assert refused.status_code == 403 and refused.json()["rule"] == "custodian"
    assert "is held by SDF" in refused.json()["detail"] and "delegates" in refused.json()["detail"]

    sdf_sup = make_user("SDF", "supervisor")
    page = client_for(sdf_sup)
    r = page.post("/ledger/delegations/", {"to_agency": "HUM", "facility": "HSK", "reason": "Observers count at HSK",
                                           "valid_from": timezone.localdate().isoformat()})
    assert r.status_code == 302
    d = Delegation.objects.get()
    assert (d.from_agency.code, d.to_agency.code, d.facility.code, d.created_by) == ("SDF", "HUM", "HSK", sdf_sup)
    assert AuditEvent.objects.filter(action="ledger.delegate", user=sdf_sup, outcome="ok").count() == 1

    assert _move(hum, at_hsk, "B").status_code == 201  # at the facility the delegation names
    assert LedgerEvent.objects.filter(person=at_hsk, kind="moved").count() == 1
    # Not for the people SDF holds elsewhere.
    elsewhere = hum.post("/api/ledger/events/", {"kind": "released", "person": in_hospital.ref,
                                                 "occurred_at": "2026-01-06T08:00:00Z"}, format="json")
    assert elsewhere.status_code == 403
    # Everyone sees it, in both languages.
    listing = client_for(make_user("IRQ", "viewer")).get("/ledger/delegations/").content.decode()
    assert "Observers count at HSK" in listing and "in force" in listing
    ar = client_for(make_user("HUM", "viewer")).get("/ar/ledger/delegations/").content.decode()
    assert "من يجوز له التسجيل نيابة عن من" in ar and "ساري" in ar
    assert api_for(make_user("MFA", "viewer")).get("/api/ledger/delegations/").json()["results"][0]["to_agency"] == "HUM"

    # Only SDF's supervisors revoke it; then HUM is refused again.
    other = api_for(make_user("IRQ", "supervisor")).post(f"/api/ledger/delegations/{d.pk}/revoke/", {"reason": "x"},
                                                         format="json")
    assert other.status_code == 403 and "SDF" in other.json()["detail"]
    assert page.post(f"/ledger/delegations/{d.pk}/revoke/", {"reason": "Our clerks are back"}).status_code == 302
    d.refresh_from_db()
    assert d.revoked_by == sdf_sup and d.revoke_reason == "Our clerks are back"
    assert _move(hum, at_hsk, "C").status_code == 403
    assert AuditEvent.objects.filter(action="ledger.delegation_revoke", outcome="denied").count() == 1


def test_a_delegation_holds_only_between_its_dates(world: dict[str, Any], person_factory: Any, make_user: Any,
                                                   api_for: Any) -> None:
    from custody.ledger.services import do_delegate

    p = _held(world, person_factory, world["prison"])
    sdf_sup, hum = make_user("SDF", "supervisor"), api_for(make_user("HUM", "clerk"))
    today = timezone.localdate()
    do_delegate(sdf_sup, to_agency="HUM", valid_from=today + timedelta(days=1), reason="from tomorrow")
    do_delegate(sdf_sup, to_agency="HUM", valid_from=today - timedelta(days=9), valid_until=today - timedelta(days=1),
                reason="last week")
    assert _move(hum, p, "B").status_code == 403
    do_delegate(sdf_sup, to_agency="HUM", valid_from=today, valid_until=today, reason="today only")
    assert _move(hum, p, "B").status_code == 201


def test_who_may_delegate(world: dict[str, Any], make_user: Any, api_for: Any) -> None:
    body = {"to_agency": "HUM", "reason": "r"}
    # Not a custodian agency; not a supervisor; not to itself; a date that is not a date.
    cio = api_for(make_user("CIO", "supervisor")).post("/api/ledger/delegations/", body, format="json")
    assert cio.status_code == 403 and "holds nobody in custody" in cio.json()["detail"]
    assert api_for(make_user("SDF", "clerk")).post("/api/ledger/delegations/", body, format="json").status_code == 403
    sup = api_for(make_user("SDF", "supervisor"))
    itself = sup.post("/api/ledger/delegations/", {**body, "to_agency": "SDF"}, format="json")
    assert itself.status_code == 400 and itself.json()["field"] == "to_agency"
    backwards = sup.post("/api/ledger/delegations/", {**body, "valid_from": "2026-03-02", "valid_until": "2026-03-01"},
                         format="json")
    assert backwards.status_code == 400 and backwards.json()["field"] == "valid_until"
    assert not Delegation.objects.exists()


def test_the_refusal_names_the_rule_and_the_holder_in_arabic(world: dict[str, Any], person_factory: Any,
                                                             make_user: Any, client_for: Any) -> None:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    p = person_factory()
    record_event(EventSpec("intake", p, at(0), facility=world["biap"]))  # held by IRQ
    c = client_for(make_user("HUM", "clerk"))
    form = {"person": p.ref, "kind": "released", "occurred_at": "2026-01-06T08:00", "idempotency_id": "hum-1"}
    en = c.post("/ledger/record/", form)
    assert en.status_code == 403
    assert "only the custodian writes its record" in en.content.decode() and "is held by IRQ" in en.content.decode()
    ar = c.post("/ar/ledger/record/", {**form, "idempotency_id": "hum-2"})
    assert ar.status_code == 403
    text = ar.content.decode()
    assert "لا يكتب السجل إلا الجهة الحاجزة" in text and "محتجز لدى IRQ" in text
    assert not LedgerEvent.objects.filter(kind="released").exists()
    assert AuditEvent.objects.filter(action="ledger.record_event", outcome="denied").count() == 2
