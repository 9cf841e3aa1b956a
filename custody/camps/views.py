"""Camp pages: camps, a camp (sectors, households, movements, population), a household, children
reaching 15 and 18 (protection only) and family tracing. Every page audited; every query restricted."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from custody.accounts.models import Agency
from custody.camps import services, tracing
from custody.camps.models import ControlChange, DepartureReason, FlagKind, Movement, ProtectionFlag
from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.charts import bar_chart, line_chart
from custody.core.errors import BadInput, RuleError
from custody.core.exports import csv_writer
from custody.registry.countries import country_name
from custody.registry.models import Facility, FacilityKind, Household, Person, PopulationGroup


def _people(request: HttpRequest) -> Any:
    return restrict(Person.objects.all(), request.user)


def _camps(request: HttpRequest) -> Any:
    return restrict(Facility.objects.filter(kind=FacilityKind.CAMP).select_related("custodian"), request.user)


def _date_param(request: HttpRequest, name: str, default: date) -> date:
    raw = (request.GET.get(name) or "").strip()
    if not raw:
        return default
    parsed = parse_date(raw)
    if parsed is None:
        raise BadInput(_("“%(value)s” is not a date (use YYYY-MM-DD).") % {"value": raw}, field=name)
    return parsed


def camp_list(request: HttpRequest) -> HttpResponse:
    people = _people(request)
    rows = []
    for camp in _camps(request):
        census, missing = services.unaccounted(people, camp)
        rows.append({
            "camp": camp, "present": services.present(people, camp).count(),
            "households": Household.objects.filter(camp=camp).count(),
            "headless": Household.objects.filter(camp=camp, head__isnull=True).count(),
            "census": census, "unaccounted": missing.count() if census else None,
        })
    audit.record(request, "camp_list", object_type="registry.facility", object_id=f"{len(rows)} camps")
    return render(request, "camps/camp_list.html", {"rows": rows, "page_classification": 1})


def camp_detail(request: HttpRequest, code: str) -> HttpResponse:
    camp = get_restricted(_camps(request), request.user, request=request, code=code)
    people = _people(request)
    today = timezone.localdate()
    rtl = get_language() == "ar"
    try:
        start = _date_param(request, "from", today - timedelta(days=60))
    except BadInput as exc:
        messages.error(request, exc.message)
        start = today - timedelta(days=60)
    series = services.population_series(people, camp, start, today)
    sectors = list(Household.objects.filter(camp=camp).values("sector").annotate(n=Count("id"), people=Count("members")).order_by("sector"))
    households = Household.objects.filter(camp=camp).select_related("head").annotate(n=Count("members")).order_by("sector", "tent", "ref")
    sector = request.GET.get("sector", "")
    if sector:
        households = households.filter(sector=sector)
    page = Paginator(households, 100).get_page(request.GET.get("page"))
    movements = restrict(Movement.objects.filter(camp=camp), request.user).select_related("person")[:50]
    census, missing = services.unaccounted(people, camp)
    change = services.change_between(people, camp, start, today)
    audit.record(request, "camp_read", obj=camp, sector=sector)
    return render(request, "camps/camp_detail.html", {
        "camp": camp, "present": series[-1][1] if series else 0, "start": start, "today": today,
        "population_chart": line_chart({_("Residents"): [n for _d, n in series]}, x_labels=[d.isoformat() for d, _n in series],
                                       title=_("Population over time"), rtl=rtl),
        "reason_chart": bar_chart([(str(DepartureReason(r).label), n) for r, n in change["by_reason"].items()], rtl=rtl, title=_("Departures by reason")),
        "change": change, "sectors": sectors, "sector": sector, "page": page, "movements": movements,
        "controls": ControlChange.objects.filter(camp=camp).select_related("from_custodian", "to_custodian"),
        "census": census, "unaccounted": missing[:200] if census else [], "unaccounted_count": missing.count() if census else None,
        "reasons": DepartureReason.choices, "agencies": Agency.objects.filter(is_custodian=True),
        "headless": Household.objects.filter(camp=camp, head__isnull=True).count(),
        "page_classification": 1,
    })


def _post_date(request: HttpRequest, name: str = "occurred_on") -> date:
    raw = request.POST.get(name, "").strip()
    parsed = parse_date(raw) if raw else None
    if parsed is None:
        raise BadInput(_("“%(value)s” is not a date (use YYYY-MM-DD).") % {"value": raw}, field=name)
    return parsed


def camp_record(request: HttpRequest, code: str) -> HttpResponse:
    """The camp page's forms: departure, control change, census. The actions restrict the camp and the
    people, enforce every rule and audit; not allowed or not visible is a 403/404 (RefusalMiddleware),
    bad input or a broken rule is shown on the camp's page."""
    if request.method != "POST":
        return redirect("camps:camp_detail", code=code)
    what = request.POST.get("what", "")
    try:
        if what == "departure":
            m = services.do_record_departure(request.user, request.POST.get("person", "").strip(), code, _post_date(request),
                                             request.POST.get("reason", ""), destination=request.POST.get("destination", ""),
                                             note=request.POST.get("note", ""))
            messages.success(request, _("Departure of %(ref)s recorded.") % {"ref": m.person.ref})
        elif what == "control":
            c = services.do_record_control_change(request.user, code, request.POST.get("to_custodian", ""), _post_date(request),
                                                  note=request.POST.get("note", ""))
            messages.success(request, _("Control of %(camp)s passed to %(to)s.") % {"camp": code, "to": c.to_custodian.code})
        elif what == "census":
            refs = request.POST.get("counted", "").replace(",", " ").split()
            services.do_record_census(request.user, code, _post_date(request), refs, note=request.POST.get("note", ""))
            messages.success(request, _("Census of %(camp)s recorded: %(n)d counted.") % {"camp": code, "n": len(refs)})
        else:
            raise BadInput(_("Unknown form."), field="what")
    except (BadInput, RuleError) as exc:
        messages.error(request, exc.message)
    return redirect("camps:camp_detail", code=code)


