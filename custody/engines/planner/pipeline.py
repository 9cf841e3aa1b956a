"""From scenario to a plan with manifests: bound, aggregate programme, then day by day air-tasking and
packing, re-planning from the actual state whenever a day's packing falls short of the programme.

The same loop re-plans after execution: `replan` takes the vehicles actually flown and driven (from the
custody ledger or entered by hand), keeps them, and plans the rest from the state they left.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from . import aggregate as ag
from .diagnose import Infeasible, diagnose
from .greedy import greedy
from .packing import air_tasking, pack_site_day
from .plan import Plan, Vehicle, do_nothing, evaluate, past_cost
from .scenario import HEAVY, ROAD, TIERS, Person, Scenario

Progress = Callable[[str, int, int, str], None]


def _quiet(stage: str, done: int, total: int, message: str) -> None:
    return None


@dataclass
class Bounds:
    lp: float
    mip: float
    lp_seconds: float

    @property
    def best(self) -> float:
        return max(self.lp, self.mip)


def lower_bound(sc: Scenario, kept: list[Vehicle] | None = None, first_day: int = 0) -> tuple[float, float]:
    """The LP relaxation of the aggregate programme: a proven lower bound on any plan's cost. For a
    re-plan, the bound of plans that keep what was flown before `first_day`: the cost those vehicles
    fixed plus the LP of the rest."""
    t0 = time.monotonic()
    kept = list(kept or [])
    gone = {pid for v in kept for pid in v.manifest}
    state = _state(sc, first_day, [p for p in sc.movable if p.id not in gone], kept)
    lp = ag.solve(sc, state, relax=True, time_limit=300)
    return lp.cost + (past_cost(sc, kept, first_day) if first_day else 0.0), time.monotonic() - t0


def _state(sc: Scenario, first_day: int, present: list[Person], vehicles: list[Vehicle]) -> ag.State:
    remaining: dict[tuple[str, int], int] = defaultdict(int)
    for p in present:
        remaining[(p.site, p.tier)] += 1
    reserved: dict[int, int] = defaultdict(int)
    for v in vehicles:
        arr = sc.arrival_day(sc.site_index[v.site], v.day, v.mode)
        if arr >= first_day:
            reserved[arr] += len(v.manifest)
    return ag.State(first_day, dict(remaining), dict(reserved))


def _binding(sc: Scenario, day: int, vehicles: list[Vehicle], present_before: dict[str, int]) -> list[str]:
    """Which limits bind on a day, in the commander's words."""
    out = []
    arrivals = sum(len(v.manifest) for v in vehicles if sc.arrival_day(sc.site_index[v.site], v.day, v.mode) == day)
    if arrivals >= sc.receiving.intake[day] > 0:
        out.append("intake")
    todays = [v for v in vehicles if v.day == day]
    flown = sum(1 for v in todays if v.mode == HEAVY)
    fleet = sum(h.max_sorties for h in sc.helicopters if h.available[day])
    if flown and flown >= 0.9 * fleet:
        out.append("helicopters")
    per_site: dict[str, int] = defaultdict(int)
    for v in todays:
        per_site[v.site] += len(v.manifest)
    for s in sc.sites:
        if per_site.get(s.id, 0) >= s.handling and s.handling:
            out.append(f"handling {s.id}")
        if present_before.get(s.id, 0) and not s.road_open[day]:
            out.append(f"road closed {s.id}")
    if sum(1 for v in todays if v.mode == ROAD and v.id.endswith("-B1")) >= sc.convoys.per_day[day] > 0:
        out.append("convoys")
    return out


