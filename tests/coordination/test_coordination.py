"""Coordination through HTTP, the API, the CLI and the task queue, on a real database: the situation
report's figures reconcile with the registry (and the ledger's projection where it exists)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pypdf import PdfReader

from custody.camps import services as camps
from custody.coordination import services, sitrep
from custody.coordination.models import SitRep
from custody.core.errors import BadInput, NotAllowed, RuleError
from custody.core.models import AuditEvent
from custody.registry.models import Household, Person

TODAY = timezone.localdate()


def _at(day: Any, hour: int) -> Any:
    from datetime import datetime

    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def world(facility_factory: Any, person_factory: Any, make_user: Any) -> dict[str, Any]:
    """Two prisons held by the partner force, the receiving facility under Iraqi authority, a camp; every
    custody fact recorded through the custody ledger's services, as the demo generator does."""
    from custody.ledger.services import record_event, record_events_bulk
    from custody.ledger.specs import EventSpec

    f = {
        "HAS": facility_factory("HAS", kind="prison", custodian="SDF", latitude=36.49, longitude=40.75),
        "GHW": facility_factory("GHW", kind="prison", custodian="SDF", latitude=36.57, longitude=40.80),
        "BRF": facility_factory("BRF", kind="receiving", custodian="IRQ", latitude=33.26, longitude=44.23),
        "HOL": facility_factory("HOL", kind="camp", custodian="SDF", latitude=36.38, longitude=41.15),
    }
    before = TODAY - timedelta(days=3)
    has = [person_factory(f"Detainee {i} Al-Ani", "") for i in range(6)]
    ghw = [person_factory(f"Held {i} Al-Rawi", "") for i in range(4)]
    moved = [person_factory(f"Moved {i} Al-Hadithi", "") for i in range(2)]
    # one secret record: counted only for audiences cleared to see it
    secret = person_factory("Secret Case Al-Ubaidi", "", classification=3)
    specs = [EventSpec("intake", p, _at(before, 8), facility=f["HAS"]) for p in has + moved + [secret]]
    specs += [EventSpec("intake", p, _at(before, 9), facility=f["GHW"]) for p in ghw]
    for p in moved:
        specs += [EventSpec("manifested", p, _at(TODAY - timedelta(days=1), 10), manifest="S-1", to_facility=f["BRF"],
                            expected_arrival=_at(TODAY, 12)),
                  EventSpec("departed", p, _at(TODAY, 1), facility=f["HAS"], manifest="S-1"),
                  EventSpec("arrived", p, _at(TODAY, 2), facility=f["BRF"], manifest="S-1")]
    specs.append(EventSpec("repatriated", ghw[3], _at(TODAY, 1), country="TN"))
    record_events_bulk(specs)
    sender, receiver = make_user("SDF", "clerk", clearance=1), make_user("IRQ", "clerk", clearance=2)
    for p in moved:
        record_event(EventSpec("handed_over", p, _at(TODAY, 3), custodian=f["BRF"].custodian, sending_officer=sender,
                               receiving_officer=receiver, identity_check="match"))
    # an arrival nobody departed: refused by the ledger, and a discrepancy raised
    with pytest.raises(RuleError):
        record_event(EventSpec("arrived", ghw[0], _at(TODAY, 4), facility=f["BRF"], manifest="S-9"))
    hh = Household.objects.create(camp=f["HOL"], ref="H-1", sector="Phase 1", tent="T-1")
    residents = [person_factory(f"Resident {i} Al-Shammari", "", group="resident", household=hh, sex="F") for i in range(4)]
    hh.head = residents[0]
    hh.save()
    make_user("MFA", "viewer", clearance=2)
    return {"f": f, "people": has + ghw + moved, "moved": moved, "secret": secret, "residents": residents, "household": hh}


def _registry_counts(qs: Any) -> Counter:
    return Counter(qs.filter(current_facility__isnull=False).values_list("current_facility__code", "current_custodian__code"))


