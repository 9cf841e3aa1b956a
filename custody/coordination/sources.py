"""Where the situation report's figures come from: the records of the other apps, read through the one
authorisation layer as a given viewer sees them.

Each part is optional: the report asks whether an app's tables exist and, where they do not, says the
figure is not available rather than inventing one. Only the ledger's pure state machine
(custody.ledger.projection.transition) is reused to replay custody events up to a date.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import Max, QuerySet

from custody.accounts.models import Agency, Classification, User
from custody.core.access import restrict
from custody.registry.models import Facility, Person

HELD_STATUSES = ("in_custody", "hospital", "at_court")  # held at a site on the day
LIVE = frozenset(HELD_STATUSES) | {"in_transit"}  # counted as held (at a site or between two)


@dataclass
class Viewer:
    """Whose eyes a report is computed through: the audience, and the requester when there is one.
    A record counts only if every one of them may see it (a report never shows its requester what they
    may not see, nor its audience)."""

    users: list[Any]
    audience: Agency
    clearance: int

    def restrict(self, qs: QuerySet, action: str = "view") -> QuerySet:
        for u in self.users:
            qs = restrict(qs, u, action)
        return qs

    def people(self) -> QuerySet[Person]:
        return self.restrict(Person.objects.all())


def audience_clearance(agency: Agency) -> int:
    """The highest clearance any active user of the agency holds: what the agency can be sent."""
    top = User.objects.filter(agency=agency, is_active=True).aggregate(m=Max("clearance"))["m"]
    return int(top) if top is not None else int(Classification.RESTRICTED)


def viewer_for(audience: Agency, requester: Any = None) -> Viewer:
    clearance = audience_clearance(audience)
    if requester is not None:
        clearance = min(clearance, int(requester.clearance))
    # An unsaved user standing for the audience: the access rules read only its agency, role and clearance.
    stand_in = User(username=f"audience:{audience.code}", agency=audience, role="viewer", clearance=clearance, is_active=True)
    users = [stand_in] + ([requester] if requester is not None else [])
    return Viewer(users, audience, clearance)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def model_ready(app_label: str, model_name: str) -> Any | None:
    """The model if its app is installed and its table exists in this database, else None."""
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return None
    if model._meta.db_table not in connection.introspection.table_names():
        return None
    return model


def max_classification(people_qs: QuerySet | None = None, *others: QuerySet) -> int:
    levels = []
    if people_qs is not None:
        levels.append(Person.objects.filter(pk__in=people_qs).aggregate(m=Max("classification"))["m"])
    for qs in others:
        levels.append(qs.aggregate(m=Max("classification"))["m"])
    return max([int(v) for v in levels if v is not None], default=0)


# --- the custody ledger ----------------------------------------------------------------------------

def ledger_ready() -> bool:
    return model_ready("ledger", "LedgerEvent") is not None


@dataclass
class Held:
    by_site: Counter = field(default_factory=Counter)  # (facility_id, custodian_id) -> n
    in_transit: int = 0
    person_ids: set[int] = field(default_factory=set)
    classification: int | None = None  # the highest among them, when the source computed it


_REPLAY_FIELDS = ("person_id", "kind", "seq", "occurred_at", "facility_id", "custodian_id", "manifest", "data")


def _step(row: tuple[Any, ...], codes: dict[str, dict[str, int]]) -> Any:
    from custody.ledger.projection import Step

    _pid, kind, seq, occurred_at, facility_id, custodian_id, manifest, data = row
    data = data or {}
    correction = None
    if kind == "correction":
        correction = {}
        if "facility" in data:
            correction["facility_id"] = codes["facility"].get(data["facility"]) if data["facility"] else None
        if "custodian" in data:
            correction["custodian_id"] = codes["agency"].get(data["custodian"]) if data["custodian"] else None
        if "status" in data:
            correction["status"] = data["status"]
    return Step(kind=kind, seq=seq, occurred_at=occurred_at, facility_id=facility_id, custodian_id=custodian_id,
                manifest=manifest, block=str(data.get("block", "") or ""), correction=correction)


def _codes() -> dict[str, dict[str, int]]:
    return {"facility": dict(Facility.objects.values_list("code", "pk")), "agency": dict(Agency.objects.values_list("code", "pk"))}


def _tally(rows: Any) -> Held:
    """Held from (person, status, facility, custodian) rows: at a site, or in transit."""
    held = Held()
    for pid, status, fid, cid in rows:
        if status == "in_transit":
            held.in_transit += 1
            held.person_ids.add(pid)
        elif status in HELD_STATUSES and fid:
            held.by_site[(fid, cid)] += 1
            held.person_ids.add(pid)
    return held


def _daily_counts(rows: Any, steps: Any, start: date, end: date, base: int = 0) -> list[tuple[date, int]]:
    """`base` plus the people held or in transit at the end of each day from `start` to `end`, replaying
    `rows` (in the order they happened) with their `steps` through the ledger's state machine."""
    from custody.ledger.projection import State, transition

    states: dict[int, Any] = {}
    empty = State()
    held, series = 0, []
    day = start
    _b, day_end = day_bounds(day)
    for row, step in zip(rows, steps, strict=True):
        while row[3] >= day_end and day <= end:
            series.append((day, base + held))
            day += timedelta(days=1)
            _b, day_end = day_bounds(day)
        before = states.get(row[0], empty)
        after = transition(before, step)
        held += (after.status in LIVE) - (before.status in LIVE)
        states[row[0]] = after
    while day <= end:
        series.append((day, base + held))
        day += timedelta(days=1)
    return series


