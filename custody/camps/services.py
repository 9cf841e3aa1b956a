"""Every change to camp records, and the figures the pages, the API, the CLI and the situation report read.

Every change is an action (custody.core.actions): `do_x(user, ...)` checks the capability, restricts the
camp and the people it touches (NotFound for what the user may not see), applies the camp's rules, writes
and names what its one audit row records; pages, API and CLI only translate. Refusals name the rule and
the row: BadInput for a malformed field, RuleError for a broken rule, NotAllowed, NotFound. Queries
that return figures take a queryset of people already restricted to the caller (or to a report's
audience), so one function serves a clerk's page and an audience's report alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.accounts.models import Agency
from custody.camps.models import (
    Census,
    ControlChange,
    DepartureReason,
    FlagKind,
    Movement,
    MovementKind,
    ProtectionFlag,
)
from custody.core.access import can, restrict
from custody.core.actions import BadInput, NotAllowed, NotFound, RuleError, action
from custody.core.actions import note as audit_note
from custody.registry.models import (
    BirthPrecision,
    Facility,
    FacilityKind,
    FamilyLink,
    Household,
    Person,
    PopulationGroup,
    Relation,
)

PARENT_RELATIONS = {"father", "mother"}
CHILD_RELATIONS = {"son", "daughter"}


# --- who is in a camp -------------------------------------------------------------------------------

def with_last_movement(qs: QuerySet[Person]) -> QuerySet[Person]:
    last = Movement.objects.filter(person=OuterRef("pk")).order_by("-occurred_on", "-id")
    return qs.annotate(last_move=Subquery(last.values("kind")[:1]), last_move_on=Subquery(last.values("occurred_on")[:1]))


def present_q() -> Q:
    return Q(last_move__isnull=True) | Q(last_move=MovementKind.ARRIVAL)


def residents(people: QuerySet[Person], camp: Facility | None = None) -> QuerySet[Person]:
    """Residents of camp households (of one camp or all), present or not."""
    qs = people.filter(group=PopulationGroup.CAMP_RESIDENT, household__isnull=False)
    if camp is not None:
        qs = qs.filter(household__camp=camp)
    return qs


def present(people: QuerySet[Person], camp: Facility | None = None) -> QuerySet[Person]:
    """Residents the records place in the camp now: no movement recorded, or the last one an arrival."""
    return with_last_movement(residents(people, camp)).filter(present_q())


def is_present(person: Person, camp: Facility | None = None) -> bool:
    return present(Person.objects.filter(pk=person.pk), camp).exists()


def population_series(people: QuerySet[Person], camp: Facility | None, start: date, end: date) -> list[tuple[date, int]]:
    """Population at the end of each day from start to end.

    From today's count backwards: pop(D) = present now − arrivals after D + departures after D. It holds
    because the services allow a departure only for someone present and an arrival only for someone
    absent, so each person's movements alternate.
    """
    now = present(people, camp).count()
    moves = Movement.objects.filter(person__in=residents(people, camp).values("pk"))
    if camp is not None:
        moves = moves.filter(camp=camp)
    per_day: dict[date, int] = {}
    for day, kind, n in moves.filter(occurred_on__gt=start).values_list("occurred_on", "kind").annotate(n=Count("id")):
        per_day[day] = per_day.get(day, 0) + (n if kind == MovementKind.ARRIVAL else -n)
    out = []
    day = end
    later = sum(delta for d, delta in per_day.items() if d > end)
    while day >= start:
        out.append((day, now - later))
        later += per_day.get(day, 0)
        day -= timedelta(days=1)
    return list(reversed(out))


def change_between(people: QuerySet[Person], camp: Facility | None, start: date, end: date) -> dict[str, Any]:
    """Arrivals and departures (by reason) within [start, end]."""
    moves = Movement.objects.filter(person__in=residents(people, camp).values("pk"), occurred_on__gte=start, occurred_on__lte=end)
    if camp is not None:
        moves = moves.filter(camp=camp)
    arrivals = moves.filter(kind=MovementKind.ARRIVAL).count()
    by_reason = dict(moves.filter(kind=MovementKind.DEPARTURE).values_list("reason").annotate(n=Count("id")))
    return {"arrivals": arrivals, "departures": sum(by_reason.values()), "by_reason": by_reason}


def last_census(camp: Facility) -> Census | None:
    return Census.objects.filter(camp=camp).order_by("-taken_on", "-id").first()


def unaccounted(people: QuerySet[Person], camp: Facility) -> tuple[Census | None, QuerySet[Person]]:
    """People the records place in the camp who were not counted at the last census, leaving out those
    who arrived after it (they could not have been counted)."""
    census = last_census(camp)
    if census is None:
        return None, people.none()
    counted = census.counted.values("pk")
    arrived_after = Movement.objects.filter(kind=MovementKind.ARRIVAL, occurred_on__gt=census.taken_on, camp=camp).values("person_id")
    qs = present(people, camp).exclude(pk__in=counted).exclude(pk__in=arrived_after)
    return census, qs


# --- changes ----------------------------------------------------------------------------------------

def _check_date(day: date, what: str) -> None:
    if day > timezone.localdate():
        raise BadInput(_("The %(what)s date %(day)s is in the future.") % {"what": what, "day": day.isoformat()}, field="occurred_on")


def _camp(user: Any, camp: Facility | str) -> Facility:
    """The camp as the user may see it; NotFound for an absent or hidden one, BadInput for another kind."""
    code = camp.code if isinstance(camp, Facility) else camp
    found = restrict(Facility.objects.filter(code=code), user).select_related("custodian").first()
    if found is None:
        raise NotFound(_("There is no facility with code %(code)s that you may see.") % {"code": code}, field="camp")
    if found.kind != FacilityKind.CAMP:
        raise BadInput(_("%(code)s is not a camp (it is a %(kind)s).") % {"code": found.code, "kind": found.get_kind_display()}, field="camp")
    return found


def _person(user: Any, person: Person | str, action: str = "view") -> Person:
    ref = person.ref if isinstance(person, Person) else person
    found = restrict(Person.objects.all(), user, action).filter(ref=ref).select_related("household__camp").first()
    if found is None:
        raise NotFound(_("No person %(ref)s that you may see.") % {"ref": ref}, field="person")
    return found


@action("camps.departure", capability="change")
def do_record_departure(user: Any, person: Person | str, camp: Facility | str, occurred_on: date, reason: str, *,
                        destination: str = "", note: str = "") -> Movement:
    camp = _camp(user, camp)
    person = _person(user, person)
    audit_note(person, camp=camp.code)
    _check_date(occurred_on, _("departure"))
    if reason not in DepartureReason.values:
        raise BadInput(_("“%(reason)s” is not a departure reason; use one of: %(choices)s.") % {
            "reason": reason, "choices": ", ".join(DepartureReason.values)}, field="reason")
    if not present(Person.objects.filter(pk=person.pk), camp).exists():
        raise RuleError(_("%(ref)s is not in camp %(camp)s: a departure can only be recorded for a resident the records place in the camp.") % {
            "ref": person.ref, "camp": camp.code}, rule="departure_not_in_camp", field="person")
    _not_before_last(person, occurred_on)
    m = Movement.objects.create(camp=camp, person=person, kind=MovementKind.DEPARTURE, occurred_on=occurred_on, reason=reason,
                                destination=destination, note=note, recorded_by=user)
    audit_note(m, person=person.ref, camp=camp.code, reason=reason)
    return m


def _not_before_last(person: Person, occurred_on: date) -> None:
    last = Movement.objects.filter(person=person).order_by("-occurred_on", "-id").first()
    if last is not None and occurred_on < last.occurred_on:
        raise RuleError(_("%(ref)s already has a %(kind)s recorded on %(day)s; a later movement cannot be dated before it.") % {
            "ref": person.ref, "kind": last.get_kind_display(), "day": last.occurred_on.isoformat()}, field="occurred_on")


@action("camps.arrival", capability="change")
def do_record_arrival(user: Any, person: Person | str, camp: Facility | str, household: Household | str, occurred_on: date, *,
                      note: str = "") -> Movement:
    """A person arrives in a camp and joins a household there."""
    camp = _camp(user, camp)
    person = _person(user, person)
    audit_note(person, camp=camp.code)
    ref = household.ref if isinstance(household, Household) else household
    found = restrict(Household.objects.filter(camp=camp, ref=ref), user).first()
    if found is None:
        raise NotFound(_("No household %(ref)s in camp %(camp)s.") % {"ref": ref, "camp": camp.code}, field="household")
    _check_date(occurred_on, _("arrival"))
    if person.group == PopulationGroup.CAMP_RESIDENT and present(Person.objects.filter(pk=person.pk)).exists():
        where = person.household.camp.code if person.household else "?"
        raise RuleError(_("%(ref)s is already in camp %(camp)s; record the departure first.") % {"ref": person.ref, "camp": where},
                        rule="arrival_already_present", field="person")
    if person.group == PopulationGroup.DETAINEE and person.current_facility_id:
        raise RuleError(_("%(ref)s is a detainee held at %(facility)s; a detainee enters a camp through the custody ledger, not as an arrival.") % {
            "ref": person.ref, "facility": person.current_facility.code}, field="person")
    _not_before_last(person, occurred_on)
    person.group = PopulationGroup.CAMP_RESIDENT
    person.household = found
    person.save(update_fields=["group", "household", "updated_at"])
    m = Movement.objects.create(camp=camp, person=person, kind=MovementKind.ARRIVAL, occurred_on=occurred_on, note=note, recorded_by=user)
    audit_note(m, person=person.ref, camp=camp.code, household=found.ref)
    return m


@action("camps.control_change", capability="change")
def do_record_control_change(user: Any, camp: Facility | str, to_agency: Agency | str, occurred_on: date, *, note: str = "") -> ControlChange:
    """Control of the whole camp changes hands: recorded, and the camp's custodian updated with it. Only the
    agency that controls the camp hands it over, on a supervisor's word: nobody else may move a camp and
    its residents out of an agency's control."""
    camp = _camp(user, camp)
    audit_note(camp)
    if camp.custodian_id != user.agency_id:
        raise NotAllowed(_("%(camp)s is under %(code)s: only %(code)s may hand over its control.") % {
            "camp": camp.code, "code": camp.custodian.code if camp.custodian else "—"}, rule="camp_controller", field="camp")
    if not user.has_role("supervisor"):
        raise NotAllowed(_("Handing over a camp needs a supervisor of %(code)s.") % {"code": camp.custodian.code},
                         rule="camp_controller", field="camp")
    _check_date(occurred_on, _("control change"))
    if isinstance(to_agency, str):
        found = Agency.objects.filter(code=to_agency.upper()).first()
        if found is None:
            raise BadInput(_("There is no agency with code %(code)s.") % {"code": to_agency}, field="to_custodian")
        to_agency = found
    if not to_agency.is_custodian:
        raise RuleError(_("%(code)s cannot hold people in custody, so it cannot take control of a camp.") % {"code": to_agency.code}, field="to_custodian")
    if to_agency.pk == camp.custodian_id:
        raise RuleError(_("%(camp)s is already under %(code)s.") % {"camp": camp.code, "code": to_agency.code}, field="to_custodian")
    n = present(Person.objects.all(), camp).count()
    change = ControlChange.objects.create(camp=camp, occurred_on=occurred_on, from_custodian=camp.custodian, to_custodian=to_agency,
                                          residents_at_change=n, note=note, recorded_by=user)
    camp.custodian = to_agency
    camp.save(update_fields=["custodian"])
    audit_note(change, camp=camp.code, to=to_agency.code, residents=n)
    return change


