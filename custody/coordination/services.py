"""Every change to the working group's records, situation reports produced and stored, and the danger
estimates the transfer planner's scenario builder reads."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.accounts.models import Agency
from custody.coordination import sitrep
from custody.coordination.models import (
    Action,
    ActionStatus,
    DangerEstimate,
    Decision,
    Incident,
    IncidentKind,
    Meeting,
    SitRep,
    Trigger,
)
from custody.core.access import can, restrict
from custody.core.errors import RuleError
from custody.registry.models import Facility, Person

LANGUAGES = ("en", "ar")


def _require(user: Any, action: str, what: str) -> None:
    if not can(user, action):
        raise RuleError(_("Your role may not %(what)s.") % {"what": what}, rule="role")


def _agency(code: str, field: str) -> Agency:
    found = Agency.objects.filter(code=(code or "").upper()).first()
    if found is None:
        raise RuleError(_("There is no agency with code %(code)s.") % {"code": code}, field=field)
    return found


def _site(user: Any, code: str) -> Facility:
    found = restrict(Facility.objects.all(), user).filter(code=code).first()
    if found is None:
        raise RuleError(_("There is no site with code %(code)s.") % {"code": code}, field="site")
    return found


# --- working group -------------------------------------------------------------------------------------

def create_meeting(user: Any, held_on: date, title: str, attendees: list[str], *, notes: str = "", classification: int = 1,
                   releasable_to: list[str] | None = None) -> Meeting:
    _require(user, "add", _("record meetings"))
    if not title.strip():
        raise RuleError(_("A meeting needs a title."), field="title")
    if held_on > timezone.localdate() + timedelta(days=60):
        raise RuleError(_("The meeting date %(day)s is more than 60 days ahead.") % {"day": held_on.isoformat()}, field="held_on")
    if classification > user.clearance:
        raise RuleError(_("You may not classify a record above your own clearance."), field="classification")
    agencies = [_agency(c, "attendees") for c in attendees]
    if not agencies:
        raise RuleError(_("Name at least one attending agency."), field="attendees")
    with transaction.atomic():
        m = Meeting.objects.create(held_on=held_on, title=title, notes=notes, classification=classification, created_by=user,
                                   originating_agency=user.agency, release_all=not releasable_to)
        m.attendees.set(agencies)
        if releasable_to:
            m.releasable_to.set([_agency(c, "releasable_to") for c in releasable_to])
    return m


def add_decision(user: Any, meeting: Meeting, text: str, *, person_refs: list[str] = (), facility_codes: list[str] = (),
                 other_records: list[dict[str, str]] = ()) -> Decision:  # type: ignore[assignment]
    _require(user, "add", _("record decisions"))
    if not text.strip():
        raise RuleError(_("A decision needs its text."), field="text")
    refs = [r for r in dict.fromkeys(person_refs) if r]
    people = list(restrict(Person.objects.all(), user).filter(ref__in=refs))
    missing = sorted(set(refs) - {p.ref for p in people})
    if missing:
        raise RuleError(_("No person %(refs)s that you may see: a decision can only be linked to records you can see.") % {"refs": ", ".join(missing)},
                        field="people")
    sites = [_site(user, c) for c in dict.fromkeys(facility_codes) if c]
    with transaction.atomic():
        d = Decision.objects.create(meeting=meeting, text=text, other_records=list(other_records))
        d.people.set(people)
        d.facilities.set(sites)
    return d


def add_action(user: Any, meeting: Meeting, text: str, owner: str, due_on: date, *, decision: Decision | None = None) -> Action:
    _require(user, "add", _("record actions"))
    if not text.strip():
        raise RuleError(_("An action needs its text."), field="text")
    if due_on < meeting.held_on:
        raise RuleError(_("The action is due (%(due)s) before the meeting that set it (%(held)s).") % {
            "due": due_on.isoformat(), "held": meeting.held_on.isoformat()}, field="due_on")
    if decision is not None and decision.meeting_id != meeting.pk:
        raise RuleError(_("That decision belongs to another meeting."), field="decision")
    return Action.objects.create(meeting=meeting, decision=decision, text=text, owner=_agency(owner, "owner"), due_on=due_on)


def set_action_status(user: Any, action: Action, status: str) -> Action:
    _require(user, "change", _("change actions"))
    if status not in ActionStatus.values:
        raise RuleError(_("“%(status)s” is not an action status; use one of: %(choices)s.") % {"status": status, "choices": ", ".join(ActionStatus.values)},
                        field="status")
    action.status = status
    action.closed_on = timezone.localdate() if status in (ActionStatus.DONE, ActionStatus.DROPPED) else None
    action.save(update_fields=["status", "closed_on"])
    return action


# --- site warnings ---------------------------------------------------------------------------------------

def record_incident(user: Any, site: str, occurred_on: date, kind: str, severity: int, source: str, *, description: str = "",
                    classification: int = 1) -> Incident:
    _require(user, "add", _("record incidents"))
    f = _site(user, site)
    if occurred_on > timezone.localdate():
        raise RuleError(_("The incident date %(day)s is in the future.") % {"day": occurred_on.isoformat()}, field="occurred_on")
    if kind not in IncidentKind.values:
        raise RuleError(_("“%(kind)s” is not an incident kind; use one of: %(choices)s.") % {"kind": kind, "choices": ", ".join(IncidentKind.values)},
                        field="kind")
    if not 1 <= int(severity) <= 5:
        raise RuleError(_("Severity is from 1 (minor) to 5 (critical), not %(s)s.") % {"s": severity}, field="severity")
    if not source.strip():
        raise RuleError(_("Name the source of the report."), field="source")
    if classification > user.clearance:
        raise RuleError(_("You may not classify a record above your own clearance."), field="classification")
    return Incident.objects.create(site=f, occurred_on=occurred_on, kind=kind, severity=int(severity), source=source,
                                   description=description, classification=classification, recorded_by=user, originating_agency=user.agency)


def set_danger_estimate(user: Any, site: str, as_of: date, probability: float, *, rationale: str = "") -> DangerEstimate:
    """An analyst's estimate for a site as of a day (one per site and day: a new one replaces it)."""
    _require(user, "adjudicate", _("set danger estimates (analysts only)"))
    if not can(user, "intelligence"):
        raise RuleError(_("Danger estimates are intelligence assessments; your agency does not make them."), rule="intelligence")
    f = _site(user, site)
    p = float(probability)
    if not 0.0 <= p <= 1.0:
        raise RuleError(_("A daily probability is between 0 and 1, not %(p)s.") % {"p": probability}, field="probability")
    est, _created = DangerEstimate.objects.update_or_create(site=f, as_of=as_of, defaults={"probability": p, "rationale": rationale, "analyst": user})
    return est


