"""Planning pages: scenarios and runs, a run with its charts, a day's manifests (and their PDF),
progress against plan. Every query through restrict(); every page naming people audited."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _

from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.charts import bar_chart, line_chart
from custody.core.errors import BadInput, Refusal
from custody.planning import labels, services
from custody.planning.models import (
    OutcomeStatus,
    PlanDay,
    PlannedVehicle,
    PlanningScenario,
    PlanRun,
    RunStatus,
)

CLASSIFICATION = 2  # plans name detainees with risk tiers and factions


def _ctx(**extra: Any) -> dict[str, Any]:
    return {"page_classification": CLASSIFICATION, **extra}


def _int(data: Any, name: str, default: int) -> int:
    """A whole number from a form field, or BadInput naming the field."""
    value = (data.get(name) or "").strip() or str(default)
    try:
        return int(float(value))
    except ValueError as e:
        raise BadInput(_("%(field)s: “%(value)s” is not a number.") % {"field": name, "value": value}, field=name) from e


def plan_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    scenarios = restrict(PlanningScenario.objects.all(), user).defer("data")[:50]
    runs = restrict(PlanRun.objects.select_related("scenario"), user).defer("scenario__data")[:50]
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            sc = services.do_create_scenario(user, request.POST.get("kind", ""), days=_int(request.POST, "days", 30),
                                             raw=upload.read() if upload is not None else None,
                                             scale=request.POST.get("scale", "small"), seed=_int(request.POST, "seed", 1))
        except Refusal as e:
            messages.error(request, e.message)
        else:
            return redirect("planning:scenario_detail", pk=sc.pk)
    return render(request, "planning/plan_list.html", _ctx(
        scenarios=scenarios, runs=runs, can_change=can(user, "change") and bool(user.agency and user.agency.sees_intelligence)))


def scenario_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sc = get_restricted(PlanningScenario.objects.all(), request.user, "view", request=request, pk=pk)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "plan":
                run = services.do_start_run(request.user, sc.pk, time_limit=_int(request.POST, "time_limit", 60))
                return redirect("planning:run_detail", pk=run.pk)
            services.do_edit_scenario(request.user, sc.pk, request.POST.dict())
            messages.success(request, _("Scenario saved."))
            return redirect("planning:scenario_detail", pk=sc.pk)
        except Refusal as e:
            messages.error(request, e.message)
    audit.record(request, "planning_scenario_view", obj=sc)
    data = services.visible_scenario(request.user, sc)
    days = data["horizon_days"]
    sites = []
    for s in data["sites"]:
        closed = [str(k + 1) for k, ok in enumerate(s["road_open"]) if not ok]
        people = sum(1 for p in data["people"] if p["site"] == s["id"])
        sites.append({**s, "people": people, "danger_first": s["danger"][0], "danger_last": s["danger"][-1],
                      "closed": ", ".join(closed)})
    danger_chart = line_chart({s["id"]: s["danger"] for s in data["sites"]}, x_labels=["1", str(days)],
                              title=_("Danger estimate per day"), rtl=get_language_bidi())
    runs = restrict(PlanRun.objects.filter(scenario=sc), request.user)
    return render(request, "planning/scenario_detail.html", _ctx(
        scenario=sc, data=data, sites=sites, danger_chart=danger_chart, runs=runs,
        helicopters=len(data["helicopters"]), keep_apart=len(data.get("keep_apart", [])),
        intake_peak=max(data["receiving"]["intake"] or [0]), can_change=can(request.user, "change")))


def scenario_download(request: HttpRequest, pk: int) -> HttpResponse:
    sc = get_restricted(PlanningScenario.objects.all(), request.user, "export", request=request, pk=pk)
    audit.record(request, "planning_scenario_export", obj=sc)
    data = services.visible_scenario(request.user, sc)
    resp = HttpResponse(json.dumps(data, ensure_ascii=False, indent=1), content_type="application/json")
    resp["Content-Disposition"] = f'attachment; filename="scenario-{sc.pk}.json"'
    return resp


def _run(request: HttpRequest, pk: int, action: str = "view") -> PlanRun:
    return get_restricted(PlanRun.objects.select_related("scenario"), request.user, action, request=request, pk=pk)


def run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress indicator, polled by htmx while the solve runs; reloads the page when it ends."""
    run = _run(request, pk)
    resp = render(request, "planning/_run_status.html", {"run": run})
    if not run.active and request.headers.get("HX-Request") and request.GET.get("was") in ("queued", "running"):
        resp["HX-Refresh"] = "true"
    return resp