@action("camps.census", capability="change")
def do_record_census(user: Any, camp: Facility | str, taken_on: date, counted_refs: list[str], *, note: str = "") -> Census:
    camp = _camp(user, camp)
    audit_note(camp)
    _check_date(taken_on, _("census"))
    refs = list(dict.fromkeys(r.strip() for r in counted_refs if r.strip()))
    found = dict(residents(restrict(Person.objects.all(), user), camp).filter(ref__in=refs).values_list("ref", "pk"))
    missing = [r for r in refs if r not in found]
    if missing:
        raise RuleError(_("Not residents of %(camp)s: %(refs)s.") % {"camp": camp.code, "refs": ", ".join(missing[:20])}, field="counted")
    census = Census.objects.create(camp=camp, taken_on=taken_on, note=note, recorded_by=user)
    census.counted.add(*found.values())
    audit_note(census, camp=camp.code, counted=len(found))
    return census


@action("camps.household_create", capability="add")
def do_create_household(user: Any, camp: Facility | str, ref: str, *, sector: str = "", tent: str = "", head: Person | str | None = None,
                        members: list[str] | None = None) -> Household:
    """A household needs a head who is one of its members."""
    camp = _camp(user, camp)
    audit_note(camp)
    if not ref.strip():
        raise BadInput(_("A household needs a household number."), field="ref")
    if head is None or head == "":
        raise BadInput(_("Household %(ref)s has no head: name the head of household (one of its members).") % {"ref": ref},
                       rule="household_without_head", field="head")
    if Household.objects.filter(camp=camp, ref=ref).exists():
        raise RuleError(_("Household %(ref)s already exists in %(camp)s.") % {"ref": ref, "camp": camp.code}, field="ref")
    head_p = _person(user, head)
    people = [head_p] + [_person(user, m) for m in (members or []) if m != head_p.ref]
    for p in people:
        if p.group == PopulationGroup.DETAINEE and p.current_facility_id:
            raise RuleError(_("%(ref)s is a detainee in custody and cannot be a member of a camp household.") % {"ref": p.ref}, field="members")
    household = Household.objects.create(camp=camp, ref=ref, sector=sector, tent=tent, head=head_p)
    for p in people:
        p.group = PopulationGroup.CAMP_RESIDENT
        p.household = household
        p.save(update_fields=["group", "household", "updated_at"])
    audit_note(household, camp=camp.code, members=[p.ref for p in people])
    return household


