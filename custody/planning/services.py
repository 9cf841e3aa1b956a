"""Every change to planning records goes through here: views, API, commands and the task call these; and
what of a scenario or a plan each reader may see (the end of this module)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core import actions
from custody.core.access import restrict
from custody.core.actions import BadInput, NotAllowed, RuleError, action, reach
from custody.engines import planner
from custody.engines.planner.plan import series
from custody.planning.models import (
    OutcomeStatus,
    PlanDay,
    PlannedVehicle,
    PlanningScenario,
    PlanRun,
    RunStatus,
    ScenarioSource,
    VehicleOutcome,
)

# Assumptions the registry does not hold; shown on the scenario page and editable there.
DEFAULTS = {
    "horizon_days": 30,
    "danger_first": 0.01,
    "danger_growth": 0.05,
    "handling_share": 0.12,
    "lz_sorties": 6,
    "round_trip_minutes": 180,
    "helicopters": 10,
    "max_sorties": 3,
    "max_hours": 8.0,
    "convoys_per_day": 2,
    "buses": 4,
    "bus_seats": 40,
    "intake": 330,
}


def command_agencies() -> set[str]:
    """The military command: it moves the detainees, so it may change any agency's plan."""
    return set(getattr(settings, "PLANNING_COMMAND_AGENCIES", None) or {"MIL"})


def _require_planner(user: Any) -> None:
    # Plans name detainees with their risk tiers and factions: intelligence agencies only.
    if not (user.agency and user.agency.sees_intelligence):
        raise NotAllowed(_("Your agency may not make transfer plans."), rule="access")


def _owned_scenario(user: Any, scenario: Any) -> PlanningScenario:
    """The scenario, if the actor may change it: the agency that made it, or the military command."""
    _require_planner(user)
    pk = getattr(scenario, "pk", scenario)
    row = reach(PlanningScenario.objects.select_related("created_by"), user, "change", what=_("Scenario #%(id)s") % {"id": pk},
                lock=True, pk=pk)
    owner = row.created_by.agency_id if row.created_by_id else None
    if owner != user.agency_id and user.agency.code not in command_agencies():
        raise NotAllowed(_("Scenario #%(id)s is changed by the agency that made it or by the military command (%(command)s).")
                         % {"id": row.pk, "command": ", ".join(sorted(command_agencies()))}, rule="plan_owner")
    return row


def _store(user: Any, sc: planner.Scenario, source: str) -> PlanningScenario:
    data = planner.to_dict(sc)
    return PlanningScenario.objects.create(
        name=sc.name, source=source, data=data, digest=sc.digest(), people=len(sc.people), sites=len(sc.sites),
        days=sc.horizon_days, created_by=user,
    )


@action("planning.create_scenario", capability="add")
def do_create_scenario(user: Any, source: str, *, days: int = DEFAULTS["horizon_days"], raw: bytes | str | None = None,
                       scale: str = "small", seed: int = 1) -> PlanningScenario:
    """A scenario from the registry's live state, from an uploaded file, or synthetic (a demo)."""
    _require_planner(user)
    if source == ScenarioSource.REGISTRY:
        sc = _scenario_from_registry(user, days=days)
    elif source == ScenarioSource.FILE:
        if raw is None:
            raise BadInput(_("Choose a scenario file to upload."), field="file")
        sc = _scenario_from_file(user, raw)
    elif source == ScenarioSource.SYNTHETIC:
        sc = _synthetic_scenario(user, scale, seed)
    else:
        raise BadInput(_("The source must be registry, file or synthetic."), field="source")
    actions.note(sc, source=sc.source, people=sc.people, sites=sc.sites, days=sc.days)
    return sc


