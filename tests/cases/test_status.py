"""Case status per person: recorded through the page and the API with its rules, listed and filtered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from custody.cases.models import Case


def test_status_steps_rules_and_registry_legal_status(cw: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    url = f"/cases/people/{cw.iq.ref}/status/"
    assert c.post(url, {"stage": "investigation", "on": "2026-01-10"}).status_code == 302
    no_court = c.post(url, {"stage": "charged", "on": "2026-02-01"})
    assert no_court.status_code == 400 and "Name the court" in no_court.content.decode()
    future = c.post(url, {"stage": "referred", "on": (dt.date.today() + dt.timedelta(days=3)).isoformat(), "court": "CCC"})
    assert future.status_code == 400 and "is in the future" in future.content.decode()
    assert c.post(url, {"stage": "charged", "on": "2026-02-01", "court": "Central Criminal Court, Karkh"}).status_code == 302
    early = c.post(url, {"stage": "sentence", "on": "2026-03-01", "sentence": "15 years"})
    assert early.status_code == 409 and "A sentence follows a conviction" in early.content.decode()
    case = Case.objects.get(person=cw.iq)
    assert case.stage == "charged" and case.court.startswith("Central") and case.opened_on == dt.date(2026, 1, 10)
    cw.iq.refresh_from_db()
    assert cw.iq.legal_status == "charged"
    assert [s.stage for s in case.steps.all()] == ["investigation", "charged"]
    page = client_for(make_user("IRQ", "viewer")).get(f"/cases/people/{cw.iq.ref}/").content.decode()
    assert "Central Criminal Court, Karkh" in page
    assert client_for(make_user("IRQ", "viewer")).post(url, {"stage": "trial", "on": "2026-02-02", "court": "x"}).status_code == 403


def test_only_the_opening_agency_or_the_custodian_changes_a_case(cw: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    from custody.core.models import AuditEvent

    url = f"/cases/people/{cw.iq.ref}/status/"
    mil = make_user("MIL", "clerk")
    assert client_for(mil).post(url, {"stage": "investigation", "on": "2026-01-10"}).status_code == 302
    # An agency that may see the person but neither opened the case nor holds him is refused, by name.
    cio = make_user("CIO", "clerk")
    refused = client_for(cio).post(url, {"stage": "referred", "on": "2026-01-12", "court": "CCC"})
    assert refused.status_code == 403 and "yours is neither" in refused.content.decode()
    api = api_for(cio).post("/api/cases/status/", {"person": cw.iq.ref, "stage": "referred", "on": "2026-01-12", "court": "CCC"},
                            format="json")
    assert api.status_code == 403 and api.json()["rule"] == "case_owner"
    assert Case.objects.get(person=cw.iq).stage == "investigation"
    assert AuditEvent.objects.filter(action="cases.set_status", outcome="denied", user=cio).count() == 2
    # The opener and the authority holding him (IRQ) both may.
    assert client_for(mil).post(url, {"stage": "referred", "on": "2026-01-12", "court": "CCC"}).status_code == 302
    assert client_for(make_user("IRQ", "clerk")).post(url, {"stage": "charged", "on": "2026-01-13", "court": "CCC"}).status_code == 302
    assert Case.objects.get(person=cw.iq).stage == "charged"


def test_case_list_filters(cw: Any, make_user: Any, client_for: Any, api_for: Any, person_factory: Any, facility_factory: Any) -> None:
    from custody.cases import services

    clerk = make_user("CIO", "clerk")
    other_fac = facility_factory("CIRQ2", custodian="IRQ", country="IQ")
    tn = person_factory("Anis Trabelsi", "أنيس الطرابلسي", facility=other_fac, nationality="TN", ref="P-810003")
    services.do_set_case_status(clerk, cw.iq, stage="referred", on=dt.date(2026, 1, 5), court="CCC")
    services.do_set_case_status(clerk, tn, stage="investigation", on=dt.date(2026, 1, 6))
    c = client_for(make_user("CIO", "viewer"))

    def refs(query: str) -> set[str]:
        body = c.get(f"/cases/?{query}").content.decode()
        return {r for r in ("P-810001", "P-810002", "P-810003") if r in body}

    assert refs("status=referred") == {"P-810001"}
    assert refs("status=none") == set()  # P-810002 is released to MIL and FBI only
    assert refs("nationality=tn") == {"P-810003"}
    assert refs("facility=CIRQ2") == {"P-810003"}
    assert refs("") == {"P-810001", "P-810003"}
    mil = client_for(make_user("MIL", "viewer")).get("/cases/?status=none").content.decode()
    assert "P-810002" in mil
    api = api_for(make_user("CIO", "viewer")).get("/api/cases/status/?status=referred").json()
    assert [r["person"] for r in api["results"]] == ["P-810001"]
    r = api_for(clerk).post("/api/cases/status/", {"person": tn.ref, "stage": "verdict", "on": "2026-02-01", "verdict": "maybe"}, format="json")
    assert r.status_code == 400 and r.json()["field"] == "verdict"