# --- ages and family links ----------------------------------------------------------------------------

def birth_bounds(p: Person) -> tuple[date, date] | None:
    """Earliest and latest possible date of birth, or None when nothing is known."""
    if p.birth_precision == BirthPrecision.EXACT and p.birth_date:
        return p.birth_date, p.birth_date
    if p.birth_year_min and p.birth_precision in (BirthPrecision.YEAR, BirthPrecision.RANGE):
        hi = p.birth_year_max if p.birth_precision == BirthPrecision.RANGE and p.birth_year_max else p.birth_year_min
        return date(p.birth_year_min, 1, 1), date(hi, 12, 31)
    if p.birth_date:
        return p.birth_date, p.birth_date
    return None


def parent_conflict(child: Person, parent: Person) -> str | None:
    """A message if the child was certainly born before the parent (or the same day), else None."""
    cb, pb = birth_bounds(child), birth_bounds(parent)
    if cb is None or pb is None:
        return None
    if cb[1] <= pb[0]:
        return _("%(child)s (born %(cb)s) cannot be the child of %(parent)s (born %(pb)s): the child is older than the parent.") % {
            "child": child.ref, "cb": child.birth_display(), "parent": parent.ref, "pb": parent.birth_display()}
    return None


def _parent_child(link: FamilyLink) -> tuple[Person, Person] | None:
    """(child, parent) for a parent/child link, in whichever direction it was stored."""
    if link.relation in PARENT_RELATIONS:
        return link.person, link.relative
    if link.relation in CHILD_RELATIONS:
        return link.relative, link.person
    return None


