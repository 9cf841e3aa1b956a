"""The daily situation report: every figure computed from the records, as one audience may see them.

`build(day, audience, requester)` returns plain data (JSON-ready) so that a report can be stored as sent
and rendered later in either language; `render_html` and `render_pdf` turn it into a page or a PDF.
A section whose source app does not exist yet says so (available: False) instead of showing a number.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custody.accounts.models import Agency, Classification
from custody.camps import services as camps
from custody.camps.models import ControlChange, DepartureReason
from custody.coordination import sources
from custody.coordination.models import OPEN_STATUSES, Action, Incident, IncidentKind
from custody.core.charts import bar_chart, line_chart
from custody.core.errors import BadInput
from custody.registry.countries import country_name
from custody.registry.models import Facility, FacilityKind

TREND_DAYS = 14


def check_date(day: date) -> None:
    if day > timezone.localdate():
        raise BadInput(_("The report date %(day)s is in the future: a situation report covers a day that has begun.") % {"day": day.isoformat()},
                        rule="future_report", field="date")


def _facility(f: Facility) -> dict[str, Any]:
    return {"code": f.code, "name": f.name, "name_ar": f.name_ar, "kind": f.kind, "lat": f.latitude, "lon": f.longitude,
            "custodian": f.custodian.code if f.custodian_id else ""}


def build(day: date, audience: Agency, requester: Any = None, *, replay: bool = True) -> dict[str, Any]:
    """The report's figures for `day` as `audience` (and `requester`) may see them. `replay=False` (the
    dashboard, today only) reads today's custody figures from the ledger's projection instead of
    replaying the whole log, and replays only the trend window: a page view, not a report."""
    check_date(day)
    viewer = sources.viewer_for(audience, requester)
    facilities = {f.pk: f for f in viewer.restrict(Facility.objects.select_related("custodian"))}
    agencies = dict(Agency.objects.values_list("pk", "code"))
    report: dict[str, Any] = {
        "date": day.isoformat(), "audience": audience.code, "audience_name": audience.name, "audience_name_ar": audience.name_ar,
        "clearance": viewer.clearance, "generated_at": timezone.now().isoformat(timespec="seconds"),
        "requested_by": requester.username if requester is not None else "",
        "facilities": {f.code: _facility(f) for f in facilities.values()},
    }
    levels: list[int] = []
    report["custody"] = _custody(viewer, day, facilities, agencies, levels,
                                 replay=replay or day != timezone.localdate())
    report["movement"] = _movement(viewer, day, levels)
    report["biometrics"] = _biometrics(viewer, day, levels)
    report["discrepancies"] = _discrepancies(viewer, day, levels)
    report["repatriations"] = _repatriations(viewer, day, levels)
    report["camps"] = _camps(viewer, day, facilities, levels)
    report["incidents"] = _incidents(viewer, day, facilities, levels)
    report["actions"] = _actions(viewer, day)
    report["classification"] = min(max(levels, default=int(Classification.UNCLASSIFIED)), viewer.clearance)
    return report


def _custody(viewer: sources.Viewer, day: date, facilities: dict[int, Facility], agencies: dict[int, str], levels: list[int],
             *, replay: bool = True) -> dict[str, Any]:
    today = day == timezone.localdate()
    series: list[tuple[date, int]] = []
    start = day - timedelta(days=TREND_DAYS - 1)
    if sources.ledger_ready() and not replay:
        held = sources.held_now(viewer)
        series = sources.recent_series(viewer, start, day)
        by_site = held.by_site
        in_transit = held.in_transit
        source = "projection"
        levels.append(int(held.classification or 0))
    elif sources.ledger_ready():
        held, series = sources.replay(viewer, start, day)
        by_site = held.by_site
        in_transit = held.in_transit
        source = "ledger"
        levels.append(sources.max_classification(list(held.person_ids)) if held.person_ids else 0)
    elif today:
        # Without the ledger's tables, today's figure can still come from the registry's custody fields.
        by_site = sources.registry_by_site(viewer)
        in_transit = viewer.people().filter(custody_status="in_transit").count()
        source = "registry"
        levels.append(sources.max_classification(viewer.people().filter(current_facility__isnull=False).values("pk")))
    else:
        return {"available": False, "reason": "ledger"}
    rows = []
    for (fid, cid), n in sorted(by_site.items(), key=lambda kv: -kv[1]):
        f = facilities.get(fid)
        rows.append({"site": f.code if f else "?", "custodian": agencies.get(cid, "—"), "n": n})
    by_custodian = Counter()
    for r in rows:
        by_custodian[r["custodian"]] += r["n"]
    out: dict[str, Any] = {"available": True, "source": source, "total": sum(by_site.values()), "in_transit": in_transit,
                           "by_site": rows, "by_custodian": dict(by_custodian.most_common())}
    if today:
        # The figures must agree with the registry's custody fields and the ledger's stored projection.
        registry = sources.registry_by_site(viewer)
        out["reconciliation"] = {"registry_total": sum(registry.values()), "registry_agrees": registry == by_site}
        if source == "ledger" and sources.model_ready("ledger", "CustodyState"):  # a replay, checked against the projection
            projection = sources.projection_by_site(viewer)
            out["reconciliation"].update({"projection_total": sum(projection.values()), "projection_agrees": projection == by_site})
    if series:
        out["trend"] = [[d.isoformat(), n] for d, n in series]
    return out


def _plan_figures(viewer: sources.Viewer, day: date) -> dict[str, Any] | None:
    """Planned arrivals from the transfer planner, when its records exist (issue 6)."""
    from custody.coordination import planlink

    return planlink.planned_arrivals(viewer, day)


def _movement(viewer: sources.Viewer, day: date, levels: list[int]) -> dict[str, Any]:
    if not sources.ledger_ready():
        return {"available": False, "reason": "ledger"}
    arr = sources.arrivals(viewer, day)
    levels.append(arr.pop("classification"))
    dep = sources.departures_from_sites(viewer, day)
    plan = _plan_figures(viewer, day)
    return {"available": True, "arrived_today": arr["today"], "arrived_to_date": arr["to_date"], "departed_today": dep["today"],
            "departed_to_date": dep["to_date"], "plan": plan}


def _biometrics(viewer: sources.Viewer, day: date, levels: list[int]) -> dict[str, Any]:
    from custody.coordination import planlink

    figures = planlink.biometric_figures(viewer, day)
    if figures is None:
        return {"available": False, "reason": "biometrics"}
    levels.append(figures.pop("classification"))
    return figures


def _discrepancies(viewer: sources.Viewer, day: date, levels: list[int]) -> dict[str, Any]:
    d = sources.discrepancies(viewer, day)
    if d is None:
        return {"available": False, "reason": "ledger"}
    levels.append(d.pop("classification"))
    return {"available": True, **d}


def _repatriations(viewer: sources.Viewer, day: date, levels: list[int]) -> dict[str, Any]:
    if not sources.ledger_ready():
        return {"available": False, "reason": "ledger"}
    r = sources.repatriations(viewer, day)
    levels.append(r.pop("classification"))
    return {"available": True, **r}


def _camps(viewer: sources.Viewer, day: date, facilities: dict[int, Facility], levels: list[int]) -> dict[str, Any]:
    people = viewer.people()
    rows = []
    trend: dict[str, list[list[Any]]] = {}
    if day > timezone.localdate():
        return {"available": False}
    for camp in sorted((f for f in facilities.values() if f.kind == FacilityKind.CAMP), key=lambda f: f.code):
        series = camps.population_series(people, camp, day - timedelta(days=TREND_DAYS), day)
        change = camps.change_between(people, camp, day, day)
        census, missing = camps.unaccounted(people, camp)
        rows.append({"camp": camp.code, "population": series[-1][1], "previous": series[-2][1], "change": series[-1][1] - series[-2][1],
                     "arrivals": change["arrivals"], "departures": change["departures"], "by_reason": change["by_reason"],
                     "controlled_by": camp.custodian.code,
                     "control_changes": [f"{c.from_custodian.code}→{c.to_custodian.code}" for c in
                                         ControlChange.objects.filter(camp=camp, occurred_on=day).select_related("from_custodian", "to_custodian")],
                     "census": census.taken_on.isoformat() if census else None, "unaccounted": missing.count() if census else None})
        trend[camp.code] = [[d.isoformat(), n] for d, n in series[1:]]
    levels.append(sources.max_classification(camps.residents(people).values("pk")))
    return {"available": True, "rows": rows, "trend": trend, "total": sum(r["population"] for r in rows),
            "change": sum(r["change"] for r in rows)}


def _incidents(viewer: sources.Viewer, day: date, facilities: dict[int, Facility], levels: list[int]) -> dict[str, Any]:
    qs = viewer.restrict(Incident.objects.filter(occurred_on__lte=day, occurred_on__gt=day - timedelta(days=7))).select_related("site")
    today = [{"site": i.site.code, "kind": i.kind, "severity": i.severity, "source": i.source, "description": i.description,
              "classification": i.classification} for i in qs.filter(occurred_on=day)]
    week = list(qs.values("site__code").annotate(n=Count("id")).order_by("-n", "site__code"))
    levels.append(sources.max_classification(None, qs))
    return {"available": True, "today": today, "week_by_site": [{"site": r["site__code"], "n": r["n"]} for r in week]}


def _actions(viewer: sources.Viewer, day: date) -> dict[str, Any]:
    qs = viewer.restrict(Action.objects.filter(status__in=OPEN_STATUSES)).select_related("owner")
    overdue = [{"text": a.text, "owner": a.owner.code, "due": a.due_on.isoformat()} for a in qs.filter(due_on__lt=day).order_by("due_on")]
    return {"available": True, "open": qs.count(), "overdue": overdue}


# --- rendering ---------------------------------------------------------------------------------------

def charts(report: dict[str, Any], rtl: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    c = report.get("custody", {})
    if c.get("available"):
        out["by_site"] = bar_chart([(r["site"] + " · " + r["custodian"], r["n"]) for r in c["by_site"]], rtl=rtl,
                                   title=_("In custody by site and custodian"))
        if c.get("trend"):
            out["custody_trend"] = line_chart({_("Held"): [n for _d, n in c["trend"]]}, x_labels=[d for d, _n in c["trend"]], rtl=rtl,
                                              title=_("People held, last %(n)d days") % {"n": len(c["trend"])})
    cp = report.get("camps", {})
    if cp.get("available") and cp.get("trend"):
        first = next(iter(cp["trend"].values()), [])
        out["camp_trend"] = line_chart({code: [n for _d, n in s] for code, s in cp["trend"].items()}, x_labels=[d for d, _n in first],
                                       rtl=rtl, title=_("Camp population"))
    rp = report.get("repatriations", {})
    if rp.get("available") and rp.get("by_country"):
        out["repatriations"] = bar_chart([(country_name(k) if k != "?" else "?", v) for k, v in sorted(rp["by_country"].items(), key=lambda kv: -kv[1])],
                                         rtl=rtl, title=_("Repatriated to date by country"))
    inc = report.get("incidents", {})
    if inc.get("week_by_site"):
        out["incidents"] = bar_chart([(r["site"], r["n"]) for r in inc["week_by_site"]], rtl=rtl, title=_("Incidents in the last 7 days by site"))
    return out


def context(report: dict[str, Any], language: str) -> dict[str, Any]:
    rtl = language == "ar"
    return {"r": report, "charts": charts(report, rtl), "lang": language, "rtl": rtl, "page_classification": report["classification"],
            "reasons": dict(DepartureReason.choices), "incident_kinds": dict(IncidentKind.choices), "discrepancy_kinds": _discrepancy_kinds(),
            "audience_name": report["audience_name_ar"] if rtl and report.get("audience_name_ar") else report["audience_name"]}


def _discrepancy_kinds() -> dict[str, str]:
    try:
        from custody.ledger.models import DiscrepancyKind
    except ImportError:
        return {}
    return {k: str(label) for k, label in DiscrepancyKind.choices}


def render_html(report: dict[str, Any], language: str) -> str:
    """The standalone printable document (what the PDF is made from)."""
    with translation.override(language):
        return render_to_string("coordination/sitrep_print.html", context(report, language))


def render_pdf(report: dict[str, Any], language: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=render_html(report, language)).write_pdf()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
