"""The only place that changes repatriation records: every change is an action (custody.core.actions),
kept by the repatriation agencies (the foreign ministry, settings.REPATRIATION_AGENCIES), that reaches
only the people the actor may see and refuses by name before anything is written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.cases.services import trial_pending
from custody.core import actions
from custody.core.access import restrict
from custody.core.actions import BadInput, NotAllowed, RuleError, action, reach
from custody.registry.countries import country_name, is_country_code
from custody.registry.models import Nationality, Person, PopulationGroup
from custody.repatriation.models import (
    PREREQUISITES,
    TERMINAL,
    Contact,
    CountryFile,
    Outreach,
    OutreachKind,
    Override,
    OverrideKind,
    Position,
    Repatriation,
    Step,
    StepKind,
    is_diplomat,
    repatriation_agencies,
)

IN_CUSTODY = "in_custody"


def normalise_code(code: str) -> str:
    code = (code or "").strip().upper()
    if not is_country_code(code):
        raise BadInput(_("“%(code)s” is not a two-letter ISO country code.") % {"code": code}, field="country")
    return code


def require_diplomat(user: Any) -> None:
    """The custodian of repatriation records: the diplomats' agencies alone write them."""
    if not is_diplomat(user):
        raise NotAllowed(_("Repatriation records are kept by %(agencies)s.") % {"agencies": ", ".join(sorted(repatriation_agencies()))},
                         rule="agency")


def country_file(code: str) -> CountryFile:
    return CountryFile.objects.get_or_create(code=normalise_code(code))[0]


def nationals(user: Any, code: str) -> QuerySet[Person]:
    """The country's nationals the user may see: every detainee holding its nationality (among others)
    who is in custody, and those with a repatriation record for it (handed over, refused)."""
    code = normalise_code(code)
    qs = restrict(Person.objects.filter(group=PopulationGroup.DETAINEE, nationalities__country=code), user)
    qs = qs.filter(Q(current_facility__isnull=False) | Q(repatriations__country=code))
    # Counted in a subquery: the join above is already narrowed to this one country.
    count = Nationality.objects.filter(person=OuterRef("pk")).values("person").annotate(c=Count("id")).values("c")
    return qs.annotate(n_nationalities=Subquery(count)).distinct()


def board(user: Any) -> list[dict[str, Any]]:
    """Per country: nationals held (in custody now), dual nationals among them, and progress."""
    held = restrict(Person.objects.filter(group=PopulationGroup.DETAINEE, current_facility__isnull=False), user)
    rows: dict[str, dict[str, Any]] = {}
    for code, n in held.values_list("nationalities__country").annotate(n=Count("id", distinct=True)):
        if code:
            rows[code] = {"code": code, "held": n, "dual": 0}
    multi = held.annotate(k=Count("nationalities", distinct=True)).filter(k__gt=1).values("pk")
    for code, n in held.filter(pk__in=multi).values_list("nationalities__country").annotate(n=Count("id", distinct=True)):
        if code in rows:
            rows[code]["dual"] = n
    visible_reps = restrict(Repatriation.objects.all(), user)
    for code, stage, n in visible_reps.values_list("country", "stage").annotate(n=Count("id")):
        row = rows.setdefault(code, {"code": code, "held": 0, "dual": 0})
        row[stage or "none"] = row.get(stage or "none", 0) + n
    positions = dict(CountryFile.objects.values_list("code", "position"))
    out = []
    for row in rows.values():
        accepted = sum(row.get(k, 0) for k in (StepKind.ACCEPTED, StepKind.TRAVEL_DOCUMENTS, StepKind.SCHEDULED, StepKind.HANDED_OVER))
        total = row["held"] + row.get(StepKind.HANDED_OVER, 0)
        row.update({
            "name": country_name(row["code"]),
            "position": Position(positions.get(row["code"], Position.UNKNOWN)).label,
            "accepted": accepted,
            "scheduled": row.get(StepKind.SCHEDULED, 0),
            "handed_over": row.get(StepKind.HANDED_OVER, 0),
            "refused": row.get(StepKind.REFUSED, 0),
            "progress": round(100 * row.get(StepKind.HANDED_OVER, 0) / total) if total else 0,
        })
        out.append(row)
    out.sort(key=lambda r: (-r["held"], -r["handed_over"], r["code"]))
    return out


