"""A plan: vehicles with manifests, day by day, and the figures that judge it.

The objective is evaluated here from the vehicles alone, so the optimiser, the greedy baseline and the
independent checker all price a plan the same way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .aggregate import EPS_PERSON_DAY, EPS_VEHICLE
from .scenario import HEAVY, ROAD, TIERS, Scenario

PLAN_FORMAT = "custody-planning-plan/1"


@dataclass
class Vehicle:
    """One helicopter sortie, or one bus of a road convoy. A convoy is the buses sharing `convoy`."""

    id: str
    day: int
    site: str
    mode: str
    manifest: list[str] = field(default_factory=list)
    airframe: str | None = None
    convoy: str | None = None
    # Counts by tier for plans without names (the greedy baseline before packing).
    counts: dict[int, int] = field(default_factory=dict)

    def tier_counts(self, sc: Scenario) -> dict[int, int]:
        if self.manifest:
            out: dict[int, int] = defaultdict(int)
            for pid in self.manifest:
                out[sc.person_index[pid].tier] += 1
            return dict(out)
        return dict(self.counts)


@dataclass
class Figures:
    exposure: float  # the objective: sum weight x danger x people still there, plus the terminal term
    cost: float  # exposure plus the small tie-breaks (finish early, fewer vehicles); what bounds bound
    moved: int
    left: int
    sorties: int
    convoys: int


def evaluate(sc: Scenario, vehicles: list[Vehicle]) -> Figures:
    departures: dict[tuple[str, int, int], int] = defaultdict(int)
    for v in vehicles:
        for t, k in v.tier_counts(sc).items():
            departures[(v.site, t, v.day)] += k
    pop = sc.population()
    exposure = 0.0
    person_days = 0
    left_total = 0
    for s in sc.sites:
        for t in TIERS:
            r = pop[(s.id, t)]
            for d in range(sc.horizon_days):
                r -= departures.get((s.id, t, d), 0)
                exposure += sc.weights[t] * s.danger[d] * r
                person_days += r
            exposure += sc.weights[t] * sc.rules.terminal_weight * s.danger[-1] * r
            left_total += r
    sorties = sum(1 for v in vehicles if v.mode == HEAVY)
    convoys = len({v.convoy for v in vehicles if v.mode == ROAD})
    cost = exposure + EPS_PERSON_DAY * person_days + EPS_VEHICLE * (sorties + convoys)
    moved = sum(departures.values())
    return Figures(exposure, cost, moved, left_total, sorties, convoys)


def do_nothing(sc: Scenario) -> Figures:
    return evaluate(sc, [])


@dataclass
class Plan:
    scenario_name: str
    scenario_digest: str
    vehicles: list[Vehicle]
    summary: dict[str, Any] = field(default_factory=dict)
    unmoved: list[dict[str, str]] = field(default_factory=list)
    days: list[dict[str, Any]] = field(default_factory=list)  # per-day notes: binding limits, re-plans

    def by_day(self, day: int) -> list[Vehicle]:
        return [v for v in self.vehicles if v.day == day]


def to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "format": PLAN_FORMAT,
        "scenario": {"name": plan.scenario_name, "digest": plan.scenario_digest},
        "summary": plan.summary,
        "days": plan.days,
        "vehicles": [
            {k: v for k, v in asdict(veh).items() if v not in (None, {}) and not (k == "manifest" and not v)}
            for veh in plan.vehicles
        ],
        "unmoved": plan.unmoved,
    }


def from_dict(data: dict[str, Any]) -> Plan:
    if data.get("format") != PLAN_FORMAT:
        raise ValueError(f"format: expected {PLAN_FORMAT!r}, found {data.get('format')!r}")
    vehicles = []
    for i, raw in enumerate(data.get("vehicles", [])):
        try:
            vehicles.append(
                Vehicle(
                    id=str(raw["id"]),
                    day=int(raw["day"]),
                    site=str(raw["site"]),
                    mode=str(raw["mode"]),
                    manifest=[str(p) for p in raw.get("manifest", [])],
                    airframe=raw.get("airframe"),
                    convoy=raw.get("convoy"),
                    counts={int(k): int(n) for k, n in raw.get("counts", {}).items()},
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"vehicles/{i}: {e!r}") from e
    return Plan(
        scenario_name=data.get("scenario", {}).get("name", ""),
        scenario_digest=data.get("scenario", {}).get("digest", ""),
        vehicles=vehicles,
        summary=data.get("summary", {}),
        unmoved=data.get("unmoved", []),
        days=data.get("days", []),
    )


def dump(plan: Plan, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(plan), indent=1))


def load(path: str | Path) -> Plan:
    return from_dict(json.loads(Path(path).read_text()))
