"""Small hand-built scenarios: a few hundred people, a few days, so each test solves in seconds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from custody.engines import planner


def tiny_dict(days: int = 5, people_per_site: int = 120, sites: int = 2) -> dict[str, Any]:
    site_list = []
    people = []
    n = 0
    for i in range(sites):
        sid = f"S{i + 1}"
        site_list.append({
            "id": sid, "name": f"Site {i + 1}",
            "danger": [round(0.01 * (i + 1) * (1 + 0.3 * d), 4) for d in range(days)],
            "handling": 80, "lz_sorties": 4, "road_open": [True] * days,
            "round_trip_minutes": 120 + 60 * i, "road_overnight": i == 1,
        })
        for k in range(people_per_site):
            n += 1
            tier = 1 if k % 7 == 0 else 2 if k % 3 == 0 else 3
            people.append({"id": f"P{n:04d}", "site": sid, "tier": tier, "faction": "A" if k % 2 else "B"})
    keep = [[people[j]["id"], people[j + 3]["id"]] for j in range(0, len(people) - 3, 30)]
    return {
        "format": "custody-planning-scenario/1",
        "name": "tiny",
        "horizon_days": days,
        "weights": {"1": 10, "2": 3, "3": 1},
        "rules": {},
        "receiving": {"name": "R", "intake": [70] * days},
        "sites": site_list,
        "helicopters": [
            {"id": f"H{h + 1}", "available": [True] * days, "max_sorties": 3, "max_hours": 8.0} for h in range(2)
        ],
        "convoys": {"per_day": [1] * days, "buses": 2, "bus_seats": 30},
        "people": people,
        "keep_apart": keep,
    }


@pytest.fixture
def tiny() -> dict[str, Any]:
    return tiny_dict()


def build(data: dict[str, Any]) -> planner.Scenario:
    return planner.from_dict(copy.deepcopy(data))