@action("camps.family_link", capability="add")
def do_add_family_link(user: Any, person: Person | str, relative: Person | str, relation: str, *, source: str = "") -> FamilyLink:
    """`relative` is `person`'s <relation>; refused when it would make a child older than its parent."""
    p, r = _person(user, person), _person(user, relative)
    audit_note(p, relative=r.ref, relation=relation)
    if relation not in Relation.values:
        raise BadInput(_("“%(relation)s” is not a relation; use one of: %(choices)s.") % {"relation": relation, "choices": ", ".join(Relation.values)},
                       field="relation")
    if p.pk == r.pk:
        raise BadInput(_("A person cannot be their own relative."), field="relative")
    link = FamilyLink(person=p, relative=r, relation=relation, source=source)
    pair = _parent_child(link)
    if pair is not None:
        problem = parent_conflict(*pair)
        if problem:
            raise RuleError(problem, rule="child_older_than_parent", field="relation")
    if FamilyLink.objects.filter(person=p, relative=r, relation=relation).exists():
        raise RuleError(_("%(relative)s is already recorded as %(person)s's %(relation)s.") % {
            "relative": r.ref, "person": p.ref, "relation": link.get_relation_display()}, field="relation")
    link.save()
    audit_note(link, person=p.ref, relative=r.ref, relation=relation)
    return link


def family_of(user: Any, person: Person) -> list[dict[str, Any]]:
    """Family links seen from this person, whichever side stored them."""
    visible = restrict(Person.objects.all(), user).values("pk")
    rows = []
    for link in FamilyLink.objects.filter(person=person, relative__in=visible).select_related("relative__household__camp", "relative__current_facility"):
        rows.append({"relative": link.relative, "relation": link.relation, "label": link.get_relation_display(), "link": link})
    from custody.registry.models import INVERSE_RELATION

    for link in FamilyLink.objects.filter(relative=person, person__in=visible).select_related("person__household__camp", "person__current_facility"):
        inverse = INVERSE_RELATION[link.relation][1 if link.person.sex == "F" else 0]
        rows.append({"relative": link.person, "relation": inverse, "label": Relation(inverse).label, "link": link})
    for row in rows:
        pair = _parent_child(row["link"])
        row["conflict"] = parent_conflict(*pair) if pair else None
    return rows