def _scenario_from_registry(user: Any, *, days: int = DEFAULTS["horizon_days"], name: str = "") -> PlanningScenario:
    """Sites are the prisons and camps holding people the user may see; the receiving facility is the
    first facility of kind `receiving`. Tiers, factions, minors, households and keep-apart pairs come
    from the registry; danger, capacities and the fleet start at DEFAULTS and are edited afterwards."""
    from custody.registry.models import Facility, KeepApart, Person

    receiving = restrict(Facility.objects.filter(kind="receiving"), user).order_by("code").first()
    if receiving is None:
        raise RuleError(_("The registry has no receiving facility; add one (kind: receiving) first."), rule="receiving")
    people = list(
        restrict(Person.objects.filter(current_facility__kind__in=["prison", "camp"], legal_status="held"), user)
        .select_related("current_facility", "household")
    )
    if not people:
        raise RuleError(_("No person you may see is held at a prison or camp: nothing to plan."), rule="people")
    facilities = sorted({p.current_facility for p in people}, key=lambda f: f.code)
    refs = {p.ref for p in people}
    by_pk = {p.pk: p.ref for p in people}
    pairs = [
        (by_pk[a], by_pk[b])
        for a, b in KeepApart.objects.filter(person_id__in=by_pk.keys(), other_id__in=by_pk.keys()).values_list("person_id", "other_id")
    ]
    counts: dict[str, int] = {}
    for p in people:
        counts[p.current_facility.code] = counts.get(p.current_facility.code, 0) + 1
    d = DEFAULTS
    data = {
        "format": planner.scenario.FORMAT,
        "name": name or _("Registry %(date)s") % {"date": timezone.now().strftime("%Y-%m-%d %H:%M")},
        "start_date": (timezone.localdate() + timezone.timedelta(days=1)).isoformat(),
        "horizon_days": days,
        "weights": {"1": 10, "2": 3, "3": 1},
        "rules": {"families_whole": any(p.household_id for p in people)},
        "receiving": {"name": receiving.name, "intake": [int(d["intake"] * min(1.0, 0.35 + 0.65 * k / 7)) for k in range(days)]},
        "sites": [
            {
                "id": f.code, "name": f.name,
                "danger": [round(min(0.35, d["danger_first"] * math.exp(d["danger_growth"] * k)), 5) for k in range(days)],
                "handling": max(40, int(counts[f.code] * d["handling_share"])),
                "lz_sorties": d["lz_sorties"], "road_open": [True] * days,
                "round_trip_minutes": d["round_trip_minutes"], "road_overnight": False,
            }
            for f in facilities
        ],
        "helicopters": [
            {"id": f"H{i + 1:02d}", "available": [True] * days, "max_sorties": d["max_sorties"], "max_hours": d["max_hours"]}
            for i in range(d["helicopters"])
        ],
        "convoys": {"per_day": [d["convoys_per_day"]] * days, "buses": d["buses"], "bus_seats": d["bus_seats"]},
        "people": [
            {"id": p.ref, "site": p.current_facility.code, "tier": p.risk_tier or 3, "faction": p.faction or "unknown",
             "minor": p.is_minor, "family": p.household.ref if p.household_id else None}
            for p in sorted(people, key=lambda p: p.ref)
        ],
        "keep_apart": [[a, b] for a, b in pairs if a in refs and b in refs],
    }
    return _store(user, planner.from_dict(data), ScenarioSource.REGISTRY)


def _scenario_from_file(user: Any, raw: bytes | str) -> PlanningScenario:
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(_("The file is not JSON: %(error)s") % {"error": e}, rule="schema", field="file") from e
    try:
        sc = planner.from_dict(data)
    except planner.ScenarioError as e:
        raise BadInput(_("The scenario is invalid at %(path)s: %(detail)s") % {"path": e.path or "(root)", "detail": e.detail},
                       rule="schema", field=e.path) from e
    return _store(user, sc, ScenarioSource.FILE)


def _synthetic_scenario(user: Any, scale: str, seed: int) -> PlanningScenario:
    if scale not in planner.SCALES:
        raise BadInput(_("Unknown scale %(scale)s.") % {"scale": scale}, rule="scale", field="scale")
    return _store(user, planner.generate(scale, seed), ScenarioSource.SYNTHETIC)


def _number(changes: dict[str, Any], key: str, kind: type) -> Any:
    try:
        return kind(changes[key])
    except (TypeError, ValueError) as e:
        raise BadInput(_("%(field)s: “%(value)s” is not a number.") % {"field": key, "value": changes[key]}, field=key) from e


