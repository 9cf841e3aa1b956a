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
from custody.core.actions import BadInput, NotAllowed, NotFound, action, note
from custody.registry.models import Facility, Person

LANGUAGES = ("en", "ar")


def _agency(code: str, field: str) -> Agency:
    found = Agency.objects.filter(code=(code or "").upper()).first()
    if found is None:
        raise BadInput(_("There is no agency with code %(code)s.") % {"code": code}, field=field)
    return found


def _site(user: Any, code: str) -> Facility:
    found = restrict(Facility.objects.all(), user).filter(code=code).first()
    if found is None:
        raise NotFound(_("There is no site with code %(code)s that you may see.") % {"code": code}, field="site")
    return found


def _meeting(user: Any, meeting: Meeting | int | str) -> Meeting:
    pk = meeting.pk if isinstance(meeting, Meeting) else meeting
    found = restrict(Meeting.objects.all(), user).filter(pk=_number(pk, "meeting")).first()
    if found is None:
        raise NotFound(_("No meeting %(pk)s that you may see.") % {"pk": pk}, field="meeting")
    return found


def _number(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise BadInput(_("“%(value)s” is not a number.") % {"value": value}, field=field) from exc


def _within_clearance(user: Any, classification: Any) -> int:
    level = _number(classification, "classification")
    if not 0 <= level <= 3:
        raise BadInput(_("A classification is from 0 (unclassified) to 3 (secret), not %(level)s.") % {"level": level}, field="classification")
    if level > user.clearance:
        raise NotAllowed(_("You may not classify a record above your own clearance."), rule="clearance", field="classification")
    return level


# --- working group -------------------------------------------------------------------------------------

@action("coordination.meeting_create", capability="add")
def do_create_meeting(user: Any, held_on: date, title: str, attendees: list[str], *, notes: str = "", classification: Any = 1,
                      releasable_to: list[str] | None = None) -> Meeting:
    if not title.strip():
        raise BadInput(_("A meeting needs a title."), field="title")
    if held_on > timezone.localdate() + timedelta(days=60):
        raise BadInput(_("The meeting date %(day)s is more than 60 days ahead.") % {"day": held_on.isoformat()}, field="held_on")
    level = _within_clearance(user, classification)
    agencies = [_agency(c, "attendees") for c in attendees]
    if not agencies:
        raise BadInput(_("Name at least one attending agency."), field="attendees")
    m = Meeting.objects.create(held_on=held_on, title=title, notes=notes, classification=level, created_by=user,
                               originating_agency=user.agency, release_all=not releasable_to)
    m.attendees.set(agencies)
    if releasable_to:
        m.releasable_to.set([_agency(c, "releasable_to") for c in releasable_to])
    note(m, classification=level)
    return m


@action("coordination.decision_create", capability="add")
def do_add_decision(user: Any, meeting: Meeting | int | str, text: str, *, person_refs: list[str] = (),  # type: ignore[assignment]
                    facility_codes: list[str] = (), other_records: list[dict[str, str]] = ()) -> Decision:  # type: ignore[assignment]
    """A decision of a meeting the user may see, linked only to records the user may see."""
    meeting = _meeting(user, meeting)
    note(meeting)
    if not text.strip():
        raise BadInput(_("A decision needs its text."), field="text")
    refs = [r for r in dict.fromkeys(person_refs) if r]
    people = list(restrict(Person.objects.all(), user).filter(ref__in=refs))
    missing = sorted(set(refs) - {p.ref for p in people})
    if missing:
        raise NotFound(_("No person %(refs)s that you may see: a decision can only be linked to records you can see.") % {"refs": ", ".join(missing)},
                       field="people")
    sites = [_site(user, c) for c in dict.fromkeys(facility_codes) if c]
    d = Decision.objects.create(meeting=meeting, text=text, other_records=list(other_records))
    d.people.set(people)
    d.facilities.set(sites)
    note(d, meeting=meeting.pk)
    return d


@action("coordination.action_create", capability="add")
def do_add_action(user: Any, meeting: Meeting | int | str, text: str, owner: str, due_on: date, *,
                  decision: Decision | int | str | None = None) -> Action:
    meeting = _meeting(user, meeting)
    note(meeting)
    if not text.strip():
        raise BadInput(_("An action needs its text."), field="text")
    if due_on < meeting.held_on:
        raise BadInput(_("The action is due (%(due)s) before the meeting that set it (%(held)s).") % {
            "due": due_on.isoformat(), "held": meeting.held_on.isoformat()}, field="due_on")
    found = None
    if decision not in (None, ""):
        pk = decision.pk if isinstance(decision, Decision) else _number(decision, "decision")
        found = restrict(Decision.objects.all(), user).filter(pk=pk).first()
        if found is None:
            raise NotFound(_("No decision %(pk)s that you may see.") % {"pk": pk}, field="decision")
        if found.meeting_id != meeting.pk:
            raise BadInput(_("That decision belongs to another meeting."), field="decision")
    a = Action.objects.create(meeting=meeting, decision=found, text=text, owner=_agency(owner, "owner"), due_on=due_on)
    note(a, meeting=meeting.pk, owner=a.owner.code)
    return a


@action("coordination.action_status", capability="change")
def do_set_action_status(user: Any, action_id: Action | int | str, status: str) -> Action:
    """An action is its owner agency's to progress or close: another agency's user is refused, whatever
    its role (the working group assigns actions; each agency reports on its own)."""
    pk = action_id.pk if isinstance(action_id, Action) else _number(action_id, "action")
    found = restrict(Action.objects.select_related("owner"), user).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No action %(pk)s that you may see.") % {"pk": pk}, field="action")
    note(found, owner=found.owner.code)
    if found.owner_id != user.agency_id:
        raise NotAllowed(_("This action belongs to %(owner)s: only %(owner)s may change it.") % {"owner": found.owner.code},
                         rule="action_owner", field="status")
    if status not in ActionStatus.values:
        raise BadInput(_("“%(status)s” is not an action status; use one of: %(choices)s.") % {"status": status, "choices": ", ".join(ActionStatus.values)},
                       field="status")
    before = found.status
    found.status = status
    found.closed_on = timezone.localdate() if status in (ActionStatus.DONE, ActionStatus.DROPPED) else None
    found.save(update_fields=["status", "closed_on"])
    note(found, status_from=before, status=status)
    return found


# --- site warnings ---------------------------------------------------------------------------------------

@action("coordination.incident_create", capability="add")
def do_record_incident(user: Any, site: str, occurred_on: date, kind: str, severity: Any, source: str, *, description: str = "",
                       classification: Any = 1) -> Incident:
    f = _site(user, site)
    if occurred_on > timezone.localdate():
        raise BadInput(_("The incident date %(day)s is in the future.") % {"day": occurred_on.isoformat()}, field="occurred_on")
    if kind not in IncidentKind.values:
        raise BadInput(_("“%(kind)s” is not an incident kind; use one of: %(choices)s.") % {"kind": kind, "choices": ", ".join(IncidentKind.values)},
                       field="kind")
    level = _number(severity, "severity")
    if not 1 <= level <= 5:
        raise BadInput(_("Severity is from 1 (minor) to 5 (critical), not %(s)s.") % {"s": severity}, field="severity")
    if not source.strip():
        raise BadInput(_("Name the source of the report."), field="source")
    cls = _within_clearance(user, classification)
    i = Incident.objects.create(site=f, occurred_on=occurred_on, kind=kind, severity=level, source=source,
                                description=description, classification=cls, recorded_by=user, originating_agency=user.agency)
    note(i, site=f.code, severity=level)
    return i


@action("coordination.danger_estimate", capability="adjudicate")
def do_set_danger_estimate(user: Any, site: str, as_of: date, probability: Any, *, rationale: str = "") -> DangerEstimate:
    """An analyst's estimate for a site as of a day (one per site and day: a new one replaces it)."""
    if not can(user, "intelligence"):
        raise NotAllowed(_("Danger estimates are intelligence assessments; your agency does not make them."), rule="intelligence")
    f = _site(user, site)
    try:
        p = float(probability)
    except (TypeError, ValueError) as exc:
        raise BadInput(_("A daily probability is a number between 0 and 1, not %(p)s.") % {"p": probability}, field="probability") from exc
    if not 0.0 <= p <= 1.0:
        raise BadInput(_("A daily probability is between 0 and 1, not %(p)s.") % {"p": probability}, field="probability")
    est, _created = DangerEstimate.objects.update_or_create(site=f, as_of=as_of, defaults={"probability": p, "rationale": rationale, "analyst": user})
    note(est, site=f.code, probability=p)
    return est


def danger_estimates(site_codes: list[str], start_date: date, days: int) -> dict[str, list[float]]:
    """Daily danger per site for the planner's scenario builder: `days` values from `start_date`.

    Between two estimates the value is interpolated linearly by day; before the first estimate it is the
    first, after the last it stays at the last (the analysts' latest word holds until they change it).
    A site without any estimate is left out of the result, so the caller keeps its own assumption for it;
    an unknown site code is refused.
    """
    if days < 0:
        raise BadInput(_("days must not be negative."), field="days")
    known = set(Facility.objects.filter(code__in=site_codes).values_list("code", flat=True))
    unknown = [c for c in site_codes if c not in known]
    if unknown:
        raise BadInput(_("Unknown site codes: %(codes)s.") % {"codes": ", ".join(unknown)}, field="site_codes")
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
        raise BadInput(_("Language must be one of: %(choices)s.") % {"choices": ", ".join(LANGUAGES)}, field="lang")
    agency = audience if isinstance(audience, Agency) else _agency(audience, "audience")
    if requester is not None and not may_produce_for(requester, agency):
        raise NotAllowed(_("You may produce the report for your own agency only (the coordinating office's analysts produce it for every audience)."),
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


def may_produce_for(user: Any, agency: Agency) -> bool:
    """A user produces the report for its own agency; the coordinating office's analysts for every audience."""
    return user.agency_id == agency.pk or (user.agency is not None and user.agency.code == "CIO" and can(user, "adjudicate"))


@action("coordination.sitrep_generate", capability="view")
def do_produce_sitrep(user: Any, day: date, audience: str | Agency, language: str, *, with_pdf: bool = True) -> tuple[SitRep, bytes | None]:
    """A report produced on demand (page, API, CLI), stored as produced: see produce_sitrep."""
    agency = audience if isinstance(audience, Agency) else _agency(audience, "audience")
    if not may_produce_for(user, agency):
        raise NotAllowed(_("You may produce the report for your own agency only (the coordinating office's analysts produce it for every audience)."),
                         rule="audience", field="audience")
    rec, pdf = produce_sitrep(day, agency, language, requester=user, trigger=Trigger.DEMAND, with_pdf=with_pdf)
    note(rec, classification=rec.classification, sha256=rec.sha256, audience=agency.code, language=language)
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
