"""Per-person steps through the handover (a ledger "repatriated" event) or a refusal; the rules on
order, custody, minors and pending trials; who may record what."""

from __future__ import annotations

import datetime as dt
from html import unescape
from typing import Any

from custody.core.models import AuditEvent
from custody.repatriation.models import Repatriation, Step


def _step(client: Any, ref: str, kind: str, country: str = "TN", **extra: Any) -> Any:
    return client.post(f"/repatriation/people/{ref}/step/", {"country": country, "kind": kind, **extra})


def test_steps_in_order_to_the_ledger_handover(rw: Any, make_user: Any, client_for: Any) -> None:
    from custody.ledger.models import LedgerEvent

    c = client_for(make_user("MFA", "clerk"))
    early = _step(c, rw.tn.ref, "accepted")
    assert early.status_code == 409 and "needs first: Identity confirmed by the country" in unescape(early.content.decode())
    for kind in ("identity_confirmed", "consular_access", "accepted", "travel_documents"):
        assert _step(c, rw.tn.ref, kind, note=f"{kind} done").status_code == 302, kind
    no_officials = _step(c, rw.tn.ref, "handed_over")
    assert no_officials.status_code == 409 and "needs first: Scheduled" in unescape(no_officials.content.decode())
    assert _step(c, rw.tn.ref, "scheduled", on=(dt.date.today() + dt.timedelta(days=5)).isoformat()).status_code == 302
    missing = _step(c, rw.tn.ref, "handed_over")
    assert missing.status_code == 400 and "Name the officials" in unescape(missing.content.decode())
    assert not LedgerEvent.objects.filter(kind="repatriated").exists()
    # The handover writes the custody record of the Iraqi authority, which holds him: the diplomats may
    # not, until that authority delegates recording to them (the custodian rule, one check in the ledger).
    refused = _step(c, rw.tn.ref, "handed_over", officials="Consul M. Ben Ali, Carthage airport")
    assert refused.status_code == 403 and "IRQ" in unescape(refused.content.decode())
    assert not LedgerEvent.objects.filter(kind="repatriated").exists()
    assert Repatriation.objects.get(person=rw.tn, country="TN").stage == "scheduled"
    from custody.ledger.services import do_delegate

    do_delegate(make_user("IRQ", "supervisor"), to_agency="MFA", reason="repatriation handovers at the airport")
    assert _step(c, rw.tn.ref, "handed_over", officials="Consul M. Ben Ali, Carthage airport").status_code == 302
    rep = Repatriation.objects.get(person=rw.tn, country="TN")
    ev = LedgerEvent.objects.get(kind="repatriated", person=rw.tn)
    assert rep.stage == "handed_over" and rep.ledger_seq == ev.seq and '"country":"TN"' in ev.body.replace(" ", "")
    rw.tn.refresh_from_db()
    assert rw.tn.custody_status == "repatriated"
    again = _step(c, rw.tn.ref, "refused", note="x")
    assert again.status_code == 409 and "is closed" in unescape(again.content.decode())
    assert [s.kind for s in Step.objects.filter(repatriation=rep)] == [
        "identity_confirmed", "consular_access", "accepted", "travel_documents", "scheduled", "handed_over"]
    assert AuditEvent.objects.filter(action="repatriation.record_step", outcome="ok").count() == 6
    assert AuditEvent.objects.filter(action="repatriation.record_step", outcome="failed").count() == 4
    assert AuditEvent.objects.filter(action="repatriation.record_step", outcome="denied").count() == 1


def _ready(client: Any, ref: str) -> None:
    for kind in ("identity_confirmed", "accepted", "travel_documents"):
        assert _step(client, ref, kind).status_code == 302


