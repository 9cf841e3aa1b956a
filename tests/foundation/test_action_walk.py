"""The walk over the one door (custody.core.actions): every action of the code base, found by importing
every module that declares one, is refused to an actor without its capability and to a missing actor,
each refusal writing exactly one audit row (outcome denied) and nothing else of that action; and every
action of cases, repatriation, planning, matching and biometrics, called once through a door (page, API
or CLI) by an actor who may, writes exactly one 'ok' audit row naming that actor.

Generic on purpose: an action added later anywhere is walked here without a change to this file; an
action added to the five apps above without a door case below fails `test_every_action_of_these_apps_has_a_door_case`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

import custody
from custody.core.access import can
from custody.core.actions import registered_actions
from custody.core.domains import app_modules
from custody.core.errors import NotAllowed
from custody.core.models import AuditEvent

ROOT = Path(custody.__file__).resolve().parent
SKIP_PARTS = {"migrations", "management", "templates", "static", "locale"}


def _load_every_action() -> dict[str, dict[str, Any]]:
    """Import every app's services (and actions) module, then every other module that declares an action,
    so that the registry holds the actions of the whole code base."""
    app_modules("services")
    app_modules("actions")
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if SKIP_PARTS & set(rel.parts) or "@action(" not in path.read_text(encoding="utf-8"):
            continue
        importlib.import_module(".".join(["custody", *rel.with_suffix("").parts]).removesuffix(".__init__"))
    return registered_actions()


ACTIONS = _load_every_action()
OUR_APPS = ("cases", "repatriation", "planning", "matching", "biometrics")
ROLES_HIGH_TO_LOW = ("administrator", "supervisor", "analyst", "clerk", "viewer")


def _function(name: str) -> Callable[..., Any]:
    path = ACTIONS[name]["function"]
    module, _dot, qualname = path.rpartition(".")
    while module:
        try:
            found: Any = importlib.import_module(module)
            break
        except ModuleNotFoundError:
            # A method: the module is shorter, the qualified name longer.
            module, _dot, head = module.rpartition(".")
            qualname = f"{head}.{qualname}"
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _actor_without(capability: str, agencies: dict[str, Any]) -> Any:
    """The highest-ranked demo account lacking the capability (the most convincing refusal); for a
    capability every active account holds, an inactive administrator."""
    from custody.accounts.models import User

    for role in ROLES_HIGH_TO_LOW:
        for code, agency in sorted(agencies.items()):
            user = User(username=f"walk.{code.lower()}.{role}", agency=agency, role=role, clearance=3)
            if not can(user, capability):
                user.set_unusable_password()
                user.save()
                return user
    user = User(username="walk.inactive", agency=agencies["CIO"], role="administrator", clearance=3, is_active=False)
    user.set_unusable_password()
    user.save()
    return user


def _rows_after(mark: int, name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=mark, action=name).order_by("pk"))


def _mark() -> int:
    last = AuditEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_every_action_refuses_an_actor_without_its_capability_and_a_missing_actor(name: str, agencies: dict[str, Any]) -> None:
    capability = ACTIONS[name]["capability"]
    fn = _function(name)
    actor = _actor_without(capability, agencies)
    assert not can(actor, capability)
    mark = _mark()
    # No other argument: the capability is checked before anything else is read or written.
    with pytest.raises(NotAllowed):
        fn(actor)
    rows = _rows_after(mark, name)
    assert [(r.outcome, r.user_id) for r in rows] == [("denied", actor.pk)], name
    assert AuditEvent.objects.filter(pk__gt=mark).count() == 1, "a refused action writes its one row and nothing else"
    mark = _mark()
    with pytest.raises(NotAllowed):
        fn(None)
    rows = _rows_after(mark, name)
    assert [(r.outcome, r.user_id, r.username) for r in rows] == [("denied", None, "(no user)")], name


def test_the_walk_finds_the_actions_of_every_app() -> None:
    prefixes = {name.split(".", 1)[0] for name in ACTIONS}
    assert set(OUR_APPS) <= prefixes
    assert all(len(name) <= 40 and "." in name for name in ACTIONS)


# ---------------------------------------------------------------- one allowed call per action, through a door


BIO_DATA = Path("/work/shared/data/biometrics")


def _finger(k: int, finger: int = 2) -> bytes:
    from custody.engines.biometrics.synthetic import finger_seed, impression, master_print, png_bytes

    return png_bytes(impression(master_print(finger_seed(1, finger, base=42)), k))


class World:
    """People, facilities and accounts the door cases share; built lazily, per test."""

    def __init__(self, make_user: Callable[..., Any], person_factory: Callable[..., Any], facility_factory: Callable[..., Any],
                 client_for: Callable[..., Any], api_for: Callable[..., Any], tmp_path: Path) -> None:
        self.make_user, self.client_for, self.api_for, self.tmp = make_user, client_for, api_for, tmp_path
        self.prison = facility_factory("WALK1", custodian="IRQ", kind="prison", country="IQ")
        self.receiving = facility_factory("WALKR", custodian="IRQ", kind="receiving", country="IQ")
        self.person = person_factory("Omar Faisal Al-Dulaimi", "عمر فيصل الدليمي", facility=self.prison, nationality="TN",
                                     ref="P-900001")
        self.other = person_factory("Umar Faysal al-Dulaimi", "", facility=self.prison, nationality="IQ", ref="P-900002")

    def item(self, by: Any, **extra: Any) -> Any:
        from custody.cases.services import do_create_item

        return do_create_item(by, kind="document", title="Seized notebook", source="raid", people=[self.person.ref],
                              body="Name SECRET here", nations=["IQ"], release_all=True, **extra)


def _ok(response: Any, *codes: int) -> None:
    assert response.status_code in codes, (response.status_code, response.content[:400])


Case = Callable[[World], tuple[Any, Callable[[], None]]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


# -- cases


@case("cases.create_item")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("FBI", "clerk")
    return u, lambda: _ok(w.client_for(u).post("/cases/items/new/", {
        "kind": "document", "title": "Seized notebook", "source": "raid", "people": w.person.ref, "classification": 1,
        "nations": "IQ"}), 302)


@case("cases.add_attachment")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("FBI", "clerk")
    item = w.item(u)
    return u, lambda: _ok(w.api_for(u).post(f"/api/cases/items/{item.ref}/attachments/", {
        "name": "notes.txt", "content_base64": "bm90ZXM="}, format="json"), 201)


@case("cases.set_releasability")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("FBI", "clerk")
    item = w.item(u)
    return u, lambda: _ok(w.client_for(u).post(f"/cases/items/{item.ref}/releasability/", {
        "classification": 1, "releasable_to": ["CIO"], "nations": "IQ, FR", "reason": "court asked"}), 302)


@case("cases.redact")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("FBI", "clerk")
    item = w.item(u)
    return u, lambda: _ok(w.client_for(u).post(f"/cases/items/{item.ref}/redact/", {"spans": "5-11", "reason": "source"}), 302)


@case("cases.request_disclosure")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "clerk")
    item = w.item(w.make_user("FBI", "clerk"))
    return u, lambda: _ok(w.api_for(u).post("/api/cases/disclosures/", {
        "item": item.ref, "recipient": "IQ-CCC", "justification": "trial"}, format="json"), 201)


def _disclosure(w: World) -> Any:
    from custody.cases.services import do_request_disclosure

    return do_request_disclosure(w.make_user("CIO", "clerk"), w.item(w.make_user("FBI", "clerk")), "IQ-CCC", "for trial")


@case("cases.review_disclosure")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u, req = w.make_user("IRQ", "supervisor"), _disclosure(w)
    return u, lambda: _ok(w.client_for(u).post(f"/cases/disclosures/{req.pk}/decide/", {"action": "review", "reason": "mine"}), 302)


@case("cases.approve_disclosure")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u, req = w.make_user("IRQ", "supervisor"), _disclosure(w)
    return u, lambda: _ok(w.api_for(u).post(f"/api/cases/disclosures/{req.pk}/approve/", {"reason": "relevant"}, format="json"), 200)


@case("cases.refuse_disclosure")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u, req = w.make_user("IRQ", "supervisor"), _disclosure(w)
    return u, lambda: _ok(w.client_for(u).post(f"/cases/disclosures/{req.pk}/decide/", {"action": "refuse", "reason": "source"}), 302)


@case("cases.withdraw_disclosure")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    req = _disclosure(w)
    u = req.requested_by
    return u, lambda: _ok(w.api_for(u).post(f"/api/cases/disclosures/{req.pk}/withdraw/", {"reason": "not needed"}, format="json"), 200)


@case("cases.generate_file")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "analyst")
    out = w.tmp / "file.json"
    return u, lambda: call_command("case-file", w.person.ref, "--recipient", "IQ-CCC", "--out", str(out), "--as", u.username,
                                   stdout=io.StringIO())


@case("cases.add_recipient")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "supervisor")
    return u, lambda: _ok(w.client_for(u).post("/cases/recipients/", {
        "code": "TN-PROS", "name": "Tunisian prosecutor", "name_ar": "", "kind": "prosecutor", "country": "TN"}), 302)


@case("cases.set_status")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("IRQ", "clerk")
    return u, lambda: _ok(w.api_for(u).post("/api/cases/status/", {
        "person": w.person.ref, "stage": "referred", "on": "2026-01-05", "court": "CCC"}, format="json"), 201)


# -- repatriation


@case("repatriation.set_position")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MFA", "clerk")
    return u, lambda: _ok(w.client_for(u).post("/repatriation/countries/TN/position/", {"position": "case_by_case", "note": "x"}), 302)


@case("repatriation.add_contact")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MFA", "clerk")
    return u, lambda: _ok(w.api_for(u).post("/api/repatriation/countries/TN/contacts/", {"name": "Mr Consul"}, format="json"), 201)


@case("repatriation.log_outreach")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MFA", "clerk")
    return u, lambda: _ok(w.client_for(u).post("/repatriation/countries/TN/outreach/", {
        "kind": "note_sent", "on": dt.date.today().isoformat(), "subject": "Request to take back nationals"}), 302)


@case("repatriation.record_override")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MFA", "supervisor")
    return u, lambda: _ok(w.api_for(u).post(f"/api/repatriation/people/{w.person.ref}/overrides/", {
        "country": "TN", "kind": "minor", "reason": "family reunification"}, format="json"), 201)


@case("repatriation.record_step")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MFA", "clerk")
    return u, lambda: _ok(w.client_for(u).post(f"/repatriation/people/{w.person.ref}/step/", {
        "country": "TN", "kind": "identity_confirmed"}), 302)


# -- planning


def _scenario(w: World, by: Any) -> Any:
    from custody.planning.services import do_create_scenario

    return do_create_scenario(by, "synthetic", scale="small", seed=1)


@case("planning.create_scenario")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MIL", "analyst")
    return u, lambda: _ok(w.client_for(u).post("/planning/", {"kind": "synthetic", "scale": "small", "seed": 1}), 302)


@case("planning.edit_scenario")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "analyst")
    sc = _scenario(w, u)
    return u, lambda: _ok(w.client_for(u).post(f"/planning/scenarios/{sc.pk}/", {"weight_1": "12"}), 302)


@case("planning.start_run")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "analyst")
    sc = _scenario(w, u)
    return u, lambda: _ok(w.api_for(u).post(f"/api/planning/scenarios/{sc.pk}/plan/", {"time_limit": 10}, format="json"), 202)


def _done_run(w: World, by: Any) -> Any:
    from custody.planning.models import PlannedVehicle, PlanRun, RunStatus

    sc = _scenario(w, by)
    run = PlanRun.objects.create(scenario=sc, time_limit=10, created_by=by, status=RunStatus.DONE)
    person = sc.data["people"][0]
    PlannedVehicle.objects.create(run=run, vehicle_id="H01-D1-1", day=0, site=person["site"], mode="heli", manifest=[person["id"]],
                                  people=1)
    return run


@case("planning.replan")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("MIL", "clerk")
    run = _done_run(w, w.make_user("CIO", "analyst"))  # the military command re-plans any agency's plan
    return u, lambda: _ok(w.api_for(u).post(f"/api/planning/runs/{run.pk}/replan/", {"from_day": 2, "time_limit": 10},
                                            format="json"), 202)


@case("planning.record_outcome")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "analyst")
    run = _done_run(w, u)
    vehicle = run.vehicles.get()
    return u, lambda: _ok(w.client_for(u).post(f"/planning/runs/{run.pk}/progress/", {"vehicle": vehicle.pk, "status": "cancelled"}),
                          302)


# -- matching


def _pair(w: World) -> Any:
    from custody.matching.models import CandidatePair

    a, b = sorted([w.person.pk, w.other.pk])
    return CandidatePair.objects.create(person_a_id=a, person_b_id=b, weight=8.0, probability=0.9, explanation={}, found_by="test")


@case("matching.scan")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "analyst")
    return u, lambda: call_command("match-scan", "--as", u.username, stdout=io.StringIO())


@case("matching.decide")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u, pair = w.make_user("CIO", "analyst"), _pair(w)
    return u, lambda: _ok(w.api_for(u).post(f"/api/matching/pairs/{pair.pk}/decide/", {"decision": "same"}, format="json"), 200)


@case("matching.undo_merge")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    from custody.matching.models import Merge

    u = w.make_user("CIO", "analyst")
    merge = Merge.objects.create(survivor=w.person, merged=w.other, pair=_pair(w), automatic=True)
    return u, lambda: _ok(w.client_for(u).post(f"/matching/merges/{merge.pk}/undo/", {"reason": "different fathers"}), 302)


@case("matching.undo_run")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD
    from custody.matching.models import LinkageRun

    u = w.make_user("CIO", "analyst")
    run = LinkageRun.objects.create(user=u, records=2, threshold=DEFAULT_THRESHOLD, review_threshold=REVIEW_THRESHOLD)
    return u, lambda: call_command("match-undo-run", str(run.pk), "--yes", "--as", u.username, stdout=io.StringIO())


@case("matching.import_list")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("CIO", "clerk")
    xml = (Path(__file__).resolve().parents[1] / "matching" / "fixtures" / "un-list-synthetic.xml").read_bytes()
    return u, lambda: _ok(w.client_for(u).post("/matching/lists/", {"file": SimpleUploadedFile("list.xml", xml)}), 302)


# -- biometrics


def _enrolled(w: World) -> Any:
    from custody.biometrics.services import do_enrol

    return do_enrol(w.make_user("FBI", "clerk"), w.person.ref, face=None, fingers={2: _finger(1)}, station="WALK")


@case("biometrics.enrol")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("FBI", "clerk")
    return u, lambda: _ok(w.api_for(u).post("/api/biometrics/enrol/", {
        "person": w.person.ref, "station": "WALK", "finger_2": SimpleUploadedFile("2.png", _finger(1))}, format="multipart"), 201)


@case("biometrics.search")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("FBI", "analyst")
    _enrolled(w)
    return u, lambda: _ok(w.client_for(u).post("/biometrics/search/", {"finger_2": SimpleUploadedFile("2.png", _finger(2))}), 302)


@case("biometrics.verify")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("IRQ", "clerk")  # a handover officer: no image rights needed for 1:1
    _enrolled(w)
    return u, lambda: _ok(w.api_for(u).post("/api/biometrics/verify/", {
        "person": w.person.ref, "modality": "finger", "position": 2, "image": SimpleUploadedFile("2.png", _finger(2))},
        format="multipart"), 201)


@case("biometrics.adjudicate")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    from custody.biometrics.services import do_search

    u = w.make_user("FBI", "analyst")
    _enrolled(w)
    ident = do_search(u, face=None, fingers={2: _finger(2)}, station="WALK")
    return u, lambda: _ok(w.client_for(u).post(f"/biometrics/identification/{ident.pk}/compare/{w.person.ref}/", {
        "decision": "same", "note": "same ridge detail"}), 302)


@case("biometrics.import")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    if not BIO_DATA.exists():
        pytest.skip("public ANSI/NIST reference data absent")
    u = w.make_user("FBI", "analyst")
    raw = (BIO_DATA / "ansi-nist" / "valid1.3.an2").read_bytes()
    return u, lambda: _ok(w.api_for(u).post("/api/biometrics/import/", {
        "file": SimpleUploadedFile("f.an2", raw), "person": w.person.ref}, format="multipart"), 201)


@case("biometrics.save_calibration")
def _(w: World) -> tuple[Any, Callable[[], None]]:
    u = w.make_user("IRQ", "supervisor")
    return u, lambda: call_command("bio", "calibrate", "--modality", "face", "--synthetic", "8", "--save", "walk", "--as", u.username,
                                   stdout=io.StringIO())


def test_every_action_of_these_apps_has_a_door_case() -> None:
    ours = {name for name in ACTIONS if name.split(".", 1)[0] in OUR_APPS}
    assert ours - set(CASES) == set(), "an action of these apps without a door case below"
    assert set(CASES) - ours == set(), "a door case for an action that no longer exists"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_one_allowed_call_through_a_door_writes_one_ok_row_naming_the_actor(
        name: str, make_user: Any, person_factory: Any, facility_factory: Any, client_for: Any, api_for: Any,
        tmp_path: Path) -> None:
    world = World(make_user, person_factory, facility_factory, client_for, api_for, tmp_path)
    actor, door = CASES[name](world)
    mark = _mark()
    door()
    rows = _rows_after(mark, name)
    assert [(r.outcome, r.user_id) for r in rows] == [("ok", actor.pk)], [(r.outcome, r.user_id, r.detail) for r in rows]
    assert rows[0].username == actor.username
    # The row names what was changed (a record, or at least its kind).
    assert rows[0].object_type, json.dumps(rows[0].detail)[:200]
