"""Coordination pages: the common picture, the daily situation report (page and PDF), the reports
produced, the working group's meetings and actions, and site warnings. Every page audited."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from custody.accounts.models import Agency
from custody.coordination import services, sitrep
from custody.coordination.mapdiagram import site_map
from custody.coordination.models import (
    OPEN_STATUSES,
    Action,
    ActionStatus,
    DangerEstimate,
    Decision,
    Incident,
    IncidentKind,
    Meeting,
    SitRep,
)
from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.charts import line_chart
from custody.core.errors import BadInput, RuleError
from custody.registry.models import Facility, FacilityKind, Person


def _day(raw: str | None, default: date, name: str = "date") -> date:
    raw = (raw or "").strip()
    if not raw:
        return default
    parsed = parse_date(raw)
    if parsed is None:
        raise BadInput(_("“%(value)s” is not a date (use YYYY-MM-DD).") % {"value": raw}, field=name)
    return parsed


def _audience(request: HttpRequest) -> Agency:
    code = request.GET.get("audience") or (request.user.agency.code if request.user.agency_id else "")
    agency = Agency.objects.filter(code=code).first()
    if agency is None:
        raise RuleError(_("There is no agency with code %(code)s.") % {"code": code}, field="audience")
    return agency


def _audiences(user: Any) -> Any:
    if user.agency is not None and user.agency.code == "CIO" and can(user, "adjudicate"):
        return Agency.objects.order_by("code")
    return Agency.objects.filter(pk=user.agency_id)


def _need_agency(request: HttpRequest) -> None:
    # Figures are computed for an audience (an agency); an account outside every agency has none.
    if not request.user.agency_id:
        raise PermissionDenied(_("Your account belongs to no agency: the common picture and the reports are produced per agency."))


def dashboard(request: HttpRequest) -> HttpResponse:
    """The common picture: today's figures as the user's agency sees them, the map, and the trends."""
    _need_agency(request)
    user = request.user
    today = timezone.localdate()
    rtl = get_language() == "ar"
    report = sitrep.build(today, user.agency, user, replay=False)
    held: Counter = Counter()
    for row in report["custody"].get("by_site", []):
        held[row["site"]] += row["n"]
    for row in report["camps"].get("rows", []):
        held[row["camp"]] += row["population"]
    danger = {}
    if can(user, "intelligence"):
        codes = list(report["facilities"])
        for code, series in services.danger_estimates(codes, today, 1).items():
            danger[code] = series[0]
    sites = [{**f, "n": held.get(code, 0), "danger": danger.get(code)} for code, f in report["facilities"].items()
             if f["kind"] in ("prison", "camp", "receiving", "transit")]
    legend = {"prison": _("Prison"), "camp": _("Camp"), "receiving": _("Receiving facility")}
    audit.record(request, "dashboard_read", object_type="coordination.dashboard", object_id=today.isoformat())
    ctx = sitrep.context(report, "ar" if rtl else "en")
    ctx.update({
        "map": site_map(sites, title=_("Sites and the receiving facility"), legend=legend),
        "today": today, "danger_chart": _danger_chart(user, today - timedelta(days=29), 30, rtl) if can(user, "intelligence") else "",
        "overdue": [a for a in restrict(Action.objects.filter(status__in=OPEN_STATUSES, due_on__lt=today), user).select_related("owner")[:20]],
    })
    return render(request, "coordination/dashboard.html", ctx)


def _danger_chart(user: Any, start: date, days: int, rtl: bool) -> str:
    codes = list(restrict(DangerEstimate.objects.all(), user).values_list("site__code", flat=True).distinct())
    series = services.danger_estimates(sorted(codes), start, days)
    if not series:
        return ""
    return line_chart({code: [v * 100 for v in vals] for code, vals in series.items()},
                      x_labels=[(start + timedelta(days=i)).isoformat() for i in range(days)], rtl=rtl,
                      title=_("Danger estimate per site (chance of falling per day, in per cent)"))


def sitrep_page(request: HttpRequest) -> HttpResponse:
    _need_agency(request)
    today = timezone.localdate()
    try:
        day = _day(request.GET.get("date"), today)
        audience = _audience(request)
        if audience not in _audiences(request.user):
            raise RuleError(_("You may produce the report for your own agency only (the coordinating office's analysts produce it for every audience)."))
        report = sitrep.build(day, audience, request.user)
    except (BadInput, RuleError) as exc:
        audit.record(request, "sitrep_read", object_type="coordination.sitrep", outcome="failed", reason=exc.message)
        messages.error(request, exc.message)
        day = today
        report = sitrep.build(today, request.user.agency, request.user)
    audit.record(request, "sitrep_read", object_type="coordination.sitrep", object_id=f"{report['date']} {report['audience']}",
                 classification=report["classification"])
    ctx = sitrep.context(report, "ar" if get_language() == "ar" else "en")
    ctx.update({"day": day, "audiences": _audiences(request.user)})
    return render(request, "coordination/sitrep.html", ctx)


def sitrep_pdf(request: HttpRequest) -> HttpResponse:
    """Generate on demand: computed now, stored as produced, returned as a PDF. The action checks the
    audience and audits; another agency's report is a 403 (RefusalMiddleware), a bad date a 400 here."""
    lang = request.GET.get("lang", "en")
    audience = request.GET.get("audience") or (request.user.agency.code if request.user.agency_id else "")
    try:
        day = _day(request.GET.get("date"), timezone.localdate())
        rec, pdf = services.do_produce_sitrep(request.user, day, audience, lang)
    except (BadInput, RuleError) as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    resp = HttpResponse(pdf, content_type="application/pdf")
    resp["Content-Disposition"] = f'inline; filename="sitrep-{rec.report_date}-{rec.audience.code}-{lang}.pdf"'
    resp["X-Classification"] = str(rec.classification)
    return resp