def replay(viewer: Viewer, start: date, end: date) -> tuple[Held, list[tuple[date, int]]]:
    """Replay the visible custody events that happened up to the end of `end` through the ledger's state
    machine: who was held where, by whom, at the end of `end`, and how many people were held or in
    transit at the end of each day from `start`. Independent of the stored projection, which is what
    lets the report reconcile the two. The events are read once; the end state replays them in log
    order (as the projection did), the daily series in the order they happened."""
    from custody.ledger.projection import State, transition

    LedgerEvent = apps.get_model("ledger", "LedgerEvent")
    _s, stop = day_bounds(end)
    codes = _codes()
    rows = list(viewer.restrict(LedgerEvent.objects.filter(occurred_at__lt=stop)).order_by("seq").values_list(*_REPLAY_FIELDS))
    steps = [_step(row, codes) for row in rows]
    states: dict[int, Any] = {}
    empty = State()
    for row, step in zip(rows, steps, strict=True):
        states[row[0]] = transition(states.get(row[0], empty), step)
    held = _tally((pid, st.status, st.facility_id, st.custodian_id) for pid, st in states.items())
    order = sorted(range(len(rows)), key=lambda i: (rows[i][3], rows[i][2]))
    return held, _daily_counts([rows[i] for i in order], [steps[i] for i in order], start, end)


def held_now(viewer: Viewer) -> Held:
    """Who is held where, by whom, now: the ledger's stored projection (one indexed query), which the
    append keeps in step with the log and the daily verification replays the log against."""
    CustodyState = apps.get_model("ledger", "CustodyState")
    rows = viewer.restrict(CustodyState.objects.filter(status__in=LIVE))
    held = _tally(rows.values_list("person_id", "status", "facility_id", "custodian_id"))
    # In the same query's terms, not as a list of every held person's id.
    held.classification = rows.aggregate(m=Max("person__classification"))["m"] or 0
    return held