def test_sitrep_figures_reconcile_with_the_registry(world: Any, make_user: Any, client_for: Any) -> None:
    analyst = make_user("CIO", "analyst")
    clerk = make_user("MIL", "clerk")
    camps.do_record_departure(clerk, world["residents"][3], "HOL", TODAY, "repatriated")
    services.do_record_incident(clerk, "HAS", TODAY, "attack", 4, "partner force liaison", description="mortar fire at the perimeter")
    report = sitrep.build(TODAY, analyst.agency, analyst)
    custody = report["custody"]
    assert custody["available"]
    got = Counter({(r["site"], r["custodian"]): r["n"] for r in custody["by_site"]})
    assert got == _registry_counts(Person.objects.all())
    assert custody["total"] == Person.objects.filter(current_facility__isnull=False).count() == 12
    assert custody["reconciliation"]["registry_agrees"] is True
    assert custody["reconciliation"]["projection_agrees"] is True
    assert custody["by_custodian"] == {"SDF": 10, "IRQ": 2}
    from custody.ledger.services import headcounts

    ledger = {r["facility__code"]: r["n"] for r in headcounts()["by_facility"]}
    assert ledger == {"HAS": 7, "GHW": 3, "BRF": 2}
    assert ledger == {site: sum(n for (s2, _c), n in got.items() if s2 == site) for site in ledger}
    # moved today: the two who departed HAS and arrived at the receiving facility; one repatriated
    assert report["movement"]["arrived_today"] == report["movement"]["arrived_to_date"] == 2
    assert report["movement"]["departed_today"] == 2
    assert (report["repatriations"]["today"], report["repatriations"]["by_country"]) == (1, {"TN": 1})
    assert report["discrepancies"]["open"] == 1 and report["discrepancies"]["open_by_kind"] == {"arrival_without_departure": 1}
    # as of yesterday, from the ledger's events: the two were still at HAS, the repatriated man at GHW
    yesterday = sitrep.build(TODAY - timedelta(days=1), analyst.agency, analyst)["custody"]
    assert {(r["site"], r["custodian"]): r["n"] for r in yesterday["by_site"]} == {("HAS", "SDF"): 9, ("GHW", "SDF"): 4}
    assert [n for _d, n in custody["trend"]][-5:] == [0, 13, 13, 13, 12]
    # camp population from the camp records: four residents, one repatriated today
    row = report["camps"]["rows"][0]
    assert (row["camp"], row["population"], row["previous"], row["change"], row["departures"]) == ("HOL", 3, 4, -1, 1)
    assert row["by_reason"] == {"repatriated": 1}
    assert camps.present(Person.objects.all(), world["f"]["HOL"]).count() == row["population"]
    assert [i["site"] for i in report["incidents"]["today"]] == ["HAS"]
    # the highest classification it contains: the secret record
    assert report["classification"] == 3
    # the page shows the same figures and is audited
    page = client_for(analyst).get("/coordination/sitrep/", {"date": TODAY.isoformat(), "audience": "CIO"}).content.decode()
    assert "mortar fire at the perimeter" in page and "SECRET" in page
    assert AuditEvent.objects.filter(action="sitrep_read", outcome="ok").count() == 1


def test_sitrep_is_produced_per_audience(world: Any, make_user: Any) -> None:
    analyst = make_user("CIO", "analyst")
    agencies = {a.code: a for a in __import__("custody.accounts.models", fromlist=["Agency"]).Agency.objects.all()}
    mfa = sitrep.build(TODAY, agencies["MFA"], analyst)
    # cleared to confidential: the secret record is left out and the report is marked below secret
    assert mfa["custody"]["total"] == 11 and mfa["classification"] == 1
    sdf = sitrep.build(TODAY, agencies["SDF"])
    # the partner force sees only the people it holds or held
    assert sdf["custody"]["total"] == Person.objects.filter(custodians_ever__code="SDF", current_facility__isnull=False, classification__lte=1).count()
    assert {r["custodian"] for r in sdf["custody"]["by_site"]} == {"SDF", "IRQ"}
    hum = sitrep.build(TODAY, agencies["HUM"])
    assert hum["camps"]["rows"][0]["population"] == 4
    # an analyst of another agency may not produce a report for someone else
    with pytest.raises(NotAllowed, match="your own agency"):
        services.do_produce_sitrep(make_user("MFA", "analyst"), TODAY, "CIO", "en", with_pdf=False)