def sitrep_list(request: HttpRequest) -> HttpResponse:
    qs = restrict(SitRep.objects.select_related("audience", "generated_by"), request.user)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "sitrep_list", list(page.object_list))
    return render(request, "coordination/sitrep_list.html", {"page": page, "page_classification": max([1, *[s.classification for s in page]])})


def sitrep_file(request: HttpRequest, pk: int) -> HttpResponse:
    rec = get_restricted(SitRep.objects.all(), request.user, request=request, pk=pk)
    audit.record(request, "sitrep_read", obj=rec, classification=rec.classification)
    if not rec.pdf:
        return HttpResponse(_("This report was stored without a PDF."), status=404, content_type="text/plain; charset=utf-8")
    resp = FileResponse(rec.pdf.open("rb"), content_type="application/pdf")
    resp["X-Content-SHA256"] = rec.sha256
    return resp


# --- working group ---------------------------------------------------------------------------------

def meeting_list(request: HttpRequest) -> HttpResponse:
    meetings = restrict(Meeting.objects.prefetch_related("attendees"), request.user)
    if request.method == "POST":
        # The action checks, writes and audits; not allowed is a 403 (RefusalMiddleware), bad input is shown.
        try:
            m = services.do_create_meeting(request.user, _day(request.POST.get("held_on"), timezone.localdate(), "held_on"),
                                           request.POST.get("title", ""), request.POST.getlist("attendees"), notes=request.POST.get("notes", ""),
                                           classification=request.POST.get("classification", "1") or 1)
        except (BadInput, RuleError) as exc:
            messages.error(request, exc.message)
            return redirect("coordination:meeting_list")
        return redirect("coordination:meeting_detail", pk=m.pk)
    page = Paginator(meetings, 30).get_page(request.GET.get("page"))
    audit.record_many(request, "meeting_list", list(page.object_list))
    return render(request, "coordination/meeting_list.html", {
        "page": page, "agencies": Agency.objects.order_by("code"), "today": timezone.localdate(),
        "page_classification": max([1, *[m.classification for m in page]]),
    })