def execute(
    sc: Scenario,
    agg: ag.Aggregate,
    *,
    kept: list[Vehicle] | None = None,
    time_limit: float = 60.0,
    replan: bool = True,
    progress: Progress = _quiet,
    pack_limit: float = 10.0,
    local: bool = True,
) -> tuple[list[Vehicle], dict]:
    """Pack every day from agg.first_day on, re-planning after each shortfall. Returns all vehicles
    (kept ones first) and a log."""
    t0 = time.monotonic()
    vehicles = list(kept or [])
    gone = {pid for v in vehicles for pid in v.manifest}
    present: dict[str, list[Person]] = defaultdict(list)
    for p in sc.movable:
        if p.id not in gone:
            present[p.site].append(p)
    log: dict = {"replans": 0, "shortfalls": [], "repair_failures": [], "days": [], "pack_seconds": 0.0, "replan_seconds": 0.0, "site_days": 0,
                 "pack_status": defaultdict(int)}
    D = sc.horizon_days
    for d in range(agg.first_day, D):
        progress("pack", d - agg.first_day, D - agg.first_day, f"day {d + 1} of {D}")
        before = {s: len(ps) for s, ps in present.items()}
        frames = air_tasking(sc, agg, d)
        short_sites: set[str] = set()
        for s in sc.sites:
            planned = {(t, md): agg.moves.get((s.id, t, d, md), 0) for t in TIERS for md in (HEAVY, ROAD)}
            planned = {k: v for k, v in planned.items() if v > 0}
            if not planned:
                continue
            packed = pack_site_day(sc, s.id, d, present[s.id], planned, frames.get(s.id, []),
                                   agg.convoys.get((s.id, d), 0), time_limit=pack_limit)
            log["site_days"] += 1
            log["pack_seconds"] += packed.seconds
            log["pack_status"][packed.status] += 1
            vehicles += packed.vehicles
            moved = {pid for v in packed.vehicles for pid in v.manifest}
            present[s.id] = [p for p in present[s.id] if p.id not in moved]
            if packed.shortfall:
                short_sites.add(s.id)
                log["shortfalls"].extend(packed.reasons)
        log["days"].append({"day": d, "binding": _binding(sc, d, vehicles, before), "replanned": False})
        if short_sites and replan and d + 1 < D:
            left = time_limit - (time.monotonic() - t0)
            state = _state(sc, d + 1, [p for ps in present.values() for p in ps], vehicles)
            try:
                t1 = time.monotonic()
                if local:
                    # First the safe repair: every vehicle kept, only people counts re-decided (an
                    # LP in effect, feasible whenever the old programme was). Then, time allowing,
                    # the short sites' vehicles too; the cheaper of the two is kept.
                    agg_prev = agg
                    agg = ag.solve(sc, state, time_limit=max(2.0, min(15.0, left / 3)), rel_gap=0.002,
                                   prev=agg_prev, free_sites=short_sites, fix_vehicles=True)
                    if left > 20:
                        try:
                            other = ag.solve(sc, state, time_limit=max(2.0, min(15.0, left / 3)), rel_gap=0.002,
                                             prev=agg_prev, free_sites=short_sites)
                            if other.cost < agg.cost:
                                agg = other
                        except ag.AggregateInfeasible as e:
                            log["repair_failures"].append(f"day {d}: {e}")
                else:
                    agg = ag.solve(sc, state, time_limit=max(2.0, min(15.0, left / 3)), rel_gap=0.005)
                log["replan_seconds"] += time.monotonic() - t1
                log["replans"] += 1
                log["days"][-1]["replanned"] = True
            except ag.AggregateInfeasible as e:
                # Keep the previous programme; packing caps it at what is still possible.
                log["repair_failures"].append(f"day {d}: {e}")
    progress("pack", D - agg.first_day, D - agg.first_day, "packed")
    log["pack_status"] = dict(log["pack_status"])
    return vehicles, log


def _unmoved(sc: Scenario, vehicles: list[Vehicle]) -> list[dict[str, str]]:
    gone = {pid for v in vehicles for pid in v.manifest}
    left = [p for p in sc.movable if p.id not in gone]
    left_ids = {p.id for p in left}
    out = []
    for p in left:
        if sc.partners.get(p.id, set()) & left_ids:
            why = "pair conflict: a keep-apart partner is still at the site"
        elif p.family and sc.rules.families_whole:
            why = "family fit: the family did not fit a vehicle of its own"
        elif p.tier == 1:
            why = "faction or capacity: no tier-1 place of his faction left"
        else:
            why = "capacity: intake, vehicles or handling ran out before the horizon ended"
        out.append({"person": p.id, "site": p.site, "tier": str(p.tier), "reason": why})
    out += [{"person": p.id, "site": p.site, "tier": str(p.tier), "reason": "excluded: minors are not moved under this scenario"}
            for p in sc.people if p.minor and sc.rules.minors == "exclude"]
    return out


