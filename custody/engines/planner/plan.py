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


@dataclass
class Series:
    """Day-by-day figures of a plan, for charts and for bounding a re-plan."""

    remaining: dict[str, list[int]]  # site -> people still there after each day's departures
    exposure: list[float]  # per day
    cost: list[float]  # per day, with the person-day tie-break
    terminal: float  # the end-of-horizon term


def series(sc: Scenario, vehicles: list[Vehicle]) -> Series:
    departures: dict[tuple[str, int, int], int] = defaultdict(int)
    for v in vehicles:
        for t, k in v.tier_counts(sc).items():
            departures[(v.site, t, v.day)] += k
    pop = sc.population()
    D = sc.horizon_days
    remaining = {s.id: [0] * D for s in sc.sites}
    exposure = [0.0] * D
    cost = [0.0] * D
    terminal = 0.0
    for s in sc.sites:
        for t in TIERS:
            r = pop[(s.id, t)]
            for d in range(D):
                r -= departures.get((s.id, t, d), 0)
                remaining[s.id][d] += r
                exposure[d] += sc.weights[t] * s.danger[d] * r
                cost[d] += (sc.weights[t] * s.danger[d] + EPS_PERSON_DAY) * r
            terminal += sc.weights[t] * sc.rules.terminal_weight * s.danger[-1] * r
    return Series(remaining, exposure, cost, terminal)


def evaluate(sc: Scenario, vehicles: list[Vehicle]) -> Figures:
    ser = series(sc, vehicles)
    exposure = sum(ser.exposure) + ser.terminal
    sorties = sum(1 for v in vehicles if v.mode == HEAVY)
    convoys = len({v.convoy for v in vehicles if v.mode == ROAD})
    cost = sum(ser.cost) + ser.terminal + EPS_VEHICLE * (sorties + convoys)
    moved = sum(len(v.manifest) if v.manifest else sum(v.counts.values()) for v in vehicles)
    left = sum(r[-1] for r in ser.remaining.values())
    return Figures(exposure, cost, moved, left, sorties, convoys)


def past_cost(sc: Scenario, kept: list[Vehicle], first_day: int) -> float:
    """The part of any plan's cost fixed by what was flown before `first_day`."""
    ser = series(sc, kept)
    sorties = sum(1 for v in kept if v.mode == HEAVY)
    convoys = len({v.convoy for v in kept if v.mode == ROAD})
    return sum(ser.cost[:first_day]) + EPS_VEHICLE * (sorties + convoys)


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