def recent_series(viewer: Viewer, start: date, end: date) -> list[tuple[date, int]]:
    """People held or in transit at the end of each day from `start` to `end` (today), replaying only
    the people with an event in the window: everyone else was in the state the projection holds for
    the whole window. Costs the window's events, not the whole log's."""
    LedgerEvent = apps.get_model("ledger", "LedgerEvent")
    CustodyState = apps.get_model("ledger", "CustodyState")
    first, _e = day_bounds(start)
    _s, stop = day_bounds(end)
    visible = viewer.restrict(LedgerEvent.objects.all())
    recent = set(visible.filter(occurred_at__gte=first, occurred_at__lt=stop).values_list("person_id", flat=True))
    base = viewer.restrict(CustodyState.objects.filter(status__in=LIVE)).exclude(person_id__in=recent).count()
    codes = _codes()
    rows = list(visible.filter(person_id__in=recent, occurred_at__lt=stop).order_by("occurred_at", "seq")
                .values_list(*_REPLAY_FIELDS))
    return _daily_counts(rows, [_step(row, codes) for row in rows], start, end, base)


def projection_by_site(viewer: Viewer) -> Counter:
    """Today's held people per (facility, custodian) from the ledger's stored projection."""
    CustodyState = apps.get_model("ledger", "CustodyState")
    rows = viewer.restrict(CustodyState.objects.filter(status__in=HELD_STATUSES, facility__isnull=False)).values_list("facility_id", "custodian_id")
    return Counter(rows)


def registry_by_site(viewer: Viewer) -> Counter:
    """Today's held people per (facility, custodian) from the registry's custody fields."""
    rows = viewer.people().filter(current_facility__isnull=False, custody_status__in=HELD_STATUSES).values_list("current_facility_id", "current_custodian_id")
    return Counter(rows)


def arrivals(viewer: Viewer, day: date) -> dict[str, Any]:
    """Arrivals at a receiving facility on the day and up to it (the transfer's progress)."""
    LedgerEvent = apps.get_model("ledger", "LedgerEvent")
    start, end = day_bounds(day)
    qs = viewer.restrict(LedgerEvent.objects.filter(kind="arrived", facility__kind="receiving", occurred_at__lt=end))
    return {"today": qs.filter(occurred_at__gte=start).count(), "to_date": qs.count(),
            "classification": max_classification(qs.values("person_id"))}


def departures_from_sites(viewer: Viewer, day: date) -> dict[str, int]:
    LedgerEvent = apps.get_model("ledger", "LedgerEvent")
    start, end = day_bounds(day)
    qs = viewer.restrict(LedgerEvent.objects.filter(kind="departed", occurred_at__lt=end))
    return {"today": qs.filter(occurred_at__gte=start).count(), "to_date": qs.count()}


def discrepancies(viewer: Viewer, day: date) -> dict[str, Any] | None:
    Discrepancy = model_ready("ledger", "Discrepancy")
    if Discrepancy is None:
        return None
    start, end = day_bounds(day)
    qs = viewer.restrict(Discrepancy.objects.filter(raised_at__lt=end))
    open_ = qs.filter(resolved_at__isnull=True) | qs.filter(resolved_at__gte=end)
    by_kind = Counter(open_.values_list("kind", flat=True))
    return {
        "open": open_.count(), "raised_today": qs.filter(raised_at__gte=start).count(),
        "resolved_today": qs.filter(resolved_at__gte=start, resolved_at__lt=end).count(),
        "resolved_to_date": qs.filter(resolved_at__lt=end).count(), "open_by_kind": dict(by_kind),
        "classification": max_classification(qs.exclude(person__isnull=True).values("person_id")),
    }


def repatriations(viewer: Viewer, day: date) -> dict[str, Any]:
    LedgerEvent = apps.get_model("ledger", "LedgerEvent")
    start, end = day_bounds(day)
    qs = viewer.restrict(LedgerEvent.objects.filter(kind="repatriated", occurred_at__lt=end))
    by_country: Counter = Counter()
    for data, body in qs.values_list("data", "body"):
        country = (data or {}).get("country") or _country_of(body)
        by_country[country or "?"] += 1
    return {"today": qs.filter(occurred_at__gte=start).count(), "to_date": qs.count(), "by_country": dict(by_country),
            "classification": max_classification(qs.values("person_id"))}


def _country_of(body: str) -> str:
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return ""
    return str(parsed.get("country", "")) if isinstance(parsed, dict) else ""