def make_plan(
    sc: Scenario,
    *,
    time_limit: float = 60.0,
    progress: Progress = _quiet,
    kept: list[Vehicle] | None = None,
    first_day: int = 0,
) -> Plan:
    """Plan the whole horizon (or, with `kept` and `first_day`, re-plan from the actual state)."""
    t0 = time.monotonic()
    findings = diagnose(sc)
    if findings:
        raise Infeasible(findings)
    progress("bound", 0, 1, "LP relaxation")
    kept = list(kept or [])
    lp, lp_s = lower_bound(sc, kept, first_day)
    progress("bound", 1, 1, f"LP bound {lp:.2f}")
    gone = {pid for v in kept for pid in v.manifest}
    state = _state(sc, first_day, [p for p in sc.movable if p.id not in gone], kept)
    progress("solve", 0, 1, "aggregate programme")
    budget = max(5.0, time_limit * 0.7)
    try:
        agg = ag.solve(sc, state, time_limit=budget, rel_gap=0.004, warm_start=True)
    except ag.AggregateInfeasible as e:
        raise Infeasible(explain_solver_infeasible(sc)) from e
    progress("solve", 1, 1, f"{agg.status}, cost {agg.cost:.2f}, bound {agg.bound:.2f}")
    left = time_limit - (time.monotonic() - t0)
    vehicles, log = execute(sc, agg, kept=kept, time_limit=max(left, 10.0), progress=progress)
    progress("greedy", 0, 1, "greedy baseline")
    g = evaluate(sc, greedy(sc))
    fig = evaluate(sc, vehicles)
    # A re-plan's programme covers the days from first_day on; what was flown before is fixed cost.
    mip_bound = agg.bound + (past_cost(sc, kept, first_day) if first_day else 0.0)
    best = max(lp, mip_bound)
    summary = {
        "cost": round(fig.cost, 4),
        "exposure": round(fig.exposure, 4),
        "lower_bound": round(best, 4),
        "lp_bound": round(lp, 4),
        "solver_bound": round(mip_bound, 4),
        "gap": round((fig.cost - best) / best, 6) if best > 0 else 0.0,
        "aggregate_cost": round(agg.cost, 4),
        "aggregate_status": agg.status,
        "greedy_cost": round(g.cost, 4),
        "greedy_exposure": round(g.exposure, 4),
        "greedy_gap": round((g.cost - best) / best, 6) if best > 0 else 0.0,
        "do_nothing_exposure": round(do_nothing(sc).exposure, 4),
        "moved": fig.moved,
        "left": fig.left,
        "sorties": fig.sorties,
        "convoys": fig.convoys,
        "replans": log["replans"],
        "site_days_packed": log["site_days"],
        "pack_status": log["pack_status"],
        "seconds": {
            "lp": round(lp_s, 2),
            "aggregate": round(agg.seconds, 2),
            "packing": round(log["pack_seconds"], 2),
            "replans": round(log["replan_seconds"], 2),
            "total": round(time.monotonic() - t0, 2),
        },
        "first_day": first_day,
        "shortfalls": log["shortfalls"],
        "repair_failures": log["repair_failures"],
    }
    return Plan(sc.name, sc.digest(), vehicles, summary, _unmoved(sc, vehicles), log["days"])


def explain_solver_infeasible(sc: Scenario) -> list:
    """The pre-checks passed yet the programme is infeasible: only the everyone-moved rule can do that."""
    from .diagnose import Finding

    relaxed = sc.rules.require_all_moved
    msg = "The programme has no solution"
    if relaxed:
        msg = ("Everyone must be moved by the end of the horizon, but the combination of intake, "
               "helicopters, convoys, roads and handling cannot move them all; relax require_all_moved "
               "to see how many can be moved.")
    return [Finding("capacity", "scenario", msg)]


def replan(sc: Scenario, flown: list[Vehicle], from_day: int, *, time_limit: float = 60.0,
           progress: Progress = _quiet) -> Plan:
    """Keep what was actually flown and driven before `from_day`; plan the rest from that state.
    Changes to the scenario (a grounded airframe, a closed road, an intake outage) are made in `sc`."""
    kept = [v for v in flown if v.day < from_day]
    return make_plan(sc, time_limit=time_limit, progress=progress, kept=kept, first_day=from_day)
