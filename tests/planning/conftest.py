"""A registry small enough to plan in seconds: a receiving facility, two prisons, 48 detainees."""

from __future__ import annotations

from typing import Any

import pytest

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def immediate_tasks(settings: Any) -> None:
    settings.TASKS = IMMEDIATE


@pytest.fixture
def registry(facility_factory, person_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from custody.registry.models import KeepApart

    receiving = facility_factory("BIAP", kind="receiving", custodian="IRQ", country="IQ", name="Baghdad receiving")
    north = facility_factory("PN", name="North prison")
    south = facility_factory("PS", name="South prison")
    people = []
    for i in range(48):
        p = person_factory(f"Detainee {i:02d}", f"محتجز {i:02d}", facility=north if i % 2 else south, ref=f"P-{i + 1:06d}",
                           risk_tier=1 if i % 6 == 0 else 2 if i % 3 == 0 else 3, faction="A" if i % 4 else "B")
        people.append(p)
    KeepApart.objects.create(person=people[1], other=people[3], reason="feud")
    return {"receiving": receiving, "north": north, "south": south, "people": people}


@pytest.fixture
def planner_user(make_user):  # type: ignore[no-untyped-def]
    return make_user("MIL", "analyst")
