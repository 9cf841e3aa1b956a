"""Planning through HTTP on a real database: build from the registry, solve in the background,
read the plan, its manifests and PDF, record progress and re-plan; who may see what."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custody.engines import planner
from custody.planning.models import PlannedVehicle, PlanningScenario, PlanRun, VehicleOutcome

pytestmark = pytest.mark.django_db


def _build_and_plan(client: Any, days: int = 6) -> PlanRun:
    resp = client.post("/planning/", {"kind": "registry", "days": days})
    assert resp.status_code == 302, resp.content[:500]
    sc = PlanningScenario.objects.latest("pk")
    resp = client.post(f"/planning/scenarios/{sc.pk}/", {"action": "plan", "time_limit": 20})
    assert resp.status_code == 302
    return PlanRun.objects.latest("pk")


def test_scenario_from_the_registry_carries_people_tiers_and_keep_apart(registry, planner_user, client_for) -> None:
    client = client_for(planner_user)
    client.post("/planning/", {"kind": "registry", "days": 6})
    sc = PlanningScenario.objects.get()
    data = sc.data
    assert {s["id"] for s in data["sites"]} == {"PN", "PS"}
    assert len(data["people"]) == 48 and sc.people == 48
    tiers = {p["id"]: p["tier"] for p in data["people"]}
    assert tiers["P-000001"] == 1 and tiers["P-000002"] == 3
    assert data["keep_apart"] == [["P-000002", "P-000004"]]
    planner.from_dict(data)  # the stored scenario is valid in the documented format
    page = client.get(f"/planning/scenarios/{sc.pk}/")
    assert page.status_code == 200
    assert b"PN:handling" in page.content and b"<svg" in page.content


def test_solve_in_the_background_then_read_plan_day_and_pdf(registry, planner_user, client_for, immediate_tasks) -> None:
    client = client_for(planner_user)
    run = _build_and_plan(client)
    run.refresh_from_db()
    assert run.status == "done", (run.error, run.findings)
    assert run.violations == []
    assert run.summary["moved"] == 48 and run.summary["lower_bound"] <= run.summary["cost"]
    page = client.get(f"/planning/runs/{run.pk}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "every rule holds on every manifest" in body
    assert body.count("<svg") >= 3  # plan vs greedy vs bound, remaining per site, exposure per day
    first = PlannedVehicle.objects.filter(run=run).order_by("day").first()
    day = client.get(f"/planning/runs/{run.pk}/days/{first.day + 1}/").content.decode()
    assert first.vehicle_id in day and "Detainee" in day
    pdf = client.get(f"/planning/runs/{run.pk}/days/{first.day + 1}/manifests.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # The person's page shows the vehicle the plan puts him on.
    ref = first.manifest[0]
    person_page = client.get(f"/registry/people/{ref}/").content.decode()
    assert f"on day {first.day + 1}" in person_page and first.vehicle_id in person_page
    # The keep-apart pair from the registry never shares a vehicle.
    for v in PlannedVehicle.objects.filter(run=run):
        assert not {"P-000002", "P-000004"} <= set(v.manifest)


def test_queued_run_shows_a_live_indicator(registry, planner_user, client_for) -> None:
    client = client_for(planner_user)
    run = _build_and_plan(client)  # the database queue: nobody works it in this test
    run.refresh_from_db()
    assert run.status == "queued" and run.task_id
    page = client.get(f"/planning/runs/{run.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "Waiting for the background worker" in page
    part = client.get(f"/planning/runs/{run.pk}/status/?was=queued", HTTP_HX_REQUEST="true")
    assert part.status_code == 200 and b"Queued" in part.content


def test_progress_and_replan_keep_what_left_and_drop_the_cancelled(registry, planner_user, client_for, immediate_tasks) -> None:
    client = client_for(planner_user)
    run = _build_and_plan(client)
    run.refresh_from_db()
    day0 = list(PlannedVehicle.objects.filter(run=run, day=0))
    assert day0
    cancelled = day0[0]
    resp = client.post(f"/planning/runs/{run.pk}/progress/", {"vehicle": cancelled.pk, "status": "cancelled"})
    assert resp.status_code == 302
    assert VehicleOutcome.objects.get(vehicle=cancelled).status == "cancelled"
    resp = client.post(f"/planning/runs/{run.pk}/progress/", {"action": "replan", "from_day": 2, "time_limit": 20})
    assert resp.status_code == 302
    new = PlanRun.objects.latest("pk")
    assert new.parent_id == run.pk and new.status == "done", (new.error, new.findings)
    assert new.violations == []
    kept = {v.vehicle_id for v in PlannedVehicle.objects.filter(run=new, day=0)}
    assert cancelled.vehicle_id not in kept
    assert kept == {v.vehicle_id for v in day0[1:]}
    # The cancelled vehicle's people are planned again on a later day.
    later = {p for v in PlannedVehicle.objects.filter(run=new, day__gte=1) for p in v.manifest}
    assert set(cancelled.manifest) <= later
    assert client.get(f"/planning/runs/{new.pk}/").status_code == 200


def test_infeasible_scenario_is_explained_in_words(planner_user, client_for, immediate_tasks) -> None:
    from tests.engines.planner.conftest import tiny_dict

    data = tiny_dict()
    data["sites"][1]["lz_sorties"] = 0
    data["sites"][1]["road_open"] = [False] * 5
    client = client_for(planner_user)
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.post("/planning/", {"kind": "file", "file": SimpleUploadedFile("s.json", json.dumps(data).encode())})
    sc = PlanningScenario.objects.get()
    client.post(f"/planning/scenarios/{sc.pk}/", {"action": "plan", "time_limit": 10})
    run = PlanRun.objects.get()
    assert run.status == "infeasible"
    page = client.get(f"/planning/runs/{run.pk}/").content.decode()
    assert "no vehicle can reach it" in page and "S2" in page


def test_malformed_upload_names_the_bad_field(planner_user, client_for) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.engines.planner.conftest import tiny_dict

    data = tiny_dict()
    data["sites"][0]["danger"][2] = "high"
    client = client_for(planner_user)
    resp = client.post("/planning/", {"kind": "file", "file": SimpleUploadedFile("s.json", json.dumps(data).encode())}, follow=True)
    assert "sites/0/danger/2" in resp.content.decode()
    assert not PlanningScenario.objects.exists()


def test_editing_assumptions_is_validated_and_saved(registry, planner_user, client_for) -> None:
    client = client_for(planner_user)
    client.post("/planning/", {"kind": "registry", "days": 6})
    sc = PlanningScenario.objects.get()
    resp = client.post(f"/planning/scenarios/{sc.pk}/", {"PN:handling": "7", "PN:road_closed": "2-3", "weight_1": "12",
                                                         "PS:danger_first": "0.01", "PS:danger_last": "0.06"})
    assert resp.status_code == 302
    sc.refresh_from_db()
    pn = next(s for s in sc.data["sites"] if s["id"] == "PN")
    ps = next(s for s in sc.data["sites"] if s["id"] == "PS")
    assert pn["handling"] == 7 and pn["road_open"] == [True, False, False, True, True, True]
    assert sc.data["weights"]["1"] == 12 and ps["danger"][0] == 0.01 and ps["danger"][-1] == 0.06
    bad = client.post(f"/planning/scenarios/{sc.pk}/", {"PN:danger_first": "0.5", "PN:danger_last": "1.5"}, follow=True)
    assert "sites/0/danger" in bad.content.decode()
    bad = client.post(f"/planning/scenarios/{sc.pk}/", {"PN:road_closed": "9"}, follow=True)
    assert "days run from 1 to 6" in bad.content.decode()


def test_humanitarian_observer_sees_no_plan(registry, planner_user, make_user, client_for, api_for, immediate_tasks) -> None:
    run = _build_and_plan(client_for(planner_user))
    hum = make_user("HUM", "supervisor")
    c = client_for(hum)
    assert c.get(f"/planning/runs/{run.pk}/").status_code == 404
    assert c.get(f"/planning/runs/{run.pk}/days/1/manifests.pdf").status_code == 404
    assert b"No plan yet" in c.get("/planning/").content
    listing = api_for(hum).get("/api/planning/runs/").json()
    assert (listing["results"] if isinstance(listing, dict) else listing) == []
    assert api_for(hum).get(f"/api/planning/runs/{run.pk}/").status_code == 404
    # A viewer may read but not start a solve.
    viewer = make_user("MIL", "viewer")
    sc = PlanningScenario.objects.get()
    resp = client_for(viewer).post(f"/planning/scenarios/{sc.pk}/", {"action": "plan"}, follow=True)
    assert PlanRun.objects.count() == 1 and "may not" in resp.content.decode()


def test_api_scenario_plan_vehicles_outcome(registry, planner_user, api_for, immediate_tasks) -> None:
    api = api_for(planner_user)
    resp = api.post("/api/planning/scenarios/", {"source": "registry", "days": 6}, format="json")
    assert resp.status_code == 201, resp.content
    sid = resp.json()["id"]
    assert api.get(f"/api/planning/scenarios/{sid}/").json()["data"]["horizon_days"] == 6
    resp = api.post(f"/api/planning/scenarios/{sid}/plan/", {"time_limit": 20}, format="json")
    assert resp.status_code == 202
    rid = resp.json()["id"]
    run = api.get(f"/api/planning/runs/{rid}/").json()
    assert run["status"] == "done" and run["summary"]["gap"] >= 0
    days = api.get(f"/api/planning/runs/{rid}/days/").json()
    assert len(days) == 6 and sum(d["departures"] for d in days) == 48
    vehicles = api.get(f"/api/planning/runs/{rid}/vehicles/?day=1").json()
    assert vehicles and all(v["day"] == 0 for v in vehicles)
    v = vehicles[0]
    resp = api.post(f"/api/planning/runs/{rid}/outcome/", {"vehicle_id": v["vehicle_id"], "status": "partial", "moved": ["P-999999"]}, format="json")
    assert resp.status_code == 400 and "not on manifest" in resp.json()["detail"]
    resp = api.post(f"/api/planning/runs/{rid}/outcome/", {"vehicle_id": v["vehicle_id"], "status": "partial", "moved": v["manifest"][:1]}, format="json")
    assert resp.status_code == 200 and resp.json()["moved"] == v["manifest"][:1]
    bad = api.post("/api/planning/scenarios/", {"source": "file", "scenario": {"format": "nope"}}, format="json")
    assert bad.status_code == 400 and bad.json()["rule"] == "schema"


def test_pages_in_arabic_read_right_to_left(registry, planner_user, client_for) -> None:
    import subprocess
    from pathlib import Path

    import custody.planning

    # The start and test scripts compile every catalogue; compile this app's alone so the test also
    # stands on its own (compilemessages would walk the whole tree, virtualenv included).
    po = Path(custody.planning.__file__).parent / "locale" / "ar" / "LC_MESSAGES" / "django.po"
    subprocess.run(["msgfmt", "--check-format", "-o", str(po.with_suffix(".mo")), str(po)], check=True)
    client = client_for(planner_user)
    client.post("/planning/", {"kind": "registry", "days": 6})
    page = client.get("/ar/planning/").content.decode()
    assert 'dir="rtl"' in page and "خطط النقل" in page and "من السجل" in page
    sc = PlanningScenario.objects.get()
    detail = client.get(f"/ar/planning/scenarios/{sc.pk}/").content.decode()
    assert "الافتراضات" in detail and "تقدير الخطورة لكل يوم" in detail


def test_replan_reads_actual_departures_from_the_custody_ledger(registry, planner_user, client_for, immediate_tasks) -> None:
    from django.utils import timezone

    from custody.ledger.services import record_events_bulk
    from custody.ledger.specs import EventSpec
    from custody.registry.models import Facility, Person

    client = client_for(planner_user)
    run = _build_and_plan(client)
    run.refresh_from_db()
    vehicle = PlannedVehicle.objects.filter(run=run, day=0).order_by("vehicle_id").first()
    stayed, *left = vehicle.manifest
    assert left, "the vehicle carries more than one person"
    site = Facility.objects.get(code=vehicle.site)
    now = timezone.now()
    specs = []
    for ref in left:
        person = Person.objects.get(ref=ref)
        specs.append(EventSpec(kind="intake", person=person, occurred_at=now - timezone.timedelta(days=30), facility=site))
        specs.append(EventSpec(kind="departed", person=person, occurred_at=now, facility=site, manifest=vehicle.vehicle_id))
    record_events_bulk(specs)
    progress = client.get(f"/planning/runs/{run.pk}/progress/").content.decode()
    day1 = PlannedVehicle.objects.filter(run=run, day=0)
    expected = sum(v.people for v in day1) - 1  # one person the ledger did not see leave
    assert f'1</a></td><td class="num">{sum(v.people for v in day1)}</td><td class="num">{expected}</td>' in progress
    client.post(f"/planning/runs/{run.pk}/progress/", {"action": "replan", "from_day": 2, "time_limit": 20})
    new = PlanRun.objects.latest("pk")
    assert new.status == "done", (new.error, new.findings)
    kept = PlannedVehicle.objects.get(run=new, vehicle_id=vehicle.vehicle_id)
    assert sorted(kept.manifest) == sorted(left)
    # The one the ledger did not see leave is planned again later.
    assert any(stayed in v.manifest for v in PlannedVehicle.objects.filter(run=new, day__gte=1))


def test_a_scenario_is_changed_by_the_agency_that_made_it_or_the_military_command(registry, make_user, client_for,
                                                                                   api_for) -> None:
    from custody.core.models import AuditEvent

    cio = make_user("CIO", "analyst")
    client_for(cio).post("/planning/", {"kind": "registry", "days": 6})
    sc = PlanningScenario.objects.get()
    # Another intelligence agency may read it, but not change its assumptions or plan from it.
    fbi = make_user("FBI", "supervisor")
    page = client_for(fbi).post(f"/planning/scenarios/{sc.pk}/", {"weight_1": "99"}, follow=True)
    assert "changed by the agency that made it or by the military command (MIL)" in page.content.decode()
    api = api_for(fbi).post(f"/api/planning/scenarios/{sc.pk}/plan/", {"time_limit": 20}, format="json")
    assert api.status_code == 403 and api.json()["rule"] == "plan_owner"
    sc.refresh_from_db()
    assert sc.data["weights"]["1"] != 99 and not PlanRun.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="planning.", outcome="denied", user=fbi).count() == 2
    # Its maker and the military command may.
    assert client_for(cio).post(f"/planning/scenarios/{sc.pk}/", {"weight_1": "11"}).status_code == 302
    assert api_for(make_user("MIL", "clerk")).post(f"/api/planning/scenarios/{sc.pk}/plan/", {"time_limit": 20},
                                                   format="json").status_code == 202