def _charts(run: PlanRun, days: list[PlanDay]) -> dict[str, str]:
    rtl = get_language_bidi()
    labels = [str(d.day + 1) for d in days]
    sites = sorted({s for d in days for s in d.remaining})
    remaining = line_chart({s: [d.remaining.get(s, 0) for d in days] for s in sites}, x_labels=labels,
                           title=_("People remaining per site, end of each day"), rtl=rtl)
    exposure = line_chart({_("plan"): [d.exposure for d in days], _("greedy"): [d.greedy_exposure for d in days]},
                          x_labels=labels, title=_("Exposure per day (weight x danger x people left)"), rtl=rtl)
    s = run.summary
    compare = bar_chart([
        (_("lower bound"), s.get("lower_bound", 0)), (_("plan"), s.get("cost", 0)), (_("greedy"), s.get("greedy_cost", 0)),
    ], rtl=rtl, title=_("Plan vs greedy vs bound (total exposure)"), value_format="{:,.1f}")
    return {"remaining_chart": remaining, "exposure_chart": exposure, "compare_chart": compare}


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    audit.record(request, "planning_run_view", obj=run)
    # Shown, never saved: the stored run keeps everyone the solver moved or left.
    run.unmoved = services.visible_unmoved(request.user, run)
    run.violations = services.visible_violations(request.user, run)
    days = list(run.plan_days.all())
    for d in days:
        d.binding_text = labels.binding(d.binding)
    ctx = _ctx(run=run, days=days, scenario=run.scenario)
    if run.status == RunStatus.DONE:
        ctx.update(_charts(run, days))
        reasons: dict[str, int] = {}
        for u in run.unmoved:
            text = labels.reason(u["reason"])
            reasons[text] = reasons.get(text, 0) + 1
        ctx["unmoved_reasons"] = sorted(reasons.items(), key=lambda kv: -kv[1])
        ctx["next_day"] = _tomorrow(run, days)
        if run.parent_id:
            ctx["changes"] = _changes(run.parent, run)
    return render(request, "planning/run_detail.html", ctx)


def _tomorrow(run: PlanRun, days: list[PlanDay]) -> int:
    """Tomorrow's day of the plan when the scenario has a start date and tomorrow falls inside the
    horizon; otherwise the first day anything leaves."""
    import datetime

    from django.utils import timezone

    start = run.scenario.data.get("start_date")
    if start:
        k = (timezone.localdate() + datetime.timedelta(days=1) - datetime.date.fromisoformat(start)).days
        if 0 <= k < run.scenario.days:
            return k
    return next((d.day for d in days if d.departures), 0)


def _changes(old: PlanRun, new: PlanRun) -> list[dict[str, Any]]:
    """What changed since the last plan: vehicles and people per day, from the re-plan's first day."""
    out = []
    for d in range(new.first_day, new.scenario.days):
        a = PlannedVehicle.objects.filter(run=old, day=d)
        b = PlannedVehicle.objects.filter(run=new, day=d)
        pa, pb = sum(v.people for v in a), sum(v.people for v in b)
        if a.count() != b.count() or pa != pb:
            out.append({"day": d + 1, "vehicles_before": a.count(), "vehicles_after": b.count(), "people_before": pa, "people_after": pb})
    return out