@action("planning.edit_scenario", capability="change")
def do_edit_scenario(user: Any, scenario: Any, changes: dict[str, Any]) -> PlanningScenario:
    """Edit the assumptions: tier weights, and per site the danger curve, handling, landing zone,
    round trip and road closures. Every edit is validated by the schema before it is saved."""
    scenario = _owned_scenario(user, scenario)
    data = json.loads(json.dumps(scenario.data))
    days = data["horizon_days"]
    for t in ("1", "2", "3"):
        if f"weight_{t}" in changes and changes[f"weight_{t}"] not in (None, ""):
            data["weights"][t] = _number(changes, f"weight_{t}", float)
    if changes.get("intake") not in (None, ""):
        data["receiving"]["intake"] = [_number(changes, "intake", int)] * days
    for site in data["sites"]:
        sid = site["id"]
        for key in ("handling", "lz_sorties", "round_trip_minutes"):
            if changes.get(f"{sid}:{key}") not in (None, ""):
                site[key] = _number(changes, f"{sid}:{key}", int)
        first, last = changes.get(f"{sid}:danger_first"), changes.get(f"{sid}:danger_last")
        if first not in (None, "") and last not in (None, ""):
            a, b = _number(changes, f"{sid}:danger_first", float), _number(changes, f"{sid}:danger_last", float)
            site["danger"] = [round(a + (b - a) * k / max(1, days - 1), 5) for k in range(days)]
        closed = changes.get(f"{sid}:road_closed")
        if closed is not None:
            shut = _day_list(closed, days, sid)
            site["road_open"] = [k not in shut for k in range(days)]
    try:
        sc = planner.from_dict(data)
    except planner.ScenarioError as e:
        raise BadInput(_("The change makes the scenario invalid at %(path)s: %(detail)s") % {"path": e.path, "detail": e.detail},
                       rule="schema", field=e.path) from e
    scenario.data = planner.to_dict(sc)
    scenario.digest = sc.digest()
    scenario.save(update_fields=["data", "digest"])
    actions.note(scenario, digest=scenario.digest)
    return scenario


def _day_list(text: str, days: int, sid: str) -> set[int]:
    """'3, 5-7' -> {2, 4, 5, 6}: days are shown to people counting from 1."""
    out: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        try:
            lo, _sep, hi = part.partition("-")
            a, b = int(lo), int(hi or lo)
        except ValueError as e:
            raise BadInput(_("Road closures at %(site)s: %(part)s is not a day or range of days.") % {"site": sid, "part": part},
                           rule="road", field=f"{sid}:road_closed") from e
        if not (1 <= a <= b <= days):
            raise BadInput(_("Road closures at %(site)s: days run from 1 to %(days)d.") % {"site": sid, "days": days},
                           rule="road", field=f"{sid}:road_closed")
        out |= set(range(a - 1, b))
    return out


@action("planning.start_run", capability="change")
def do_start_run(user: Any, scenario: Any, *, time_limit: float = 60.0, parent: PlanRun | None = None,
                 first_day: int = 0) -> PlanRun:
    """Queue a solve of the scenario (the worker runs execute_run); the run is the actor's."""
    scenario = _owned_scenario(user, scenario)
    if not 5 <= time_limit <= 900:
        raise BadInput(_("The time limit must be between 5 and 900 seconds."), rule="time_limit", field="time_limit")
    from custody.planning.tasks import solve_plan_run  # noqa: PLC0415 - the task module imports this one
    run = PlanRun.objects.create(scenario=scenario, time_limit=time_limit, created_by=user, parent=parent, first_day=first_day)
    result = solve_plan_run.enqueue(run.pk)
    PlanRun.objects.filter(pk=run.pk, task_id="").update(task_id=str(result.id)[:64])
    run.refresh_from_db()
    actions.note(run, scenario=scenario.pk, parent=parent.pk if parent else None, first_day=first_day)
    return run


def ledger_departures(vehicle_ids: list[str]) -> dict[str, list[str]]:
    """People the custody ledger records as departed on each manifest (the manifest number printed
    on the PDF is the vehicle id)."""
    from custody.ledger.models import LedgerEvent

    out: dict[str, list[str]] = {}
    rows = LedgerEvent.objects.filter(kind="departed", manifest__in=vehicle_ids).values_list("manifest", "person__ref")
    for manifest, ref in rows:
        out.setdefault(manifest, []).append(ref)
    return out


