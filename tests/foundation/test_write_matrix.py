"""Who may change what in the registry, the working group's records and the camps: every write route
(page, API, CLI) tried by every demo role of every agency.

The expected answer of each route is a table written here by hand (a row per agency, a column per role),
from the rules in docs/security.md, not from the code under test. For each of the 35 users:

- an allowed write changes the records and writes exactly one audit row, naming the user and the action;
- a refused write changes nothing, the door answers 403/404 (page, API) or exits 3/4 (CLI), and the
  refusal is audited as denied, naming the user.

Each attempt runs in a savepoint rolled back afterwards, so every user meets the same records.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from custody.accounts.models import User
from custody.camps.models import Census, ControlChange, Movement, ProtectionFlag
from custody.coordination.models import Action, DangerEstimate, Decision, Incident, Meeting, SitRep
from custody.core.models import AuditEvent
from custody.registry.models import FamilyLink, Household, ImportBatch, Person

AGENCIES = ("CIO", "MIL", "MFA", "FBI", "IRQ", "SDF", "HUM")
ROLES = ("viewer", "clerk", "analyst", "supervisor", "administrator")
# As the demo loads them (custody/synth/load.py): clearance by agency, HUM's users with a protection role.
CLEARANCE = {"CIO": 3, "MIL": 3, "FBI": 3, "MFA": 2, "IRQ": 2, "SDF": 1, "HUM": 1}
TODAY = timezone.localdate()

# ------------------------------------------------------------------ the expected answers, by hand
#            viewer clerk analyst supervisor administrator
TABLES = {
    # Any clerk of any agency: the working group's meetings, decisions and actions; a new person.
    "any clerk": """
        CIO  - + + + +
        MIL  - + + + +
        MFA  - + + + +
        FBI  - + + + +
        IRQ  - + + + +
        SDF  - + + + +
        HUM  - + + + +
    """,
    # A clerk of an agency that may see the person (or the site): SDF, the partner force, sees only the
    # people it holds or held and its own facilities.
    "clerk who sees it": """
        CIO  - + + + +
        MIL  - + + + +
        MFA  - + + + +
        FBI  - + + + +
        IRQ  - + + + +
        SDF  - - - - -
        HUM  - + + + +
    """,
    # Raising a classification (1 -> 2): a clerk of any agency that sees the person and is cleared to the
    # new level (HUM and SDF are cleared to 1; SDF does not see the person).
    "raise classification": """
        CIO  - + + + +
        MIL  - + + + +
        MFA  - + + + +
        FBI  - + + + +
        IRQ  - + + + +
        SDF  - - - - -
        HUM  - - - - -
    """,
    # Lowering it (2 -> 1): only the agency that set the current level (MIL), supervisor and up.
    "lower classification": """
        CIO  - - - - -
        MIL  - - - + +
        MFA  - - - - -
        FBI  - - - - -
        IRQ  - - - - -
        SDF  - - - - -
        HUM  - - - - -
    """,
    # An import batch is its importing agency's (IRQ) to undo or take in; the intake is at IRQ's prison.
    "importing agency": """
        CIO  - - - - -
        MIL  - - - - -
        MFA  - - - - -
        FBI  - - - - -
        IRQ  - + + + +
        SDF  - - - - -
        HUM  - - - - -
    """,
    # A working group action is changed by its owner agency (IRQ) only.
    "action owner": """
        CIO  - - - - -
        MIL  - - - - -
        MFA  - - - - -
        FBI  - - - - -
        IRQ  - + + + +
        SDF  - - - - -
        HUM  - - - - -
    """,
    # Danger estimates are intelligence assessments by analysts; SDF does not see IRQ's prison.
    "intelligence analyst": """
        CIO  - - + + +
        MIL  - - + + +
        MFA  - - + + +
        FBI  - - + + +
        IRQ  - - + + +
        SDF  - - - - -
        HUM  - - - - -
    """,
    # The situation report for MFA: MFA's own users, or the coordinating office's analysts.
    "sitrep for MFA": """
        CIO  - - + + +
        MIL  - - - - -
        MFA  + + + + +
        FBI  - - - - -
        IRQ  - - - - -
        SDF  - - - - -
        HUM  - - - - -
    """,
    # Control of a camp changes hands on the word of the agency that controls it (SDF), a supervisor.
    "camp controller": """
        CIO  - - - - -
        MIL  - - - - -
        MFA  - - - - -
        FBI  - - - - -
        IRQ  - - - - -
        SDF  - - - + +
        HUM  - - - - -
    """,
    # Protection flags: users with a protection purpose (HUM), clerk and up.
    "protection clerk": """
        CIO  - - - - -
        MIL  - - - - -
        MFA  - - - - -
        FBI  - - - - -
        IRQ  - - - - -
        SDF  - - - - -
        HUM  - + + + +
    """,
}


def expected(table: str) -> dict[tuple[str, str], bool]:
    out = {}
    for line in TABLES[table].strip().splitlines():
        agency, *marks = line.split()
        assert len(marks) == len(ROLES), line
        for role, mark in zip(ROLES, marks, strict=True):
            out[(agency, role)] = mark == "+"
    assert {a for a, _r in out} == set(AGENCIES)
    return out


# ------------------------------------------------------------------ the records every user meets


@pytest.fixture
def world(agencies: dict[str, Any], facility_factory: Any, person_factory: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.DEMO_MODE = True
    users = {}
    for code in AGENCIES:
        for role in ROLES:
            users[(code, role)] = User.objects.create_user(
                username=f"{code.lower()}.{role}", password="a-long-test-password", agency=agencies[code], role=role,
                clearance=CLEARANCE[code], protection_role=code == "HUM")
    prison = facility_factory("PRI", custodian="IRQ", kind="prison", country="IQ")
    camp = facility_factory("CMP", custodian="SDF", kind="camp", country="SY")
    # Held by IRQ, registered by MIL, which set its classification.
    held = person_factory("Mahmoud Salih Al-Karbouli", "محمود صالح الكربولي", facility=prison, originating_agency=agencies["MIL"],
                          classified_by=agencies["MIL"], classification=1, sex="M")
    raised = person_factory("Hamid Jasim Al-Rawi", "حامد جاسم الراوي", facility=prison, originating_agency=agencies["MIL"],
                            classified_by=agencies["MIL"], classification=2, sex="M")
    household = Household.objects.create(camp=camp, ref="H-1", sector="Phase 1", tent="T-1")
    resident = person_factory("Zainab Ali Al-Hamdani", "زينب علي الحمداني", group="resident", household=household, sex="F",
                              birth_precision="year", birth_year_min=1990)
    household.head = resident
    household.save()
    # Once held by SDF, released: no household, in no camp; visible to SDF through custodians_ever.
    released = person_factory("Ali Hussein Al-Hamdani", "علي حسين الحمداني", held_by="SDF", sex="M",
                              birth_precision="year", birth_year_min=1992)
    Person.objects.filter(pk=released.pk).update(current_custodian=None, custody_status="released")
    meeting = Meeting.objects.create(held_on=TODAY, title="Weekly working group", originating_agency=agencies["CIO"])
    meeting.attendees.set([agencies[c] for c in AGENCIES])
    action = Action.objects.create(meeting=meeting, text="Confirm the roll at PRI", owner=agencies["IRQ"], due_on=TODAY + timedelta(days=7))
    # Two roster imports by IRQ's clerk, not yet taken in: one to undo, one to take in.
    from custody.registry import importer

    batches = []
    for n in (1, 2):
        table = importer.read_table(_roster(f"W{n}").encode(), f"world-{n}.csv")
        parsed, errors = importer.validate(table, importer.propose_mapping(table.headers), {"PRI"})
        assert not errors, errors
        batches.append(importer.commit(table, importer.propose_mapping(table.headers), parsed, user=users[("IRQ", "clerk")]))
    return {"users": users, "prison": prison, "camp": camp, "held": held, "raised": raised, "household": household,
            "resident": resident, "released": released, "meeting": meeting, "action": action, "undo_batch": batches[0],
            "intake_batch": batches[1], "tmp": tmp_path}


def _roster(tag: str, facility: str = "PRI") -> str:
    """Two people; naming a facility (for an intake) or none (a roster every agency may import: the partner
    force may not name IRQ's prison, which it does not see)."""
    if not facility:
        return ("name,sex,birth,nationality,prisoner_number\n"
                f"Khalid Omar Al-Dulaimi {tag},M,1987,IQ,{tag}-0001\n"
                f"Saad Yasin Al-Issawi {tag},M,1991,IQ,{tag}-0002\n")
    return ("name,sex,birth,nationality,facility,prisoner_number\n"
            f"Khalid Omar Al-Dulaimi {tag},M,1987,IQ,{facility},{tag}-0001\n"
            f"Saad Yasin Al-Issawi {tag},M,1991,IQ,{facility},{tag}-0002\n")


# ------------------------------------------------------------------ the doors


@dataclass
class Outcome:
    ok: bool  # the door answered success
    refused_as: str  # how a refusal was answered ("403", "404", "exit 3", ...) or "" on success


def _page(method: str, url: str, data: dict[str, Any] | None = None) -> Callable[[Any, dict[str, Any]], Outcome]:
    def go(user: Any, w: dict[str, Any]) -> Outcome:
        c = Client()
        c.force_login(user)
        target = url.format(**_keys(w))
        r = c.post(target, _fill(data or {}, w)) if method == "post" else c.get(target, _fill(data or {}, w))
        if r.status_code in (403, 404):
            return Outcome(False, str(r.status_code))
        assert r.status_code in (200, 302), (target, r.status_code, r.content[:500])
        return Outcome(True, "")
    return go


def _api(method: str, url: str, data: dict[str, Any] | None = None) -> Callable[[Any, dict[str, Any]], Outcome]:
    def go(user: Any, w: dict[str, Any]) -> Outcome:
        c = APIClient()
        c.force_authenticate(user)
        target = url.format(**_keys(w))
        r = getattr(c, method)(target, _fill(data or {}, w), format="json")
        if r.status_code in (403, 404):
            return Outcome(False, str(r.status_code))
        assert r.status_code in (200, 201), (target, r.status_code, r.content[:500])
        return Outcome(True, "")
    return go


def _cli(*args: str) -> Callable[[Any, dict[str, Any]], Outcome]:
    def go(user: Any, w: dict[str, Any]) -> Outcome:
        keys = _keys(w)
        argv = [a.format(**keys) for a in args]
        argv = [a.replace("USER", user.username) for a in argv]
        try:
            call_command(*argv, stdout=io.StringIO(), stderr=io.StringIO())
        except CommandError as exc:
            assert exc.returncode in (3, 4), (argv, exc.returncode, str(exc))
            return Outcome(False, f"exit {exc.returncode}")
        return Outcome(True, "")
    return go


def _keys(w: dict[str, Any]) -> dict[str, Any]:
    tmp = w["tmp"]
    (tmp / "counted.txt").write_text(w["resident"].ref + "\n", encoding="utf-8")
    (tmp / "roster.csv").write_text(_roster("CLI", facility=""), encoding="utf-8")
    return {"held": w["held"].ref, "raised": w["raised"].ref, "resident": w["resident"].ref, "released": w["released"].ref,
            "meeting": w["meeting"].pk, "action": w["action"].pk, "undo": w["undo_batch"].pk, "intake": w["intake_batch"].pk,
            "today": TODAY.isoformat(), "tmp": str(tmp)}


def _fill(data: dict[str, Any], w: dict[str, Any]) -> dict[str, Any]:
    keys = _keys(w)

    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return v.format(**keys)
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v
    return {k: fill(v) for k, v in data.items()}


def _import_page(user: Any, w: dict[str, Any]) -> Outcome:
    """Upload, then commit with the proposed mapping, as the browser does."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = Client()
    c.force_login(user)
    r = c.post("/registry/import/", {"file": SimpleUploadedFile("page.csv", _roster("PAGE", facility="").encode()), "source": "matrix"})
    if r.status_code in (403, 404):
        return Outcome(False, str(r.status_code))
    assert r.status_code == 302, r.content[:500]
    page = c.get(r["Location"])
    form = {f"map_{i}": page.context["mapping"].get(h, "") for i, h in page.context["columns"]}
    r = c.post(r["Location"], {**form, "action": "commit"})
    assert r.status_code == 302 and r["Location"].endswith("/registry/import/batches/"), r.content[:1000]
    return Outcome(True, "")


# ------------------------------------------------------------------ what a write changes


def _people(w: dict[str, Any]) -> Any:
    return sorted(Person.objects.values_list("ref", "classification", "classified_by_id", "legal_status", "current_facility_id",
                                             "group", "household_id"))


SNAPSHOTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "people": _people,
    "batches": lambda w: sorted(ImportBatch.objects.values_list("pk", "undone_at")),
    "meetings": lambda w: Meeting.objects.count(),
    "decisions": lambda w: Decision.objects.count(),
    "actions": lambda w: sorted(Action.objects.values_list("pk", "status")),
    "incidents": lambda w: Incident.objects.count(),
    "danger": lambda w: DangerEstimate.objects.count(),
    "sitreps": lambda w: SitRep.objects.count(),
    "movements": lambda w: (Movement.objects.count(), _people(w)),
    "control": lambda w: (ControlChange.objects.count(), w["camp"].__class__.objects.get(pk=w["camp"].pk).custodian_id),
    "census": lambda w: Census.objects.count(),
    "households": lambda w: (Household.objects.count(), _people(w)),
    "family": lambda w: FamilyLink.objects.count(),
    "flags": lambda w: ProtectionFlag.objects.count(),
}


@dataclass
class Route:
    name: str
    table: str
    action: str  # the audit row's action name
    snapshot: str
    door: Callable[[Any, dict[str, Any]], Outcome]


ROUTES = [
    # registry
    Route("api person create", "any clerk", "registry.person_create", "people",
          _api("post", "/api/registry/people/", {"display_name": "Yasir Fadil Al-Obeidi", "sex": "M", "nationality_codes": ["IQ"]})),
    Route("api person change", "clerk who sees it", "registry.person_change", "people",
          _api("patch", "/api/registry/people/{held}/", {"legal_status": "charged"})),
    Route("api classification raise", "raise classification", "registry.classify", "people",
          _api("post", "/api/registry/people/{held}/classification/", {"level": 2, "reason": "named in an interview"})),
    Route("page classification raise", "raise classification", "registry.classify", "people",
          _page("post", "/registry/people/{held}/classification/", {"level": "2", "reason": "named in an interview"})),
    Route("cli classification raise", "raise classification", "registry.classify", "people",
          _cli("classify", "{held}", "--level", "2", "--reason", "named in an interview", "--as", "USER")),
    Route("api classification lower", "lower classification", "registry.classify", "people",
          _api("post", "/api/registry/people/{raised}/classification/", {"level": 1, "reason": "source declassified"})),
    Route("page classification lower", "lower classification", "registry.classify", "people",
          _page("post", "/registry/people/{raised}/classification/", {"level": "1", "reason": "source declassified"})),
    Route("cli classification lower", "lower classification", "registry.classify", "people",
          _cli("classify", "{raised}", "--level", "1", "--reason", "source declassified", "--as", "USER")),
    Route("page import", "any clerk", "registry.import", "people", _import_page),
    Route("cli import", "any clerk", "registry.import", "people", _cli("import-roster", "{tmp}/roster.csv", "--as", "USER")),
    Route("page import undo", "importing agency", "registry.import_undo", "batches", _page("post", "/registry/import/batches/{undo}/undo/")),
    Route("cli import undo", "importing agency", "registry.import_undo", "batches", _cli("import-undo", "{undo}", "--as", "USER")),
    Route("page import intake", "importing agency", "registry.import_intake", "people",
          _page("post", "/registry/import/batches/{intake}/intake/")),
    Route("cli import intake", "importing agency", "registry.import_intake", "people", _cli("import-intake", "{intake}", "--as", "USER")),
    # coordination
    Route("page meeting", "any clerk", "coordination.meeting_create", "meetings",
          _page("post", "/coordination/meetings/", {"held_on": "{today}", "title": "Handover review", "attendees": "IRQ"})),
    Route("api meeting", "any clerk", "coordination.meeting_create", "meetings",
          _api("post", "/api/coordination/meetings/", {"held_on": "{today}", "title": "Handover review", "attendees": ["IRQ"]})),
    Route("page decision", "any clerk", "coordination.decision_create", "decisions",
          _page("post", "/coordination/meetings/{meeting}/", {"what": "decision", "text": "Count PRI again"})),
    Route("api decision", "any clerk", "coordination.decision_create", "decisions",
          _api("post", "/api/coordination/meetings/{meeting}/decisions/", {"text": "Count PRI again"})),
    Route("page action", "any clerk", "coordination.action_create", "actions",
          _page("post", "/coordination/meetings/{meeting}/", {"what": "action", "text": "Send the list", "owner": "MFA", "due_on": "{today}"})),
    Route("api action", "any clerk", "coordination.action_create", "actions",
          _api("post", "/api/coordination/meetings/{meeting}/actions/", {"text": "Send the list", "owner": "MFA", "due_on": "{today}"})),
    Route("page action status", "action owner", "coordination.action_status", "actions",
          _page("post", "/coordination/actions/{action}/status/", {"status": "done"})),
    Route("api action status", "action owner", "coordination.action_status", "actions",
          _api("patch", "/api/coordination/actions/{action}/", {"status": "done"})),
    Route("page incident", "clerk who sees it", "coordination.incident_create", "incidents",
          _page("post", "/coordination/warnings/", {"what": "incident", "site": "PRI", "occurred_on": "{today}", "kind": "unrest",
                                                   "severity": "2", "source": "guard report"})),
    Route("api incident", "clerk who sees it", "coordination.incident_create", "incidents",
          _api("post", "/api/coordination/incidents/", {"site": "PRI", "occurred_on": "{today}", "kind": "unrest", "severity": 2,
                                                       "source": "guard report"})),
    Route("page danger estimate", "intelligence analyst", "coordination.danger_estimate", "danger",
          _page("post", "/coordination/warnings/", {"what": "danger", "site": "PRI", "as_of": "{today}", "probability": "0.2"})),
    Route("api danger estimate", "intelligence analyst", "coordination.danger_estimate", "danger",
          _api("post", "/api/coordination/danger/", {"site": "PRI", "as_of": "{today}", "probability": 0.2})),
    Route("page sitrep", "sitrep for MFA", "coordination.sitrep_generate", "sitreps",
          _page("get", "/coordination/sitrep.pdf", {"audience": "MFA", "date": "{today}"})),
    Route("api sitrep", "sitrep for MFA", "coordination.sitrep_generate", "sitreps",
          _api("post", "/api/coordination/sitreps/generate/", {"audience": "MFA", "date": "{today}", "pdf": "0"})),
    Route("cli sitrep", "sitrep for MFA", "coordination.sitrep_generate", "sitreps",
          _cli("sitrep", "--date", "{today}", "--audience", "MFA", "--out", "{tmp}/sitrep.json", "--as", "USER")),
    # camps
    Route("page departure", "any clerk", "camps.departure", "movements",
          _page("post", "/camps/CMP/record/", {"what": "departure", "person": "{resident}", "occurred_on": "{today}", "reason": "released"})),
    Route("api departure", "any clerk", "camps.departure", "movements",
          _api("post", "/api/camps/movements/", {"kind": "departure", "person": "{resident}", "camp": "CMP", "occurred_on": "{today}",
                                                "reason": "released"})),
    Route("cli departure", "any clerk", "camps.departure", "movements",
          _cli("camps", "--as", "USER", "depart", "{resident}", "--camp", "CMP", "--date", "{today}", "--reason", "released")),
    Route("api arrival", "any clerk", "camps.arrival", "movements",
          _api("post", "/api/camps/movements/", {"kind": "arrival", "person": "{released}", "camp": "CMP", "household": "H-1",
                                                "occurred_on": "{today}"})),
    Route("cli arrival", "any clerk", "camps.arrival", "movements",
          _cli("camps", "--as", "USER", "arrive", "{released}", "--camp", "CMP", "--household", "H-1", "--date", "{today}")),
    Route("page control change", "camp controller", "camps.control_change", "control",
          _page("post", "/camps/CMP/record/", {"what": "control", "to_custodian": "IRQ", "occurred_on": "{today}"})),
    Route("api control change", "camp controller", "camps.control_change", "control",
          _api("post", "/api/camps/control-changes/", {"camp": "CMP", "to_custodian": "IRQ", "occurred_on": "{today}"})),
    Route("cli control change", "camp controller", "camps.control_change", "control",
          _cli("camps", "--as", "USER", "control", "CMP", "--to", "IRQ", "--date", "{today}")),
    Route("page census", "any clerk", "camps.census", "census",
          _page("post", "/camps/CMP/record/", {"what": "census", "counted": "{resident}", "occurred_on": "{today}"})),
    Route("api census", "any clerk", "camps.census", "census",
          _api("post", "/api/camps/censuses/", {"camp": "CMP", "taken_on": "{today}", "counted": ["{resident}"]})),
    Route("cli census", "any clerk", "camps.census", "census",
          _cli("camps", "--as", "USER", "census", "CMP", "--date", "{today}", "--refs", "{tmp}/counted.txt")),
    Route("api household", "any clerk", "camps.household_create", "households",
          _api("post", "/api/camps/households/", {"camp": "CMP", "ref": "H-9", "head": "{released}"})),
    Route("cli household", "any clerk", "camps.household_create", "households",
          _cli("camps", "--as", "USER", "household", "CMP", "H-9", "--head", "{released}")),
    Route("api family link", "any clerk", "camps.family_link", "family",
          _api("post", "/api/camps/family-links/", {"person": "{resident}", "relative": "{released}", "relation": "brother"})),
    Route("api protection flag", "protection clerk", "camps.protection_flag", "flags",
          _api("post", "/api/camps/flags/", {"person": "{resident}", "kind": "separated", "raised_on": "{today}"})),
]


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_every_role_of_every_agency(world: dict[str, Any], route: Route) -> None:
    want = expected(route.table)
    snapshot = SNAPSHOTS[route.snapshot]
    problems = []
    for (code, role), user in world["users"].items():
        with transaction.atomic():
            before = snapshot(world)
            last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            outcome = route.door(user, world)
            after = snapshot(world)
            rows = list(AuditEvent.objects.filter(id__gt=last).order_by("id"))
            transaction.set_rollback(True)
        who = f"{route.name}: {user.username}"
        if want[(code, role)]:
            mine = [(r.action, r.outcome, r.user_id) for r in rows if r.outcome != "ok" or r.action == route.action]
            if not outcome.ok:
                problems.append(f"{who} was refused ({outcome.refused_as}); expected allowed")
            elif after == before:
                problems.append(f"{who} was answered as allowed but nothing changed")
            elif mine != [(route.action, "ok", user.pk)]:
                problems.append(f"{who}: expected one audit row ({route.action}, ok, the user), got {mine}")
        else:
            if outcome.ok:
                problems.append(f"{who} was allowed; expected refused")
            if after != before:
                problems.append(f"{who} was refused but something changed")
            if not rows or any(r.outcome != "denied" or r.user_id != user.pk for r in rows):
                problems.append(f"{who}: a refusal must be audited as denied, naming the user; got "
                                f"{[(r.action, r.outcome, r.user_id) for r in rows]}")
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ the rules in detail


def test_classification_history_reason_and_setter(world: dict[str, Any]) -> None:
    """Raised by IRQ (it holds the person) with its reason: IRQ becomes the setter, so MIL, which set the
    old level, may no longer lower it; IRQ's supervisor may. Each change audited with from, to, reason."""
    users, held = world["users"], world["held"]
    api = APIClient()
    api.force_authenticate(users[("IRQ", "clerk")])
    r = api.post(f"/api/registry/people/{held.ref}/classification/", {"level": 2, "reason": "named by a witness"}, format="json")
    assert r.status_code == 200 and r.json()["classification"] == 2 and r.json()["classified_by"] == "IRQ"
    row = AuditEvent.objects.get(action="registry.classify", outcome="ok")
    assert row.user == users[("IRQ", "clerk")] and row.object_id == str(held.pk)
    assert row.detail["classification_from"] == 1 and row.detail["classification_to"] == 2 and row.detail["reason"] == "named by a witness"
    api.force_authenticate(users[("MIL", "supervisor")])
    r = api.post(f"/api/registry/people/{held.ref}/classification/", {"level": 1, "reason": "declassified"}, format="json")
    assert r.status_code == 403 and r.json()["rule"] == "lower_classification" and "Only IRQ" in r.json()["detail"]
    api.force_authenticate(users[("IRQ", "supervisor")])
    # The reason is required, by name, and nothing changes without it.
    r = api.post(f"/api/registry/people/{held.ref}/classification/", {"level": 1, "reason": " "}, format="json")
    assert r.status_code == 400 and r.json()["field"] == "reason"
    assert Person.objects.get(pk=held.pk).classification == 2
    r = api.post(f"/api/registry/people/{held.ref}/classification/", {"level": 1, "reason": "declassified"}, format="json")
    assert r.status_code == 200 and r.json()["classification"] == 1
    # The person's page offers the form to those who may change, and says who set the level, in Arabic too.
    page = Client()
    page.force_login(users[("IRQ", "clerk")])
    html = page.get(f"/registry/people/{held.ref}/").content.decode()
    assert "Change classification" in html and "Set by IRQ." in html
    assert "تغيير التصنيف" in page.get(f"/ar/registry/people/{held.ref}/").content.decode()
    page.force_login(users[("IRQ", "viewer")])
    assert "Change classification" not in page.get(f"/registry/people/{held.ref}/").content.decode()


def test_edit_cannot_change_classification_without_the_rule(world: dict[str, Any]) -> None:
    """A PATCH carrying a classification goes through the same rule: HUM (cleared to 1) may edit the
    person but not raise it to 2; MIL's clerk may raise it only with a reason."""
    users, held = world["users"], world["held"]
    api = APIClient()
    api.force_authenticate(users[("HUM", "clerk")])
    r = api.patch(f"/api/registry/people/{held.ref}/", {"classification": 2, "classification_reason": "x", "place_of_birth": "Hit"},
                  format="json")
    assert r.status_code == 403 and r.json()["rule"] == "clearance"
    assert Person.objects.get(pk=held.pk).place_of_birth == "", "a refused edit changes nothing, the other fields included"
    api.force_authenticate(users[("MIL", "clerk")])
    r = api.patch(f"/api/registry/people/{held.ref}/", {"classification": 2}, format="json")
    assert r.status_code == 400 and r.json()["field"] == "reason"
    r = api.patch(f"/api/registry/people/{held.ref}/", {"classification": 2, "classification_reason": "tier review"}, format="json")
    assert r.status_code == 200 and r.json()["classification"] == 2
    row = AuditEvent.objects.get(action="registry.person_change", outcome="ok")
    assert row.detail["reason"] == "tier review" and row.detail["classification_to"] == 2


def test_intake_only_at_the_facilities_the_agency_operates(world: dict[str, Any]) -> None:
    """MIL imports a roster naming IRQ's prison: MIL may undo it, but the intake at PRI is IRQ's to record."""
    from custody.registry import importer

    mil = world["users"][("MIL", "clerk")]
    table = importer.read_table(_roster("MIL").encode(), "mil.csv")
    mapping = importer.propose_mapping(table.headers)
    parsed, errors = importer.validate(table, mapping, {"PRI"})
    batch = importer.commit(table, mapping, parsed, user=mil)
    with pytest.raises(CommandError, match="Only the agency operating PRI") as refused:
        call_command("import-intake", str(batch.pk), "--as", mil.username, stdout=io.StringIO())
    assert refused.value.returncode == 3
    assert not Person.objects.filter(import_batch=batch, current_facility__isnull=False).exists()
    assert AuditEvent.objects.get(action="registry.import_intake", outcome="denied").user == mil


def test_a_command_without_an_acting_user_changes_nothing(world: dict[str, Any], monkeypatch: Any) -> None:
    monkeypatch.delenv("CUSTODY_USER", raising=False)
    with pytest.raises(CommandError):
        call_command("classify", world["held"].ref, "--level", "2", "--reason", "r", stdout=io.StringIO())
    assert Person.objects.get(pk=world["held"].pk).classification == 1


def test_refusals_are_translated(world: dict[str, Any]) -> None:
    from django.utils import translation

    from custody.core.errors import NotAllowed
    from custody.registry import services

    with translation.override("ar"), pytest.raises(NotAllowed) as refused:
        services.do_classify(world["users"][("IRQ", "supervisor")], world["raised"].ref, 1, "سبب")
    assert "MIL" in refused.value.message and "تصنيف" in refused.value.message