def _manifests(request: HttpRequest, run: PlanRun, day: int) -> list[dict[str, Any]]:
    from custody.registry.models import Person

    vehicles = list(restrict(PlannedVehicle.objects.filter(run=run, day=day), request.user))
    hidden = services.hidden_people(request.user, (p for v in vehicles for p in v.manifest))
    for v in vehicles:
        v.manifest = services.visible_refs(v.manifest, hidden)
    refs = {p for v in vehicles for p in v.manifest}
    people = {p.ref: p for p in restrict(Person.objects.filter(ref__in=refs), request.user)}
    scenario_people = {p["id"]: p for p in run.scenario.data["people"] if p["id"] in refs}
    out = []
    for v in vehicles:
        rows = []
        for ref in v.manifest:
            info = scenario_people.get(ref, {})
            person = people.get(ref)
            rows.append({"ref": ref, "name": person.display_name if person else "", "name_ar": person.display_name_ar if person else "",
                         "tier": info.get("tier"), "faction": info.get("faction", ""), "minor": info.get("minor", False),
                         "family": info.get("family") or ""})
        out.append({"vehicle": v, "rows": rows, "seats": sum(2 if r["tier"] == 1 else 1 for r in rows)})
    return out


def run_day(request: HttpRequest, pk: int, day: int) -> HttpResponse:
    run = _run(request, pk)
    if not 1 <= day <= run.scenario.days:
        raise Http404("no such day")
    manifests = _manifests(request, run, day - 1)
    audit.record(request, "planning_manifest_view", obj=run, day=day, vehicles=len(manifests))
    return render(request, "planning/run_day.html", _ctx(run=run, day=day, manifests=manifests,
                                                         plan_day=run.plan_days.filter(day=day - 1).first()))


def run_day_pdf(request: HttpRequest, pk: int, day: int) -> HttpResponse:
    from weasyprint import HTML

    run = _run(request, pk, "export")
    if not 1 <= day <= run.scenario.days:
        raise Http404("no such day")
    manifests = _manifests(request, run, day - 1)
    html = render_to_string("planning/manifest_pdf.html", {"run": run, "day": day, "manifests": manifests,
                                                           "page_classification": CLASSIFICATION}, request=request)
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    audit.record(request, "planning_manifest_export", obj=run, day=day, vehicles=len(manifests))
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="manifests-run{run.pk}-day{day}.pdf"'
    return resp


def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "replan":
                new = services.do_replan(request.user, run.pk, _int(request.POST, "from_day", 1) - 1,
                                         time_limit=_int(request.POST, "time_limit", 60))
                return redirect("planning:run_detail", pk=new.pk)
            vehicle = get_restricted(PlannedVehicle.objects.filter(run=run), request.user, "change", request=request,
                                     pk=_int(request.POST, "vehicle", 0))
            moved = [r.strip() for r in request.POST.get("moved", "").replace("\n", ",").split(",") if r.strip()]
            services.do_record_outcome(request.user, vehicle.pk, request.POST.get("status", ""), moved=moved,
                                       note=request.POST.get("note", ""))
            return redirect(reverse("planning:run_progress", args=[run.pk]) + f"?day={vehicle.day + 1}")
        except Refusal as e:
            messages.error(request, e.message)
    audit.record(request, "planning_progress_view", obj=run)
    rows = []
    all_vehicles = list(PlannedVehicle.objects.filter(run=run).select_related("outcome"))
    # Departures the custody ledger records on a manifest count where nothing was entered by hand.
    ledger = services.ledger_departures([v.vehicle_id for v in all_vehicles if not hasattr(v, "outcome")])
    for d in run.plan_days.all():
        vs = [v for v in all_vehicles if v.day == d.day]
        recorded = [v for v in vs if hasattr(v, "outcome")]
        actual = sum(len(v.outcome.moved) for v in recorded) + sum(
            len(ledger[v.vehicle_id]) if v.vehicle_id in ledger else v.people for v in vs if not hasattr(v, "outcome"))
        rows.append({"day": d.day + 1, "planned": d.departures, "vehicles": len(vs), "recorded": len(recorded),
                     "actual": actual, "cancelled": sum(1 for v in recorded if v.outcome.status == OutcomeStatus.CANCELLED)})
    try:
        show = int(request.GET.get("day") or 1)
    except ValueError:
        show = 1
    vehicles = PlannedVehicle.objects.filter(run=run, day=show - 1).select_related("outcome")
    return render(request, "planning/run_progress.html", _ctx(
        run=run, rows=rows, show=show, vehicles=vehicles, statuses=OutcomeStatus.choices,
        can_change=can(request.user, "change")))