def _kept_vehicles(run: PlanRun, first_day: int) -> list[planner.Vehicle]:
    """What actually left before `first_day`: the outcome entered by hand where there is one, else
    the departures the custody ledger records on that manifest, else the plan (only exceptions are
    entered); nothing for a cancelled vehicle."""
    out = []
    vehicles = list(run.vehicles.filter(day__lt=first_day).select_related("outcome"))
    ledger = ledger_departures([v.vehicle_id for v in vehicles])
    site_of = {p["id"]: p["site"] for p in run.scenario.data["people"]}
    for v in vehicles:
        outcome = getattr(v, "outcome", None)
        manifest = list(v.manifest)
        if outcome is None and v.vehicle_id in ledger:
            manifest = sorted({p for p in ledger[v.vehicle_id] if site_of.get(p) == v.site})
        if outcome is not None:
            if outcome.status == OutcomeStatus.CANCELLED:
                continue
            if outcome.status == OutcomeStatus.PARTIAL:
                manifest = [p for p in outcome.moved if p in set(v.manifest)]
        if manifest:
            out.append(planner.Vehicle(id=v.vehicle_id, day=v.day, site=v.site, mode=v.mode, manifest=manifest,
                                       airframe=v.airframe or None, convoy=v.convoy or None))
    return out


def _run(user: Any, run: Any) -> PlanRun:
    pk = getattr(run, "pk", run)
    return reach(PlanRun.objects.select_related("scenario"), user, "change", what=_("Plan #%(id)s") % {"id": pk}, pk=pk)


@action("planning.replan", capability="change")
def do_replan(user: Any, run: Any, first_day: int, *, time_limit: float = 60.0) -> PlanRun:
    run = _run(user, run)
    if run.status != RunStatus.DONE:
        raise RuleError(_("Only a finished plan can be re-planned."), rule="status")
    if not 1 <= first_day < run.scenario.days:
        raise BadInput(_("Re-plan from a day between 2 and %(days)d.") % {"days": run.scenario.days}, rule="first_day", field="from_day")
    return do_start_run(user, run.scenario_id, time_limit=time_limit, parent=run, first_day=first_day)


@action("planning.record_outcome", capability="change")
def do_record_outcome(user: Any, vehicle: Any, status: str, *, moved: list[str] | None = None, note: str = "") -> VehicleOutcome:
    pk = getattr(vehicle, "pk", vehicle)
    vehicle = reach(PlannedVehicle.objects.select_related("run"), user, "change", what=_("Vehicle #%(id)s") % {"id": pk}, pk=pk)
    _owned_scenario(user, vehicle.run.scenario_id)
    if status not in OutcomeStatus.values:
        raise BadInput(_("Unknown outcome %(status)s.") % {"status": status}, rule="status", field="status")
    moved = list(moved or [])
    if status == OutcomeStatus.PARTIAL:
        stray = [p for p in moved if p not in set(vehicle.manifest)]
        if stray:
            raise BadInput(_("%(people)s are not on manifest %(vehicle)s.") % {"people": ", ".join(stray[:5]), "vehicle": vehicle.vehicle_id},
                           rule="manifest", field="moved")
    elif status == OutcomeStatus.FLOWN:
        moved = list(vehicle.manifest)
    else:
        moved = []
    outcome, _created = VehicleOutcome.objects.update_or_create(
        vehicle=vehicle, defaults={"status": status, "moved": moved, "note": note, "recorded_by": user})
    actions.note(vehicle, status=status, moved=len(moved))
    return outcome


# --- the task body -------------------------------------------------------------------------------