# --- children reaching 15 and 18 ---------------------------------------------------------------------

def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February: the birthday falls on 1 March in common years
        return date(d.year + years, 3, 1)


@dataclass
class Milestone:
    person: Person
    age: int
    earliest: date
    latest: date
    certain: bool  # the whole window lies inside the period
    flags: list[str] = field(default_factory=list)

    @property
    def uncertainty_days(self) -> int:
        return (self.latest - self.earliest).days

    @property
    def precision(self) -> str:
        return self.person.get_birth_precision_display()


def reaching_age(person: Person, age: int) -> tuple[date, date] | None:
    bounds = birth_bounds(person)
    if bounds is None:
        return None
    return _add_years(bounds[0], age), _add_years(bounds[1], age)


def children_reaching(people: QuerySet[Person], start: date, end: date, ages: tuple[int, ...] = (15, 18), *,
                      camp: Facility | None = None, with_flags: bool = False) -> tuple[list[Milestone], int]:
    """Residents present in the camps who will (or may) reach each age within [start, end], with the
    window of dates the birth record allows; and how many minors have no date of birth at all."""
    if end < start:
        raise BadInput(_("The period ends (%(end)s) before it starts (%(start)s).") % {"end": end.isoformat(), "start": start.isoformat()}, field="end")
    if (end - start).days > 366 * 5:
        raise BadInput(_("Choose a period of at most five years."), field="end")
    base = present(people, camp)
    cond = Q()
    for age in ages:
        lo_year, hi_year = start.year - age - 1, end.year - age
        cond |= Q(birth_date__year__gte=lo_year, birth_date__year__lte=hi_year)
        cond |= Q(birth_year_min__lte=hi_year) & (Q(birth_year_max__gte=lo_year) | Q(birth_year_max__isnull=True, birth_year_min__gte=lo_year))
    candidates = base.filter(cond).select_related("household__camp").order_by("ref")
    flags: dict[int, list[str]] = {}
    if with_flags:
        for pid, kind in ProtectionFlag.objects.filter(person__in=candidates.values("pk"), closed_on__isnull=True).values_list("person_id", "kind"):
            flags.setdefault(pid, []).append(kind)
    out = []
    for p in candidates:
        for age in ages:
            window = reaching_age(p, age)
            if window is None or window[1] < start or window[0] > end:
                continue
            f = list(flags.get(p.pk, []))
            if with_flags and p.medical_flag and FlagKind.MEDICAL not in f:
                f.append(FlagKind.MEDICAL)
            out.append(Milestone(p, age, window[0], window[1], window[0] >= start and window[1] <= end, f))
    out.sort(key=lambda m: (m.age, m.earliest, m.person.ref))
    unknown = base.filter(is_minor=True, birth_date__isnull=True, birth_year_min__isnull=True).count()
    return out, unknown


def age_range_on(person: Person, day: date) -> str:
    bounds = birth_bounds(person)
    if bounds is None:
        return "—"

    def age(born: date) -> int:
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    lo, hi = age(bounds[1]), age(bounds[0])
    return str(lo) if lo == hi else f"{lo}–{hi}"


@action("camps.protection_flag", capability="change")
def do_raise_flag(user: Any, person: Person | str, kind: str, raised_on: date, *, note: str = "") -> ProtectionFlag:
    if not can(user, "protection"):
        raise NotAllowed(_("Protection flags are reserved to users with a protection purpose."), rule="protection")
    p = _person(user, person)
    audit_note(p, kind=kind)
    if kind not in FlagKind.values:
        raise BadInput(_("“%(kind)s” is not a protection flag; use one of: %(choices)s.") % {"kind": kind, "choices": ", ".join(FlagKind.values)}, field="kind")
    _check_date(raised_on, _("flag"))
    flag = ProtectionFlag.objects.create(person=p, kind=kind, raised_on=raised_on, note=note, raised_by=user)
    audit_note(flag, person=p.ref, kind=kind)
    return flag
