"""Reads on need (issue 14): handovers and their bundles, planning scenarios and plans, the audit trail and
case items are restricted like the people they concern.

The world of tests/foundation/conftest.py (five people whose visibility differs by agency, releasability,
clearance and custody scope) is extended by `build_records` with what the domain apps hold about them: a
completed handover IRQ -> MIL of a RESTRICTED and a SECRET person, an open one of the SECRET person alone,
a transfer plan built from the registry by a CIO analyst cleared SECRET, case items of every kind the
humanitarian observer must or must not see, and audit rows written by one user of each agency. The
authorisation walk (test_authorisation.py) reuses the same records.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from custody.accounts.models import Classification
from custody.core.models import AuditEvent
from tests.foundation.conftest import World

pytestmark = pytest.mark.django_db

DEMO_CLEARANCE = {"CIO": 3, "MIL": 3, "FBI": 3, "MFA": 2, "IRQ": 2, "SDF": 1, "HUM": 1}  # custody/synth/load.py


@dataclass
class Records:
    handover: Any  # completed, IRQ -> MIL at TIRQ1: irq_only (RESTRICTED) and secret (SECRET)
    secret_handover: Any  # open, MIL -> IRQ: the SECRET person alone
    scenario: Any  # built from the registry by a CIO analyst cleared SECRET: sdf_held, irq_only, secret
    run: Any  # its plan, solved
    plan_days: list[int]  # days (from 1) on which a vehicle leaves
    events: dict[str, int] = field(default_factory=dict)  # person key -> seq of its intake event
    # Case items: title marker -> (item, kind, key of the person it names)
    items: dict[str, tuple[Any, str, str]] = field(default_factory=dict)
    # Audit rows: agency code -> username of the user of that agency who wrote them
    audit_users: dict[str, str] = field(default_factory=dict)

    def item(self, marker: str) -> Any:
        return self.items[marker][0]

    def forbidden_for(self, user: Any, world: World) -> list[str]:
        """Markers of these records that must never reach `user`."""
        bad: list[str] = []
        for marker, (_item, kind, key) in self.items.items():
            if not world.may_see(user, key) or (kind in {"interview", "document"} and not user.agency.sees_intelligence):
                bad.append(marker)
        if not getattr(user, "is_auditor", False):
            bad += [name for code, name in self.audit_users.items() if code != user.agency.code]
        return bad


ITEM_MARKERS = [
    # title marker, kind, person key
    ("TITLE-INTERVIEW-4471", "interview", "sdf_held"),
    ("TITLE-DOCUMENT-5582", "document", "sdf_held"),
    ("TITLE-BATTLEFIELD-6693", "battlefield", "sdf_held"),
    ("TITLE-ABOUT-SECRET-7704", "battlefield", "secret"),
]


def build_records(world: World, agencies: dict[str, Any], make_user: Any, settings: Any, tmp_path: Any) -> Records:
    from custody.accounts.models import User
    from custody.cases.models import Item
    from custody.core import audit
    from custody.ledger import services as ledger
    from custody.ledger.models import Handover, HandoverItem, HandoverStatus
    from custody.ledger.specs import EventSpec
    from custody.planning import services as planning
    from custody.planning.models import PlannedVehicle, PlanRun

    settings.LEDGER_KEY_FILE = tmp_path / "ledger-key.pem"
    ledger._key_for.cache_clear()
    irq, mil = (make_user(code, "clerk", clearance=Classification.SECRET) for code in ("IRQ", "MIL"))
    # Custody events through the ledger's code API (as the demo loader writes them); the handovers as
    # the rows both sides' confirmations leave, each completed item pointing at its handed_over event.
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    events = {}
    for i, (key, fac) in enumerate([("sdf_held", "sdf_prison"), ("irq_only", "irq_prison"), ("secret", "irq_prison")]):
        rec = ledger.record_event(EventSpec("intake", world.person(key), t0 + timedelta(minutes=i),
                                            facility=world.facilities[fac]))
        events[key] = rec.event.seq
    h = Handover.objects.create(reference="H-WORLD-0001", facility=world.facilities["irq_prison"],
                                from_custodian=agencies["IRQ"], to_custodian=agencies["MIL"], manifest="M-WORLD-1",
                                status=HandoverStatus.COMPLETED, created_by=irq)
    for i, key in enumerate(("irq_only", "secret")):
        person = world.person(key)
        rec = ledger.record_event(EventSpec("handed_over", person, t0 + timedelta(minutes=10 + i), custodian=agencies["MIL"],
                                            sending_officer=irq, receiving_officer=mil, identity_check="match",
                                            manifest="M-WORLD-1"))
        now = rec.event.recorded_at
        HandoverItem.objects.create(handover=h, person=person, sender_confirmed_by=irq, sender_confirmed_at=now,
                                    sender_wristband=f"WB-{person.ref}", receiver_confirmed_by=mil, receiver_confirmed_at=now,
                                    receiver_wristband=f"WB-{person.ref}", identity_check="match", event=rec.event)
    secret_h = Handover.objects.create(reference="H-WORLD-0002", facility=world.facilities["irq_prison"],
                                       from_custodian=agencies["MIL"], to_custodian=agencies["IRQ"], created_by=mil)
    HandoverItem.objects.create(handover=secret_h, person=world.person("secret"))
    planner = make_user("CIO", "analyst", clearance=Classification.SECRET)
    scenario = planning.do_create_scenario(planner, "registry", days=3)
    run = PlanRun.objects.create(scenario=scenario, time_limit=10, created_by=planner)
    planning.execute_run(run.pk)  # the worker's task body, run here instead of on the queue
    run.refresh_from_db()
    days = sorted({d + 1 for d in PlannedVehicle.objects.filter(run=run).values_list("day", flat=True)})
    records = Records(h, secret_h, scenario, run, days, events)
    # Items are written as rows (like person_factory writes people): the cases app's services are not
    # what this fixture tests.
    for i, (marker, kind, key) in enumerate(ITEM_MARKERS):
        it = Item.objects.create(ref=f"ITM-W{i:04d}", kind=kind, title=f"{marker} {kind}", source="world",
                                 body=f"BODY-{marker}", classification=Classification.RESTRICTED, release_all=True,
                                 originating_agency=agencies["CIO"], created_by=planner)
        it.people.set([world.person(key)])
        records.items[marker] = (it, kind, key)
    for code in ("CIO", "MIL", "IRQ", "HUM"):
        u = User.objects.create_user(username=f"audit-marker-{code.lower()}", password="a-long-test-password",
                                     agency=agencies[code], role="clerk", clearance=Classification.SECRET)
        audit.record(None, "person_read", obj=world.person("sdf_held"), user=u)
        records.audit_users[code] = u.username
    return records


@pytest.fixture
def records(world: World, agencies: dict[str, Any], make_user: Any, settings: Any, tmp_path: Any) -> Records:
    return build_records(world, agencies, make_user, settings, tmp_path)


def _markers(world: World, key: str) -> list[str]:
    spec = world.people[key]
    return [spec.obj.ref, spec.name, spec.name_ar, spec.faction, spec.rationale]


def _leaks(body: str | bytes, world: World, *keys: str) -> list[str]:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return [m for key in keys for m in _markers(world, key) if m and m in text]


# ------------------------------------------------------------------------------------------------ handovers


def test_handover_shows_hum_only_the_people_it_may_see(world: World, records: Records, make_user: Any, client_for: Any,
                                                       api_for: Any) -> None:
    """The humanitarian observer at its demo clearance (RESTRICTED) sees the handover of a person it may see,
    but neither the SECRET person in it, nor a count that includes him, nor his event in the bundle."""
    hum = make_user("HUM", "clerk", clearance=DEMO_CLEARANCE["HUM"])
    ref = records.handover.reference
    listing = client_for(hum).get("/ledger/handovers/")
    assert listing.status_code == 200 and ref in listing.content.decode()
    page = client_for(hum).get(f"/ledger/handovers/{ref}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert world.people["irq_only"].name in body
    assert not _leaks(body, world, "secret")
    assert "1 of 1 people handed over" in body
    api = api_for(hum)
    data = api.get("/api/ledger/handovers/").json()
    rows = {h["reference"]: h for h in data["results"]}
    assert [i["person"] for i in rows[ref]["items"]] == [world.person("irq_only").ref]
    assert not _leaks(json.dumps(data), world, "secret")
    detail = api.get(f"/api/ledger/handovers/{ref}/")
    assert detail.status_code == 200 and [i["person"] for i in detail.json()["items"]] == [world.person("irq_only").ref]
    for bundle in (client_for(hum).get(f"/ledger/handovers/{ref}/bundle/"), api.get(f"/api/ledger/handovers/{ref}/bundle/")):
        assert bundle.status_code == 200
        doc = json.loads(bundle.content)
        assert doc["subject"]["people"] == [world.person("irq_only").ref]
        assert [e["event"]["person"] for e in doc["entries"]] == [world.person("irq_only").ref]
        assert not _leaks(bundle.content, world, "secret")


def test_handover_of_people_hum_may_not_see_is_absent(world: World, records: Records, make_user: Any,
                                                      client_for: Any, api_for: Any) -> None:
    """A handover of nobody the caller may see, between two other agencies: not listed, 404 everywhere,
    the refusal audited as denied."""
    hum = make_user("HUM", "clerk", clearance=DEMO_CLEARANCE["HUM"])
    ref = records.secret_handover.reference
    assert ref not in client_for(hum).get("/ledger/handovers/").content.decode()
    assert ref not in json.dumps(api_for(hum).get("/api/ledger/handovers/").json())
    for url in (f"/ledger/handovers/{ref}/", f"/ledger/handovers/{ref}/bundle/"):
        assert client_for(hum).get(url).status_code == 404, url
    for url in (f"/api/ledger/handovers/{ref}/", f"/api/ledger/handovers/{ref}/bundle/"):
        assert api_for(hum).get(url).status_code == 404, url
    assert AuditEvent.objects.filter(username=hum.username, outcome="denied", object_id=ref).count() == 4
    # The open-handovers counter of the overview counts only what the caller may see.
    status = client_for(hum).get("/ledger/status/")
    assert status.status_code == 200


def test_party_with_low_clearance_sees_its_handover_without_the_secret_person(world: World, records: Records,
                                                                               make_user: Any, client_for: Any,
                                                                               api_for: Any) -> None:
    """Either side of a handover sees it, but a user cleared RESTRICTED of the sending agency still never
    sees the SECRET person in it: not in the page, the API or the bundle."""
    low = make_user("IRQ", "clerk", clearance=Classification.RESTRICTED)
    for ref in (records.handover.reference, records.secret_handover.reference):
        assert client_for(low).get(f"/ledger/handovers/{ref}/").status_code == 200
        assert api_for(low).get(f"/api/ledger/handovers/{ref}/").status_code == 200
    page = client_for(low).get(f"/ledger/handovers/{records.secret_handover.reference}/").content.decode()
    assert not _leaks(page, world, "secret") and "0 of 0 people" in page
    data = api_for(low).get(f"/api/ledger/handovers/{records.handover.reference}/").json()
    assert [i["person"] for i in data["items"]] == [world.person("irq_only").ref]
    bundle = client_for(low).get(f"/ledger/handovers/{records.handover.reference}/bundle/")
    assert bundle.status_code == 200 and not _leaks(bundle.content, world, "secret")
    # Cleared SECRET, the same agency sees both people and a bundle that proves both events.
    high = make_user("IRQ", "clerk", clearance=Classification.SECRET)
    doc = json.loads(api_for(high).get(f"/api/ledger/handovers/{records.handover.reference}/bundle/").content)
    assert sorted(doc["subject"]["people"]) == sorted([world.person("irq_only").ref, world.person("secret").ref])
    # The partner force is no party and holds none of them: nothing.
    sdf = make_user("SDF", "supervisor")
    assert api_for(sdf).get(f"/api/ledger/handovers/{records.handover.reference}/").status_code == 404
    assert api_for(sdf).get("/api/ledger/handovers/").json()["results"] == []


def test_restricted_bundle_still_verifies_offline(world: World, records: Records, make_user: Any, api_for: Any,
                                                  tmp_path: Any) -> None:
    """Leaving a person out of a bundle keeps the rest provable: each entry carries its own inclusion
    proof against the signed checkpoint."""
    from custody.engines.ledger.bundle import verify_bundle

    hum = make_user("HUM", "viewer", clearance=DEMO_CLEARANCE["HUM"])
    data = api_for(hum).get(f"/api/ledger/handovers/{records.handover.reference}/bundle/").content
    result = verify_bundle(data)
    assert result.ok, result


# ------------------------------------------------------------------------------------------------ planning


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def test_planning_omits_people_above_clearance(world: World, records: Records, make_user: Any, client_for: Any,
                                               api_for: Any) -> None:
    """A plan built by a user cleared SECRET, read by one cleared CONFIDENTIAL (the demo's IRQ): the
    scenario page, its download, the API, the run, its manifests and their PDF leave the SECRET person out."""
    low = make_user("IRQ", "analyst", clearance=DEMO_CLEARANCE["IRQ"])
    c, api = client_for(low), api_for(low)
    sc, run = records.scenario, records.run
    assert world.person("secret").ref in json.dumps(sc.data), "the world's scenario holds the SECRET person"
    checked: list[tuple[str, bytes]] = []
    for url in (f"/planning/scenarios/{sc.pk}/", f"/planning/scenarios/{sc.pk}/download/", f"/planning/runs/{run.pk}/",
                f"/planning/runs/{run.pk}/progress/", *[f"/planning/runs/{run.pk}/days/{d}/" for d in records.plan_days]):
        r = c.get(url)
        assert r.status_code == 200, url
        checked.append((url, r.content))
    for url in (f"/api/planning/scenarios/{sc.pk}/", f"/api/planning/runs/{run.pk}/", f"/api/planning/runs/{run.pk}/vehicles/",
                f"/api/planning/runs/{run.pk}/days/", "/api/planning/scenarios/", "/api/planning/runs/"):
        r = api.get(url)
        assert r.status_code == 200, url
        checked.append((url, r.content))
    for d in records.plan_days:
        r = c.get(f"/planning/runs/{run.pk}/days/{d}/manifests.pdf")
        assert r.status_code == 200
        checked.append((f"pdf day {d}", _pdf_text(r.content).encode()))
    leaks = [(url, _leaks(body, world, "secret")) for url, body in checked if _leaks(body, world, "secret")]
    assert not leaks
    # What the reader may see is still there.
    data = api.get(f"/api/planning/scenarios/{sc.pk}/").json()["data"]
    assert {p["id"] for p in data["people"]} == {world.person("sdf_held").ref, world.person("irq_only").ref}
    shown = {ref for v in api.get(f"/api/planning/runs/{run.pk}/vehicles/").json() for ref in v["manifest"]}
    assert shown and world.person("secret").ref not in shown
    download = json.loads(c.get(f"/planning/scenarios/{sc.pk}/download/").content)
    assert world.people["irq_only"].faction in json.dumps(download)


def test_partner_force_reads_a_plan_only_for_the_people_it_holds(world: World, records: Records, make_user: Any,
                                                                  api_for: Any) -> None:
    sdf = make_user("SDF", "analyst", clearance=Classification.SECRET)
    data = api_for(sdf).get(f"/api/planning/scenarios/{records.scenario.pk}/").json()["data"]
    assert [p["id"] for p in data["people"]] == [world.person("sdf_held").ref]
    body = api_for(sdf).get(f"/api/planning/runs/{records.run.pk}/vehicles/").content
    assert not _leaks(body, world, "secret", "irq_only")


# ------------------------------------------------------------------------------------------------ audit


def test_supervisor_reads_only_its_own_agencys_audit_trail(world: World, records: Records, make_user: Any,
                                                           client_for: Any) -> None:
    mil = make_user("MIL", "supervisor")
    page = client_for(mil).get("/audit/").content.decode()
    assert records.audit_users["MIL"] in page
    for code in ("CIO", "IRQ", "HUM"):
        assert records.audit_users[code] not in page
    # Filtering for another agency's user or the agency itself finds nothing (the form echoes the filter).
    for query in ({"username": records.audit_users["CIO"]}, {"agency": "CIO"}):
        r = client_for(mil).get("/audit/", query)
        assert list(r.context["page"].object_list) == []
        assert "Nothing recorded matches." in r.content.decode()
    # The read itself is audited.
    assert AuditEvent.objects.filter(username=mil.username, action="audit_view", outcome="ok").count() == 3


def test_auditor_reads_every_agency_and_each_read_is_audited(world: World, records: Records, make_user: Any,
                                                             client_for: Any) -> None:
    auditor = make_user("IRQ", "viewer", is_auditor=True)
    r = client_for(auditor).get("/audit/", {"action": "person_read"})
    assert r.status_code == 200
    page = r.content.decode()
    for name in records.audit_users.values():
        assert name in page
    row = AuditEvent.objects.filter(username=auditor.username, action="audit_view").get()
    assert row.outcome == "ok" and row.detail["filters"] == {"action": "person_read"}
    # A viewer without the flag is refused, and the refusal is audited.
    viewer = make_user("IRQ", "viewer")
    assert client_for(viewer).get("/audit/").status_code == 403
    assert AuditEvent.objects.filter(username=viewer.username, action="audit_view", outcome="denied").exists()


def test_audit_rows_about_a_person_the_reader_may_not_see_withhold_the_person(world: World, records: Records,
                                                                              make_user: Any, client_for: Any) -> None:
    """A supervisor of IRQ cleared RESTRICTED reads its agency's trail: the row of an IRQ clerk reading the
    SECRET person is listed (who, what, when) without naming him."""
    from custody.core import audit

    clerk = make_user("IRQ", "clerk")
    audit.record(None, "person_read", obj=world.person("secret"), user=clerk)
    audit.record(None, "person_read", obj=world.person("irq_only"), user=clerk)
    low = make_user("IRQ", "supervisor", clearance=Classification.RESTRICTED)
    r = client_for(low).get("/audit/", {"username": clerk.username})
    rows = list(r.context["page"].object_list)
    assert len(rows) == 2
    shown = {e.object_id for e in rows}
    assert str(world.person("irq_only").pk) in shown and str(world.person("secret").pk) not in shown
    high = make_user("IRQ", "supervisor", clearance=Classification.SECRET)
    rows = list(client_for(high).get("/audit/", {"username": clerk.username}).context["page"].object_list)
    assert {e.object_id for e in rows} == {str(world.person("irq_only").pk), str(world.person("secret").pk)}


def test_auditor_flag_is_granted_in_the_admin_and_audited(world: World, make_user: Any) -> None:
    from custody.accounts.admin import PERMISSION_FIELDS

    assert "is_auditor" in PERMISSION_FIELDS


# ------------------------------------------------------------------------------------------------ case items


def test_humanitarian_observer_sees_no_interview_or_document_items(world: World, records: Records, make_user: Any,
                                                                   client_for: Any, api_for: Any) -> None:
    hum = make_user("HUM", "supervisor")
    listing = client_for(hum).get("/cases/items/").content.decode()
    api_listing = json.dumps(api_for(hum).get("/api/cases/items/").json())
    case_page = client_for(hum).get(f"/cases/people/{world.person('sdf_held').ref}/").content.decode()
    for body in (listing, api_listing, case_page):
        assert "TITLE-BATTLEFIELD-6693" in body
        assert "TITLE-INTERVIEW-4471" not in body and "TITLE-DOCUMENT-5582" not in body
    for marker in ("TITLE-INTERVIEW-4471", "TITLE-DOCUMENT-5582"):
        ref = records.item(marker).ref
        assert client_for(hum).get(f"/cases/items/{ref}/").status_code == 404
        assert api_for(hum).get(f"/api/cases/items/{ref}/").status_code == 404
    cio = make_user("CIO", "viewer")
    listing = client_for(cio).get("/cases/items/").content.decode()
    assert "TITLE-INTERVIEW-4471" in listing and "TITLE-DOCUMENT-5582" in listing