def test_future_report_date_is_refused_everywhere(world: Any, make_user: Any, client_for: Any, api_for: Any, tmp_path: Path) -> None:
    user = make_user("CIO", "analyst")
    future = (TODAY + timedelta(days=2)).isoformat()
    page = client_for(user).get("/coordination/sitrep/", {"date": future}).content.decode()
    assert f"The report date {future} is in the future" in page
    r = client_for(user).get("/coordination/sitrep.pdf", {"date": future})
    assert r.status_code == 400 and "is in the future" in r.content.decode()
    r = api_for(user).post(f"/api/coordination/sitreps/generate/?date={future}")
    assert r.status_code == 400 and r.json()["rule"] == "future_report"
    with pytest.raises(CommandError, match="is in the future"):
        call_command("sitrep", "--date", future, "--audience", "CIO", "--lang", "en", "--out", str(tmp_path / "x.pdf"), "--as", user.username,
                     stdout=io.StringIO())
    assert not SitRep.objects.exists()
    # Each door's refusal audited once by the one action, naming the user.
    rows = AuditEvent.objects.filter(action="coordination.sitrep_generate", outcome="failed")
    assert rows.count() == 3 and {r.user_id for r in rows} == {user.pk}


def test_pdf_in_english_and_arabic(world: Any, make_user: Any, client_for: Any) -> None:
    user = make_user("CIO", "analyst")
    c = client_for(user)
    r = c.get("/coordination/sitrep.pdf", {"date": TODAY.isoformat(), "audience": "CIO", "lang": "en"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF") and r["X-Classification"] == "3"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    assert "Daily situation report" in text and "SECRET" in text and "HAS" in text
    r = c.get("/coordination/sitrep.pdf", {"date": TODAY.isoformat(), "audience": "CIO", "lang": "ar"})
    assert r.status_code == 200
    fonts = set()
    for page in PdfReader(io.BytesIO(r.content)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("Arabic" in f for f in fonts), fonts
    stored = SitRep.objects.order_by("id")
    assert [(s.audience.code, s.language, s.classification) for s in stored] == [("CIO", "en", 3), ("CIO", "ar", 3)]
    assert len(stored[0].sha256) == 64
    # the stored report is readable by its audience, not by another agency
    assert c.get(f"/coordination/sitreps/{stored[0].pk}.pdf").status_code == 200
    assert client_for(make_user("MFA", "supervisor")).get(f"/coordination/sitreps/{stored[0].pk}.pdf").status_code == 404


def test_cli_sitrep(world: Any, tmp_path: Path, make_user: Any) -> None:
    out = tmp_path / "report.pdf"
    # As one of MFA's own users, at the clearance its users have in this world (the audience's figures).
    mfa = make_user("MFA", "viewer", clearance=2)
    call_command("sitrep", "--date", TODAY.isoformat(), "--audience", "MFA", "--lang", "ar", "--out", str(out), "--as", mfa.username,
                 stdout=io.StringIO())
    assert out.read_bytes().startswith(b"%PDF")
    js = tmp_path / "report.json"
    call_command("sitrep", "--date", TODAY.isoformat(), "--audience", "MFA", "--lang", "en", "--out", str(js), "--as", mfa.username,
                 stdout=io.StringIO())
    # Without an acting user the command changes nothing (the report is stored as produced: a change).
    with pytest.raises(CommandError) as refused:
        call_command("sitrep", "--date", TODAY.isoformat(), "--audience", "MFA", "--out", str(js), stdout=io.StringIO())
    assert "--as" in str(refused.value) or "user" in str(refused.value)
    import json

    figures = json.loads(js.read_text(encoding="utf-8"))
    assert figures["audience"] == "MFA" and figures["custody"]["total"] == 11
    assert SitRep.objects.filter(audience__code="MFA").count() == 2


def test_scheduled_task_produces_every_audience_and_reschedules(world: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    from custody.coordination.tasks import produce_daily_sitreps

    # two audiences keep the test short; the schedule's default is every agency
    result = produce_daily_sitreps.call(day=TODAY.isoformat(), reschedule=True, audiences=["HUM", "IRQ"])
    assert result["day"] == TODAY.isoformat()
    produced = SitRep.objects.filter(trigger="schedule")
    assert sorted((s.audience.code, s.language) for s in produced) == [("HUM", "ar"), ("HUM", "en"), ("IRQ", "ar"), ("IRQ", "en")]
    hum = produced.filter(audience__code="HUM", language="en").get()
    # no HUM user holds a clearance above restricted: the secret record stays out of HUM's report
    assert hum.figures["custody"]["total"] == 11 and hum.classification == 1
    assert {s.language for s in produced} == {"en", "ar"}
    assert all(s.sha256 for s in produced)
    queued = DBTaskResult.objects.filter(task_path__endswith="produce_daily_sitreps")
    assert queued.count() == 1 and queued.get().run_after > timezone.now()
    assert queued.get().args_kwargs["kwargs"]["audiences"] == ["HUM", "IRQ"]


def test_dashboard_map_and_live_figures(world: Any, make_user: Any, client_for: Any) -> None:
    analyst = make_user("CIO", "analyst")
    services.do_set_danger_estimate(analyst, "HAS", TODAY - timedelta(days=5), 0.02)
    services.do_set_danger_estimate(analyst, "HAS", TODAY, 0.08)
    page = client_for(analyst).get("/coordination/").content.decode()
    assert "<svg" in page and "HAS · 7 · p=0.08" in page and "BRF · 2" in page and "HOL · 4" in page
    assert "Danger estimate per site" in page
    assert AuditEvent.objects.filter(action="dashboard_read").count() == 1
    hum_page = client_for(make_user("HUM", "viewer")).get("/coordination/").content.decode()
    assert "p=0.08" not in hum_page and "Danger estimate per site" not in hum_page


def test_working_group_meetings_decisions_actions(world: Any, make_user: Any, api_for: Any, client_for: Any) -> None:
    clerk = make_user("CIO", "clerk")
    api = api_for(clerk)
    r = api.post("/api/coordination/meetings/", {"held_on": (TODAY - timedelta(days=3)).isoformat(), "title": "Daily coordination call",
                                                 "attendees": ["CIO", "MIL", "MFA", "IRQ"]}, format="json")
    assert r.status_code == 201, r.content
    mid = r.json()["id"]
    target = world["people"][0]
    r = api.post(f"/api/coordination/meetings/{mid}/decisions/", {"text": "Move the tier-1 detainees of HAS first",
                                                                  "people": [target.ref], "facilities": ["HAS"]}, format="json")
    assert r.status_code == 201 and r.json()["people"] == [target.ref] and r.json()["facilities"] == ["HAS"]
    r = api.post(f"/api/coordination/meetings/{mid}/decisions/", {"text": "x", "people": ["P-999999"]}, format="json")
    assert r.status_code == 404 and "P-999999" in r.json()["detail"]
    r = api.post(f"/api/coordination/meetings/{mid}/actions/", {"text": "Confirm helicopter availability", "owner": "MIL",
                                                                "due_on": (TODAY - timedelta(days=1)).isoformat()}, format="json")
    assert r.status_code == 201 and r.json()["overdue"] is True
    aid = r.json()["id"]
    r = api.post(f"/api/coordination/meetings/{mid}/actions/", {"text": "Too early", "owner": "MIL",
                                                                "due_on": (TODAY - timedelta(days=10)).isoformat()}, format="json")
    assert r.status_code == 400 and "before the meeting" in r.json()["detail"]
    c = client_for(clerk)
    page = c.get("/coordination/actions/").content.decode()
    assert 'class="overdue"' in page and "Confirm helicopter availability" in page and "1 overdue" in page
    assert "Move the tier-1 detainees of HAS first" in c.get(f"/coordination/meetings/{mid}/").content.decode()
    # The action is MIL's: the clerk of the coordinating office who recorded it may not close it; MIL may.
    r = api.patch(f"/api/coordination/actions/{aid}/", {"status": "done"}, format="json")
    assert r.status_code == 403 and r.json()["rule"] == "action_owner" and "only MIL" in r.json()["detail"]
    assert AuditEvent.objects.get(action="coordination.action_status", outcome="denied").user == clerk
    mil = make_user("MIL", "clerk")
    assert api_for(mil).patch(f"/api/coordination/actions/{aid}/", {"status": "done"}, format="json").json()["overdue"] is False
    assert AuditEvent.objects.get(action="coordination.action_status", outcome="ok").user == mil
    assert 'class="overdue"' not in c.get("/coordination/actions/", {"status": ""}).content.decode()
    assert AuditEvent.objects.filter(action="action_list").count() == 2


def test_incidents_and_danger_estimates_for_the_planner(world: Any, make_user: Any, api_for: Any) -> None:
    analyst = make_user("CIO", "analyst")
    api = api_for(analyst)
    for day, p in ((TODAY - timedelta(days=10), 0.01), (TODAY - timedelta(days=5), 0.06)):
        r = api.post("/api/coordination/danger/", {"site": "HAS", "as_of": day.isoformat(), "probability": p}, format="json")
        assert r.status_code == 201, r.content
    out = services.danger_estimates(["HAS", "GHW"], TODAY - timedelta(days=12), 10)
    assert list(out) == ["HAS"]  # GHW has no estimate: left to the planner's own assumption
    series = out["HAS"]
    assert len(series) == 10 and series[0] == series[2] == 0.01 and series[7] == 0.06 and series[9] == 0.06
    assert series[4] == pytest.approx(0.03)  # two days into a five-day rise from 0.01 to 0.06
    with pytest.raises(BadInput, match="Unknown site codes: NOPE"):
        services.danger_estimates(["NOPE"], TODAY, 3)
    r = api.get("/api/coordination/danger/series/", {"sites": "HAS", "start": (TODAY - timedelta(days=12)).isoformat(), "days": 10})
    assert r.json()["series"]["HAS"] == series
    bad = api.post("/api/coordination/danger/", {"site": "HAS", "probability": 1.5}, format="json")
    assert bad.status_code == 400 and "between 0 and 1" in bad.json()["detail"]
    hum = make_user("HUM", "analyst")
    assert api_for(hum).post("/api/coordination/danger/", {"site": "HAS", "probability": 0.1}, format="json").status_code == 403
    assert api_for(hum).get("/api/coordination/danger/").json()["results"] == []
    r = api.post("/api/coordination/incidents/", {"site": "GHW", "occurred_on": TODAY.isoformat(), "kind": "unrest", "severity": 3,
                                                  "source": "guard report"}, format="json")
    assert r.status_code == 201
    r = api.post("/api/coordination/incidents/", {"site": "GHW", "occurred_on": TODAY.isoformat(), "kind": "unrest", "severity": 9,
                                                  "source": "guard report"}, format="json")
    assert r.status_code == 400 and "Severity is from 1" in r.json()["detail"]


def test_arabic_pages_render(world: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("CIO", "analyst"))
    for url in ("/ar/coordination/", "/ar/coordination/sitrep/", "/ar/coordination/meetings/", "/ar/coordination/actions/",
                "/ar/coordination/warnings/", "/ar/coordination/sitreps/"):
        r = c.get(url)
        assert r.status_code == 200, url
        assert 'dir="rtl"' in r.content.decode()
    # translated (the test scripts compile the catalogues)
    assert "الصورة المشتركة" in c.get("/ar/coordination/").content.decode()
    assert "تقرير الوضع اليومي" in c.get("/ar/coordination/sitrep/").content.decode()


def test_plan_and_biometric_figures_come_from_their_records(world: Any, make_user: Any) -> None:
    """Against plan (the latest finished plan run) and enrolled/identified (biometric records)."""
    from custody.biometrics.models import Enrolment, Identification
    from custody.planning.models import PlanDay, PlanningScenario, PlanRun

    analyst = make_user("CIO", "analyst")
    before = sitrep.build(TODAY, analyst.agency, analyst)
    assert before["movement"]["plan"] is None and before["biometrics"]["enrolled_to_date"] == 0
    scenario = PlanningScenario.objects.create(name="test", source="file", data={"start_date": (TODAY - timedelta(days=1)).isoformat()})
    run = PlanRun.objects.create(scenario=scenario, status="done", finished_at=timezone.now())
    PlanDay.objects.create(run=run, day=0, arrivals=5)
    PlanDay.objects.create(run=run, day=1, arrivals=7)
    PlanDay.objects.create(run=run, day=2, arrivals=9)
    operator = make_user("FBI", "clerk")
    for p in world["moved"]:
        e = Enrolment.objects.create(person=p, operator=operator, station="BRF-1")
        Identification.objects.create(enrolment=e, person=p, decision="match", strategy="fused", thresholds={}, by=operator)
    report = sitrep.build(TODAY, analyst.agency, analyst)
    assert report["movement"]["plan"]["today"] == 7 and report["movement"]["plan"]["to_date"] == 12
    assert report["movement"]["arrived_to_date"] == 2  # actual, beside the plan's 12
    bio = report["biometrics"]
    assert (bio["available"], bio["enrolled_today"], bio["enrolled_to_date"], bio["identified_to_date"]) == (True, 2, 2, 2)
    # the humanitarian observer does not see plans: for that audience the plan is not available
    from custody.accounts.models import Agency

    assert sitrep.build(TODAY, Agency.objects.get(code="HUM"))["movement"]["plan"] is None