@action("repatriation.set_position", capability="change")
def do_set_position(user: Any, code: str, position: str, note: str = "", on: date | None = None) -> CountryFile:
    require_diplomat(user)
    if position not in Position.values:
        raise BadInput(_("“%(p)s” is not a position (%(list)s).") % {"p": position, "list": ", ".join(Position.values)}, field="position")
    cf = country_file(code)
    cf.position, cf.position_note, cf.position_on, cf.updated_by = position, note.strip(), on or timezone.localdate(), user
    cf.save()
    actions.note(cf, country=cf.code, position=position)
    return cf


@action("repatriation.add_contact", capability="change")
def do_add_contact(user: Any, code: str, *, name: str, title: str = "", organisation: str = "", email: str = "", phone: str = "",
                   notes: str = "") -> Contact:
    require_diplomat(user)
    if not name.strip():
        raise BadInput(_("A contact needs a name."), field="name")
    contact = Contact.objects.create(country=country_file(code), name=name.strip(), title=title, organisation=organisation, email=email,
                                     phone=phone, notes=notes)
    actions.note(contact, country=contact.country.code)
    return contact


@action("repatriation.log_outreach", capability="change")
def do_log_outreach(user: Any, code: str, *, kind: str, on: date, subject: str, summary: str = "", reference: str = "",
                    in_reply_to: int | None = None, contact: int | None = None) -> Outreach:
    require_diplomat(user)
    cf = country_file(code)
    if kind not in OutreachKind.values:
        raise BadInput(_("“%(k)s” is not a kind of outreach.") % {"k": kind}, field="kind")
    if not subject.strip():
        raise BadInput(_("Give the subject."), field="subject")
    if on > timezone.localdate():
        raise BadInput(_("The date %(d)s is in the future.") % {"d": on.isoformat()}, field="on")
    reply = None
    if kind == OutreachKind.NOTE_ANSWERED:
        reply = Outreach.objects.filter(pk=in_reply_to or 0, country=cf, kind=OutreachKind.NOTE_SENT).first()
        if reply is None:
            raise BadInput(_("An answer names the note it answers: a diplomatic note sent to %(c)s.") % {"c": cf.code}, field="in_reply_to")
        if on < reply.on:
            raise BadInput(_("The answer is dated before the note it answers (%(d)s).") % {"d": reply.on.isoformat()}, field="on")
    contact_row = Contact.objects.filter(pk=contact, country=cf).first() if contact else None
    if contact and contact_row is None:
        raise BadInput(_("Contact #%(id)s is not a contact of %(c)s.") % {"id": contact, "c": cf.code}, field="contact")
    outreach = Outreach.objects.create(country=cf, kind=kind, on=on, subject=subject.strip(), summary=summary, reference=reference,
                                       in_reply_to=reply, contact=contact_row, user=user)
    actions.note(outreach, country=cf.code, kind=kind)
    return outreach


def _person(user: Any, person: Any) -> Person:
    ref = getattr(person, "ref", person)
    return reach(Person.objects.all(), user, "view", what=_("Person %(ref)s") % {"ref": ref}, lock=True, ref=ref)


def _repatriation(person: Person, code: str) -> Repatriation:
    code = normalise_code(code)
    if not person.nationalities.filter(country=code).exists():
        raise BadInput(_("%(ref)s is not recorded as a national of %(country)s.") % {"ref": person.ref, "country": country_name(code)},
                       field="country")
    country_file(code)
    rep, _created = Repatriation.objects.select_for_update().get_or_create(person=person, country=code)
    return rep


def needed_overrides(person: Person) -> list[str]:
    needs = []
    if person.is_minor:
        needs.append(OverrideKind.MINOR)
    if trial_pending(person):
        needs.append(OverrideKind.PENDING_TRIAL)
    return needs


@action("repatriation.record_override", capability="approve")
def do_record_override(user: Any, person: Any, code: str, kind: str, reason: str) -> Override:
    require_diplomat(user)
    if kind not in OverrideKind.values:
        raise BadInput(_("“%(k)s” is not a kind of override.") % {"k": kind}, field="kind")
    if not reason.strip():
        raise BadInput(_("An override records its reason."), field="reason")
    row = _person(user, person)
    rep = _repatriation(row, code)
    override = Override.objects.create(repatriation=rep, kind=kind, reason=reason.strip(), supervisor=user)
    actions.note(override, person=row.ref, country=rep.country, kind=kind)
    return override