def execute_run(run_id: int) -> None:
    """Solve one run: called by the background task. Writes progress as it goes (throttled)."""
    run = PlanRun.objects.select_related("scenario").get(pk=run_id)
    PlanRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now(), stage="load")
    sc = planner.from_dict(run.scenario.data)
    last = [0.0]

    def progress(stage: str, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 1.0 and done < total:
            return
        last[0] = now
        PlanRun.objects.filter(pk=run.pk).update(stage=stage, note=f"{message} ({done}/{total})"[:200])

    kept = _kept_vehicles(run.parent, run.first_day) if run.parent_id else []
    try:
        plan = planner.make_plan(sc, time_limit=run.time_limit, progress=progress, kept=kept, first_day=run.first_day)
    except planner.Infeasible as e:
        PlanRun.objects.filter(pk=run.pk).update(
            status=RunStatus.INFEASIBLE, finished_at=timezone.now(), stage="",
            findings=[{"constraint": f.constraint, "where": f.where, "message": f.message} for f in e.findings])
        return
    except Exception as e:  # noqa: BLE001 - a failed solve is recorded on the run, not lost in a worker log
        PlanRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, finished_at=timezone.now(), error=repr(e)[:2000])
        raise
    violations = [str(v) for v in planner.check(sc, plan)]
    ser = series(sc, plan.vehicles)
    greedy_ser = series(sc, planner.greedy(sc))
    days_log = {d["day"]: d for d in plan.days}
    with transaction.atomic():
        PlannedVehicle.objects.filter(run=run).delete()
        PlanDay.objects.filter(run=run).delete()
        PlannedVehicle.objects.bulk_create([
            PlannedVehicle(run=run, vehicle_id=v.id, day=v.day, site=v.site, mode=v.mode, airframe=v.airframe or "",
                           convoy=v.convoy or "", manifest=v.manifest, people=len(v.manifest))
            for v in plan.vehicles
        ], batch_size=500)
        rows = []
        for d in range(sc.horizon_days):
            todays = [v for v in plan.vehicles if v.day == d]
            arrivals = sum(len(v.manifest) for v in plan.vehicles
                           if sc.arrival_day(sc.site_index[v.site], v.day, v.mode) == d)
            rows.append(PlanDay(
                run=run, day=d, departures=sum(len(v.manifest) for v in todays), arrivals=arrivals,
                intake=sc.receiving.intake[d], sorties=sum(1 for v in todays if v.mode == "heli"),
                convoys=len({v.convoy for v in todays if v.convoy}),
                binding=days_log.get(d, {}).get("binding", []), replanned=days_log.get(d, {}).get("replanned", False),
                remaining={s: ser.remaining[s][d] for s in ser.remaining}, exposure=ser.exposure[d],
                greedy_exposure=greedy_ser.exposure[d],
            ))
        PlanDay.objects.bulk_create(rows)
        PlanRun.objects.filter(pk=run.pk).update(
            status=RunStatus.DONE, finished_at=timezone.now(), stage="", note="", summary=plan.summary,
            unmoved=plan.unmoved, violations=violations)


# --- reads: what of a scenario or a plan the reader may see -------------------------------------------------
# A scenario built by a user cleared SECRET names people a reader cleared lower, or of an agency they are
# not released to, or the partner force outside its custody scope, may not know of. Scenarios and plans are
# stored whole (the solver needs everyone); every page, API answer and PDF reads them through these.

_CHUNK = 2000  # references per query: well under SQLite's limit on bound parameters


def hidden_people(user: Any, ids: Iterable[Any]) -> set[str]:
    """Of these scenario person ids, those that are registry references of people `user` may not see.
    An id naming nobody in the registry (a synthetic scenario's) is not a person the registry restricts."""
    from custody.registry.models import Person

    refs = sorted({i for i in ids if isinstance(i, str)})
    hidden: set[str] = set()
    for k in range(0, len(refs), _CHUNK):
        known = Person.objects.filter(ref__in=refs[k:k + _CHUNK])
        hidden |= set(known.values_list("ref", flat=True)) - set(restrict(known, user).values_list("ref", flat=True))
    return hidden


def visible_scenario(user: Any, scenario: PlanningScenario) -> dict[str, Any]:
    """The scenario's document without the people the user may not see, nor their keep-apart pairs."""
    data = scenario.data
    hidden = hidden_people(user, (p["id"] for p in data.get("people", [])))
    if not hidden:
        return data
    return {**data, "people": [p for p in data["people"] if p["id"] not in hidden],
            "keep_apart": [pair for pair in data.get("keep_apart", []) if not set(pair) & hidden]}


def visible_unmoved(user: Any, run: PlanRun) -> list[dict[str, Any]]:
    hidden = hidden_people(user, (u.get("person") for u in run.unmoved))
    return [u for u in run.unmoved if u.get("person") not in hidden]


def visible_violations(user: Any, run: PlanRun) -> list[str]:
    """The checker's verdict. A violation naming a person the user may not see, or the factions of
    people sharing a vehicle (which may be his), keeps only its rule."""
    if not run.violations:
        return []
    hidden = hidden_people(user, (p["id"] for p in run.scenario.data.get("people", [])))
    if not hidden:
        return list(run.violations)
    out = []
    for v in run.violations:
        rule = v[1:v.index("]")] if v.startswith("[") and "]" in v else ""
        if rule == "faction" or any(ref in v for ref in hidden):
            v = _("[%(rule)s] details withheld: they concern people you may not see") % {"rule": rule or "?"}
        out.append(v)
    return out


def visible_refs(refs: Iterable[str], hidden: set[str]) -> list[str]:
    return [r for r in refs if r not in hidden]