def test_minor_and_pending_trial_need_a_supervisors_override(rw: Any, make_user: Any, client_for: Any) -> None:
    clerk = client_for(make_user("MFA", "clerk"))
    for person, why in ((rw.minor, "is minor"), (rw.trial, "is pending trial")):
        _ready(clerk, person.ref)
        refused = _step(clerk, person.ref, "scheduled")
        assert refused.status_code == 409 and f"{person.ref} {why}: scheduling needs a supervisor's recorded override first." in unescape(refused.content.decode())
        kind = "minor" if person is rw.minor else "pending_trial"
        by_clerk = clerk.post(f"/repatriation/people/{person.ref}/override/", {"country": "TN", "kind": kind, "reason": "family reunification"})
        assert by_clerk.status_code == 403 and "it needs approve" in unescape(by_clerk.content.decode())
        other_agency = client_for(make_user("CIO", "supervisor")).post(f"/repatriation/people/{person.ref}/override/",
                                                                      {"country": "TN", "kind": kind, "reason": "x"})
        assert other_agency.status_code == 403 and "kept by MFA" in unescape(other_agency.content.decode())
        sup = client_for(make_user("MFA", "supervisor"))
        assert sup.post(f"/repatriation/people/{person.ref}/override/", {"country": "TN", "kind": kind, "reason": "court agreed"}).status_code == 302
        assert _step(clerk, person.ref, "scheduled").status_code == 302
        step = Step.objects.get(repatriation__person=person, kind="scheduled")
        assert step.override is not None and step.override.reason == "court agreed"


def test_not_in_custody_refusals_and_one_country_at_a_time(rw: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    c = client_for(make_user("MFA", "clerk"))
    _ready(c, rw.gone.ref)
    r = _step(c, rw.gone.ref, "scheduled")
    assert r.status_code == 409 and "P-820005 is not in custody" in unescape(r.content.decode())
    # The dual national may be accepted by both countries but scheduled for only one.
    for country in ("TN", "FR"):
        for kind in ("identity_confirmed", "accepted", "travel_documents"):
            assert _step(c, rw.dual.ref, kind, country=country).status_code == 302
    assert _step(c, rw.dual.ref, "scheduled", country="FR").status_code == 302
    r = _step(c, rw.dual.ref, "scheduled", country="TN")
    assert r.status_code == 409 and "already scheduled for repatriation to France" in unescape(r.content.decode())
    r = _step(c, rw.tn.ref, "identity_confirmed", country="FR")
    assert r.status_code == 400 and "is not recorded as a national of France" in unescape(r.content.decode())
    r = _step(c, rw.tn.ref, "refused")
    assert r.status_code == 400 and "A refusal records the reason given." in unescape(r.content.decode())
    assert _step(c, rw.tn.ref, "refused", note="says he is not a national").status_code == 302
    assert Repatriation.objects.get(person=rw.tn, country="TN").refusal_reason == "says he is not a national"
    r = _step(c, rw.dual.ref, "frobnicated")
    assert r.status_code == 400
    # Other agencies read but do not write; the API says so with 403.
    assert _step(client_for(make_user("CIO", "supervisor")), rw.minor.ref, "identity_confirmed").status_code == 403
    api = api_for(make_user("IRQ", "supervisor")).post(f"/api/repatriation/people/{rw.minor.ref}/steps/",
                                                      {"country": "TN", "kind": "identity_confirmed"}, format="json")
    assert api.status_code == 403 and api.json()["rule"] == "agency"
    got = api_for(make_user("IRQ", "viewer")).get(f"/api/repatriation/people/{rw.dual.ref}/").json()
    assert {r["country"]: r["stage"] for r in got["repatriations"]} == {"FR": "scheduled", "TN": "travel_documents"}
    assert got["dual_national"] is True


def test_api_steps_and_person_page(rw: Any, make_user: Any, api_for: Any, client_for: Any) -> None:
    api = api_for(make_user("MFA", "clerk"))
    r = api.post(f"/api/repatriation/people/{rw.minor.ref}/steps/", {"country": "tn", "kind": "identity_confirmed"}, format="json")
    assert r.status_code == 201 and r.json()["stage"] == "identity_confirmed"
    page = unescape(client_for(make_user("HUM", "viewer")).get(f"/repatriation/people/{rw.minor.ref}/").content.decode())
    assert "Identity confirmed by the country" in page and "scheduling needs a supervisor" in page
    assert client_for(make_user("SDF", "viewer")).get(f"/repatriation/people/{rw.minor.ref}/").status_code == 404


def test_refused_step_changes_nothing_and_person_page_section(rw: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("MFA", "clerk"))
    _ready(c, rw.gone.ref)
    before = (Step.objects.count(), Repatriation.objects.get(person=rw.gone).stage)
    assert _step(c, rw.gone.ref, "scheduled").status_code == 409
    assert (Step.objects.count(), Repatriation.objects.get(person=rw.gone).stage) == before
    page = unescape(c.get(f"/registry/people/{rw.dual.ref}/").content.decode())
    assert "Repatriation" in page and "dual national" in page and "/repatriation/countries/FR/" in page