def _in_custody(person: Person) -> bool:
    return person.custody_status == IN_CUSTODY and person.current_facility_id is not None


@action("repatriation.record_step", capability="change")
def do_record_step(user: Any, person: Any, code: str, kind: str, *, on: date | None = None, note: str = "",
                   officials: str = "", at: datetime | None = None) -> Step:
    """One step of a person's repatriation to one country; the handover appends the ledger event."""
    require_diplomat(user)
    if kind not in StepKind.values:
        raise BadInput(_("“%(k)s” is not a repatriation step (%(list)s).") % {"k": kind, "list": ", ".join(StepKind.values)}, field="kind")
    person = _person(user, person)
    rep = _repatriation(person, code)
    at = at or timezone.now()
    on = on or timezone.localdate(at)
    # Only a schedule looks ahead; every other step records something that has happened.
    if kind != StepKind.SCHEDULED and on > timezone.localdate():
        raise BadInput(_("The date %(d)s is in the future.") % {"d": on.isoformat()}, field="on")
    if rep.stage in TERMINAL:
        raise RuleError(_("The repatriation of %(ref)s to %(country)s is closed (%(stage)s).")
                        % {"ref": person.ref, "country": country_name(rep.country), "stage": StepKind(rep.stage).label})
    done = rep.done()
    missing = [StepKind(k).label for k in PREREQUISITES[kind] if k not in done]
    if missing:
        raise RuleError(_("“%(step)s” needs first: %(missing)s.") % {"step": StepKind(kind).label, "missing": ", ".join(str(m) for m in missing)},
                        rule="order", field="kind")
    override = None
    if kind == StepKind.REFUSED and not note.strip():
        raise BadInput(_("A refusal records the reason given."), field="note")
    if kind in (StepKind.SCHEDULED, StepKind.HANDED_OVER):
        if not _in_custody(person):
            raise RuleError(_("%(ref)s is not in custody (status: %(status)s): only a person in custody is repatriated.")
                            % {"ref": person.ref, "status": person.custody_status or "—"}, rule="not_in_custody")
        other = Repatriation.objects.filter(person=person, stage__in=[StepKind.SCHEDULED, StepKind.HANDED_OVER]).exclude(pk=rep.pk).first()
        if other is not None:
            raise RuleError(_("%(ref)s is already scheduled for repatriation to %(country)s.")
                            % {"ref": person.ref, "country": country_name(other.country)}, rule="one_country")
    if kind == StepKind.SCHEDULED:
        for need in needed_overrides(person):
            override = rep.overrides.filter(kind=need).order_by("-at").first()
            if override is None:
                raise RuleError(_("%(ref)s is %(why)s: scheduling needs a supervisor's recorded override first.")
                                % {"ref": person.ref, "why": OverrideKind(need).label.lower()}, rule="override", field="kind")
        rep.scheduled_for = on
    if kind == StepKind.HANDED_OVER:
        rep.ledger_seq = _ledger_handover(user, person, rep, at, officials or note)
    if kind == StepKind.REFUSED:
        rep.refusal_reason = note.strip()
    rep.stage = kind
    rep.save()
    step = Step.objects.create(repatriation=rep, kind=kind, on=on, note=note[:500], override=override, user=user)
    actions.note(step, person=person.ref, country=rep.country, kind=kind, ledger_seq=rep.ledger_seq)
    return step


def _ledger_handover(user: Any, person: Person, rep: Repatriation, at: datetime, officials: str) -> int:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    if not officials.strip():
        raise BadInput(_("Name the officials of the country who received the person."), field="officials")
    recorded = record_event(EventSpec(
        kind="repatriated", person=person, occurred_at=at, country=rep.country,
        reason=f"handed over to officials of {country_name(rep.country, 'en')}: {officials.strip()}"[:500],
        idempotency_id=f"repatriation-{rep.pk}-handover", data={"officials": officials.strip()[:300]},
    ), user=user)
    return int(recorded.event.seq)


def steps_state(rep: Repatriation | None) -> dict[str, Any]:
    done = rep.done() if rep else set()
    return {k: (k in done) for k in StepKind.values}