def danger_estimates(site_codes: list[str], start_date: date, days: int) -> dict[str, list[float]]:
    """Daily danger per site for the planner's scenario builder: `days` values from `start_date`.

    Between two estimates the value is interpolated linearly by day; before the first estimate it is the
    first, after the last it stays at the last (the analysts' latest word holds until they change it).
    A site without any estimate is left out of the result, so the caller keeps its own assumption for it;
    an unknown site code is refused.
    """
    if days < 0:
        raise RuleError(_("days must not be negative."), field="days")
    known = set(Facility.objects.filter(code__in=site_codes).values_list("code", flat=True))
    unknown = [c for c in site_codes if c not in known]
    if unknown:
        raise RuleError(_("Unknown site codes: %(codes)s.") % {"codes": ", ".join(unknown)}, field="site_codes")
    points: dict[str, list[tuple[date, float]]] = {}
    for code, as_of, p in DangerEstimate.objects.filter(site__code__in=site_codes).order_by("as_of").values_list("site__code", "as_of", "probability"):
        points.setdefault(code, []).append((as_of, p))
    out: dict[str, list[float]] = {}
    for code in site_codes:
        pts = points.get(code)
        if not pts:
            continue
        out[code] = [round(_interpolate(pts, start_date + timedelta(days=i)), 6) for i in range(days)]
    return out


def _interpolate(points: list[tuple[date, float]], day: date) -> float:
    if day <= points[0][0]:
        return points[0][1]
    if day >= points[-1][0]:
        return points[-1][1]
    for (d0, p0), (d1, p1) in zip(points, points[1:], strict=False):
        if d0 <= day <= d1:
            span = (d1 - d0).days
            return p0 + (p1 - p0) * ((day - d0).days / span if span else 0.0)
    return points[-1][1]


# --- situation reports --------------------------------------------------------------------------------

def produce_sitrep(day: date, audience: str | Agency, language: str, *, requester: Any = None, trigger: str = Trigger.DEMAND,
                   with_pdf: bool = True, report: dict[str, Any] | None = None) -> tuple[SitRep, bytes | None]:
    """Compute, render and store one report. On demand the requester must belong to the audience or be an
    analyst of the coordinating office; a scheduled run (no requester) produces it for the audience alone."""
    if language not in LANGUAGES:
        raise RuleError(_("Language must be one of: %(choices)s.") % {"choices": ", ".join(LANGUAGES)}, field="lang")
    agency = audience if isinstance(audience, Agency) else _agency(audience, "audience")
    if requester is not None:
        may = requester.agency_id == agency.pk or (requester.agency is not None and requester.agency.code == "CIO" and can(requester, "adjudicate"))
        if not may:
            raise RuleError(_("You may produce the report for your own agency only (the coordinating office's analysts produce it for every audience)."),
                            rule="audience", field="audience")
    if report is None:
        report = sitrep.build(day, agency, requester)
    pdf = sitrep.render_pdf(report, language) if with_pdf else None
    with transaction.atomic():
        rec = SitRep(report_date=day, audience=agency, language=language, classification=report["classification"], figures=report,
                     trigger=trigger, generated_by=requester)
        if pdf is not None:
            rec.sha256 = sitrep.sha256(pdf)
            rec.pdf.save(f"sitrep-{day.isoformat()}-{agency.code}-{language}-{rec.sha256[:12]}.pdf", ContentFile(pdf), save=False)
        rec.save()
    return rec, pdf


def produce_all(day: date, *, trigger: str = Trigger.SCHEDULE, audiences: list[str] | None = None) -> list[SitRep]:
    """One report per audience (every agency, or those named) and language, as the schedule runs it."""
    out = []
    agencies = Agency.objects.order_by("code")
    if audiences:
        agencies = agencies.filter(code__in=audiences)
    for agency in agencies:
        report = sitrep.build(day, agency)  # computed once, rendered in each language
        for lang in LANGUAGES:
            rec, _pdf = produce_sitrep(day, agency, lang, trigger=trigger, report=report)
            out.append(rec)
    return out
