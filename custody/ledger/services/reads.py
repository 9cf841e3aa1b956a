"""Derived reads: headcounts from the projection, a user's latest visible events, the expected count
of a roll call.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count

from ..models import (
    CustodyState,
    LedgerEvent,
)


def latest_visible_events(user: Any, n: int = 25) -> list[LedgerEvent]:
    """The user's n latest visible events, newest first: what restrict(LedgerEvent...).order_by("-seq")[:n]
    returns. That query makes SQLite read every visible person's events and sort them (0.5 s at the demo's
    95,000 events), so this reads the newest events by seq in widening windows and applies the same
    rule, that the user may see the person (LedgerEvent.access_q), through restrict() on the people."""
    from custody.core.access import restrict
    from custody.registry.models import Person

    window = n * 20
    while True:
        candidates = list(LedgerEvent.objects.order_by("-seq").values_list("pk", "person_id")[:window])
        people = set(restrict(Person.objects.filter(pk__in={pid for _pk, pid in candidates}), user)
                     .values_list("pk", flat=True))
        ids = [pk for pk, pid in candidates if pid in people][:n]
        if len(ids) == n or len(candidates) < window:
            break
        window *= 20
    return list(LedgerEvent.objects.filter(pk__in=ids).select_related("person", "facility", "custodian").order_by("-seq"))


def headcounts_for(states: Any) -> dict[str, list[dict[str, Any]]]:
    """Headcounts from the projection (`states`: a CustodyState queryset, already restricted to the viewer)."""
    held = states.filter(status__in=["in_custody", "hospital", "at_court"])
    return {
        "by_facility": list(held.values("facility__code", "facility__name").annotate(n=Count("person")).order_by("facility__code")),
        "by_custodian": list(states.exclude(custodian=None).exclude(status__in=["released", "repatriated", "deceased"])
                             .values("custodian__code").annotate(n=Count("person")).order_by("custodian__code")),
        "by_status": list(states.values("status").annotate(n=Count("person")).order_by("status")),
    }


def headcounts() -> dict[str, list[dict[str, Any]]]:
    return headcounts_for(CustodyState.objects.all())


def expected_count(facility: Any, block: str = "") -> int:
    qs = CustodyState.objects.filter(facility=facility, status="in_custody")
    if block:
        qs = qs.filter(block=block)
    return qs.count()


def database_vendor() -> str:
    return connection.vendor