def _member_rows(request: HttpRequest, members: list[Person]) -> list[dict[str, Any]]:
    show_flags = can(request.user, "protection")
    flags: dict[int, list[ProtectionFlag]] = {}
    if show_flags:
        for f in restrict(ProtectionFlag.objects.filter(person__in=members, closed_on__isnull=True), request.user):
            flags.setdefault(f.person_id, []).append(f)
    today = timezone.localdate()
    rows = []
    for p in members:
        rows.append({
            "p": p, "names": list(p.names.all()), "age": services.age_range_on(p, today),
            "nationalities": [country_name(n.country) for n in p.nationalities.all()],
            "identifiers": list(p.identifiers.all()), "family": services.family_of(request.user, p),
            "flags": flags.get(p.pk, []) if show_flags else None, "present": services.is_present(p),
        })
    return rows


def household_detail(request: HttpRequest, code: str, ref: str) -> HttpResponse:
    camp = get_restricted(_camps(request), request.user, request=request, code=code)
    household = get_restricted(Household.objects.filter(camp=camp).select_related("head"), request.user, request=request, ref=ref)
    members = list(_people(request).filter(household=household).prefetch_related("names", "nationalities", "identifiers").order_by("ref"))
    audit.record(request, "household_read", obj=household)
    audit.record_many(request, "household_members", members, household=str(household))
    return render(request, "camps/household_detail.html", {
        "camp": camp, "household": household, "rows": _member_rows(request, members),
        "show_flags": can(request.user, "protection"), "page_classification": max([1, *[p.classification for p in members]]),
    })


def _children_query(request: HttpRequest) -> tuple[date, date, Facility | None, list[services.Milestone], int]:
    today = timezone.localdate()
    start = _date_param(request, "from", today)
    end = _date_param(request, "to", today + timedelta(days=365))
    camp = None
    if request.GET.get("camp"):
        camp = get_restricted(_camps(request), request.user, request=request, code=request.GET["camp"])
    rows, unknown = services.children_reaching(_people(request), start, end, camp=camp, with_flags=True)
    return start, end, camp, rows, unknown