def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        # The actions restrict the meeting themselves (an invisible one is a 404) and audit.
        what = request.POST.get("what", "")
        try:
            if what == "decision":
                services.do_add_decision(request.user, pk, request.POST.get("text", ""),
                                         person_refs=request.POST.get("people", "").replace(",", " ").split(),
                                         facility_codes=request.POST.get("facilities", "").replace(",", " ").split())
            elif what == "action":
                services.do_add_action(request.user, pk, request.POST.get("text", ""), request.POST.get("owner", ""),
                                       _day(request.POST.get("due_on"), timezone.localdate(), "due_on"),
                                       decision=request.POST.get("decision") or None)
            else:
                raise BadInput(_("Unknown form."), field="what")
        except (BadInput, RuleError) as exc:
            messages.error(request, exc.message)
        return redirect("coordination:meeting_detail", pk=pk)
    meeting = get_restricted(Meeting.objects.prefetch_related("attendees"), request.user, request=request, pk=pk)
    audit.record(request, "meeting_read", obj=meeting)
    decisions = restrict(Decision.objects.filter(meeting=meeting), request.user).prefetch_related("facilities")
    visible_people = restrict(Person.objects.all(), request.user)
    rows = [{"d": d, "people": list(visible_people.filter(pk__in=d.people.values("pk")))} for d in decisions]
    return render(request, "coordination/meeting_detail.html", {
        "meeting": meeting, "decisions": rows, "today": timezone.localdate(),
        "actions": restrict(Action.objects.filter(meeting=meeting), request.user).select_related("owner", "decision"),
        "agencies": Agency.objects.order_by("code"), "statuses": ActionStatus.choices,
        "page_classification": meeting.classification, "page_releasability": meeting.releasability_label(),
    })


def action_list(request: HttpRequest) -> HttpResponse:
    qs = restrict(Action.objects.select_related("owner", "meeting", "decision"), request.user)
    owner = request.GET.get("owner", "")
    status = request.GET.get("status", "open")
    if owner:
        qs = qs.filter(owner__code=owner)
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    today = timezone.localdate()
    # Only the owner agency changes an action (services.do_set_action_status): the form is shown on its rows.
    rows = [{"a": a, "overdue": a.is_overdue(today), "mine": a.owner_id == request.user.agency_id} for a in qs.order_by("due_on", "id")[:500]]
    audit.record_many(request, "action_list", [r["a"] for r in rows], owner=owner, status=status)
    return render(request, "coordination/action_list.html", {
        "rows": rows, "owner": owner, "status": status, "agencies": Agency.objects.order_by("code"), "statuses": ActionStatus.choices,
        "overdue_count": sum(1 for r in rows if r["overdue"]), "page_classification": 1,
    })


def action_status(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        # Another agency's action is a 403, an invisible one a 404 (RefusalMiddleware); the action audits.
        try:
            services.do_set_action_status(request.user, pk, request.POST.get("status", ""))
        except (BadInput, RuleError) as exc:
            messages.error(request, exc.message)
    nxt = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = ""
    return redirect(nxt or "coordination:action_list")


# --- site warnings --------------------------------------------------------------------------------

def warnings(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    if request.method == "POST":
        what = request.POST.get("what", "")
        try:
            if what == "incident":
                services.do_record_incident(user, request.POST.get("site", ""), _day(request.POST.get("occurred_on"), today, "occurred_on"),
                                            request.POST.get("kind", ""), request.POST.get("severity", ""), request.POST.get("source", ""),
                                            description=request.POST.get("description", ""), classification=request.POST.get("classification", "1") or 1)
                messages.success(request, _("Incident recorded."))
            elif what == "danger":
                services.do_set_danger_estimate(user, request.POST.get("site", ""), _day(request.POST.get("as_of"), today, "as_of"),
                                                request.POST.get("probability", ""), rationale=request.POST.get("rationale", ""))
                messages.success(request, _("Danger estimate recorded."))
            else:
                raise BadInput(_("Unknown form."), field="what")
        except (BadInput, RuleError) as exc:
            messages.error(request, exc.message)
        return redirect("coordination:warnings")
    incidents = restrict(Incident.objects.select_related("site"), user)
    site = request.GET.get("site", "")
    if site:
        incidents = incidents.filter(site__code=site)
    page = Paginator(incidents, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "incident_list", list(page.object_list), site=site)
    rtl = get_language() == "ar"
    estimates = restrict(DangerEstimate.objects.select_related("site", "analyst"), user).order_by("-as_of", "site__code")[:60]
    return render(request, "coordination/warnings.html", {
        "page": page, "site": site, "today": today, "kinds": IncidentKind.choices, "estimates": estimates,
        "sites": restrict(Facility.objects.exclude(kind__in=[FacilityKind.HOSPITAL, FacilityKind.COURT]), user),
        "danger_chart": _danger_chart(user, today - timedelta(days=59), 60, rtl) if can(user, "intelligence") else "",
        "can_estimate": can(user, "adjudicate") and can(user, "intelligence"),
        "can_intelligence": can(user, "intelligence"),
        "page_classification": max([1, *[i.classification for i in page]]),
    })