def _require_protection(request: HttpRequest, what: str) -> None:
    if not can(request.user, "protection"):
        audit.record(request, what, object_type="camps.children", outcome="denied")
        raise PermissionDenied(_("Children's records are visible only to users with a protection purpose."))


def children(request: HttpRequest) -> HttpResponse:
    _require_protection(request, "children_read")
    try:
        start, end, camp, rows, unknown = _children_query(request)
    except BadInput as exc:
        messages.error(request, exc.message)
        today = timezone.localdate()
        start, end, camp, rows, unknown = today, today, None, [], 0
    audit.record_many(request, "children_read", [m.person for m in rows], start=start.isoformat(), end=end.isoformat())
    if not rows:
        audit.record(request, "children_read", object_type="camps.children", object_id="0 rows", start=start.isoformat(), end=end.isoformat())
    rtl = get_language() == "ar"
    counts = [(_("Reach 15 (certain)"), sum(1 for m in rows if m.age == 15 and m.certain)),
              (_("Reach 15 (possible)"), sum(1 for m in rows if m.age == 15 and not m.certain)),
              (_("Reach 18 (certain)"), sum(1 for m in rows if m.age == 18 and m.certain)),
              (_("Reach 18 (possible)"), sum(1 for m in rows if m.age == 18 and not m.certain))]
    return render(request, "camps/children.html", {
        "rows": rows, "start": start, "end": end, "camp": camp, "unknown": unknown, "camps": _camps(request),
        "chart": bar_chart(counts, rtl=rtl, title=_("Children reaching 15 and 18 in the period")),
        "can_export": can(request.user, "export"), "flag_labels": dict(FlagKind.choices), "page_classification": 1,
    })


def children_csv(request: HttpRequest) -> HttpResponse:
    _require_protection(request, "children_export")
    if not can(request.user, "export"):
        audit.record(request, "children_export", object_type="camps.children", outcome="denied")
        raise PermissionDenied(_("Exports need the analyst role or above."))
    try:
        start, end, camp, rows, unknown = _children_query(request)
    except BadInput as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    audit.record_many(request, "children_export", [m.person for m in rows], start=start.isoformat(), end=end.isoformat(), format="csv")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="children-{start}-{end}.csv"'
    write_children_csv(response, rows)
    return response


CSV_HEADER = ["ref", "name", "name_ar", "sex", "camp", "household", "sector", "tent", "birth", "birth_precision", "age",
              "reaches_from", "reaches_to", "uncertainty_days", "certain", "flags"]


def write_children_csv(out: Any, rows: list[services.Milestone]) -> None:
    w = csv_writer(out)
    w.writerow(CSV_HEADER)
    for m in rows:
        p = m.person
        hh = p.household
        w.writerow([p.ref, p.display_name, p.display_name_ar, p.sex, hh.camp.code if hh else "", hh.ref if hh else "",
                    hh.sector if hh else "", hh.tent if hh else "", p.birth_display(), p.birth_precision, m.age,
                    m.earliest.isoformat(), m.latest.isoformat(), m.uncertainty_days, "yes" if m.certain else "no", " ".join(m.flags)])


def trace(request: HttpRequest, ref: str) -> HttpResponse:
    person = get_restricted(Person.objects.select_related("household__camp", "current_facility"), request.user, request=request, ref=ref)
    if person.group == PopulationGroup.DETAINEE:
        leads = tracing.trace_family_in_camps(request.user, person)
        direction = "family"
    else:
        leads = tracing.trace_parents_in_custody(request.user, person)
        direction = "parents"
    audit.record(request, "family_trace", obj=person, direction=direction, found=[lead.person.pk for lead in leads])
    return render(request, "camps/trace.html", {
        "person": person, "leads": leads, "direction": direction, "page_classification": max([person.classification, *[lead.person.classification for lead in leads]]),
    })
