"""The aggregate integer programme: how many of each tier leave each site on each day, by which mode.

Integer counts per site x tier x day x mode, solved with HiGHS through OR-Tools MathOpt. Keep-apart
pairs and the tier-1 one-faction rule are left to manifest packing (see docs/decisions): counting by
tier only keeps the programme small, and the rare packing miss is absorbed by re-planning.

Helicopters are modelled per airframe type and day by *patterns*: a pattern is a maximal combination of
round trips one airframe can fly within its sortie and flight-hour limits (round trips rounded up to
15-minute blocks). Choosing how many airframes fly each pattern is exact: every integer solution can
be assigned to real airframes. Pooling the fleet's sorties and hours instead gives plans that look
optimal but cannot be flown (the fleet-hours trap in docs/decisions).
"""

from __future__ import annotations

import datetime
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.math_opt.python import mathopt
from ortools.math_opt.solvers import highs_pb2

from .scenario import HEAVY, ROAD, TIERS, Scenario, Site

# Tie-breaks below exposure, kept small enough to stay well under the gaps that matter: prefer
# finishing early (remaining person-days), then fewer flights and convoys.
EPS_PERSON_DAY = 1e-5
EPS_VEHICLE = 1e-3

BLOCK_MINUTES = 15


@dataclass(frozen=True)
class AirframeType:
    max_sorties: int
    hour_blocks: int
    members: tuple[str, ...]


def airframe_types(sc: Scenario) -> list[AirframeType]:
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    for h in sc.helicopters:
        groups[(h.max_sorties, int(math.floor(h.max_hours * 60 / BLOCK_MINUTES + 1e-9)))].append(h.id)
    return [AirframeType(k, b, tuple(ids)) for (k, b), ids in sorted(groups.items())]


def blocks(site: Site) -> int:
    return math.ceil(site.round_trip_minutes / BLOCK_MINUTES)


def patterns(sc: Scenario, at: AirframeType) -> list[tuple[int, ...]]:
    """Maximal multisets of site indices (non-decreasing tuples) one airframe of this type can fly
    in a day. Subsets need no variable of their own: a planned sortie may be left unflown."""
    sites = [i for i, s in enumerate(sc.sites) if s.lz_sorties > 0 and blocks(s) <= at.hour_blocks]
    cost = {i: blocks(sc.sites[i]) for i in sites}
    cheapest = min(cost.values()) if cost else 0
    out: list[tuple[int, ...]] = []

    def rec(start: int, chosen: list[int], used: int) -> None:
        extended = False
        if len(chosen) < at.max_sorties:
            for j in range(start, len(sites)):
                s = sites[j]
                if used + cost[s] <= at.hour_blocks:
                    extended = True
                    rec(j, [*chosen, s], used + cost[s])
        if not chosen:
            return
        if not extended:
            # Maximal in the global sense: no site at all (not only those after `start`) still fits.
            if (
                len(chosen) >= at.max_sorties
                or used + cheapest > at.hour_blocks
                or not any(used + cost[s] <= at.hour_blocks for s in sites)
            ):
                out.append(tuple(chosen))
        return

    rec(0, [], 0)
    return out


@dataclass
class State:
    """Where a (re-)plan starts: the first day still to plan, who is still at each site, and intake
    already taken by people arriving on later days (overnight convoys already under way)."""

    first_day: int
    remaining: dict[tuple[str, int], int]
    intake_reserved: dict[int, int] = field(default_factory=dict)


@dataclass
class Aggregate:
    first_day: int
    moves: dict[tuple[str, int, int, str], int]  # (site, tier, day, mode) -> people
    sorties: dict[tuple[str, int], int]  # (site, day) -> sorties flown
    convoys: dict[tuple[str, int], int]  # (site, day) -> convoys sent
    patterns: dict[tuple[int, int], list[tuple[tuple[str, ...], int]]]  # (type, day) -> [(sites, airframes)]
    cost: float
    bound: float
    status: str
    seconds: float
    relaxed: bool = False
    variables: int = 0
    constraints: int = 0
    pattern_counts: dict[tuple[int, int, int], int] = field(
        default_factory=dict
    )  # (type, day, pattern) -> airframes

    @property
    def gap(self) -> float:
        return (self.cost - self.bound) / max(abs(self.bound), 1e-9)


class AggregateInfeasible(Exception):
    pass


def solve(
    sc: Scenario,
    state: State | None = None,
    *,
    relax: bool = False,
    time_limit: float = 60.0,
    rel_gap: float = 0.002,
    log: bool = False,
    prev: Aggregate | None = None,
    free_sites: set[str] | None = None,
    heuristic_effort: float = 0.05,
    integer_people: bool = False,
    warm_start: bool = False,
    fix_vehicles: bool = False,
) -> Aggregate:
    """Solve the programme from `state`. With `prev` and `free_sites`, a local repair: every other
    site keeps the moves, sorties and convoys `prev` gave it, and only the free sites (those whose
    packing fell short) and the airframe patterns are decided again. Far smaller than a full re-plan,
    and the other sites' manifests stay as they were."""
    t0 = time.monotonic()
    state = state or State(0, sc.population())
    D = sc.horizon_days
    days = range(state.first_day, D)
    w = sc.weights
    m = mathopt.Model(name="custody-aggregate")
    integer = not relax

    def ivar(ub: float, name: str, fixed: float | None = None) -> mathopt.Variable:
        if fixed is not None:
            return m.add_variable(lb=fixed, ub=fixed, is_integer=integer, name=name)
        return m.add_variable(lb=0, ub=ub, is_integer=integer, name=name)

    def held(s_id: str, table: dict, key: tuple, vehicle: bool = False) -> float | None:
        """The value a non-free site keeps from the previous programme (None: decide afresh). With
        `fix_vehicles`, every site keeps its vehicles and only people counts move."""
        if prev is None or free_sites is None:
            return None
        if s_id in free_sites and not (vehicle and fix_vehicles):
            return None
        return float(table.get(key, 0))

    sites = sc.sites
    x: dict[tuple[str, int, int, str], mathopt.Variable] = {}
    R: dict[tuple[str, int, int], mathopt.Variable] = {}
    f: dict[tuple[str, int], mathopt.Variable] = {}
    c: dict[tuple[str, int], mathopt.Variable] = {}
    arrivals: dict[int, list[mathopt.Variable]] = defaultdict(list)
    objective: list[mathopt.LinearExpression | mathopt.Variable] = []
    types = airframe_types(sc)
    pats = [patterns(sc, at) for at in types]
    hv = {h.id: h for h in sc.helicopters}
    n: dict[tuple[int, int, int], mathopt.Variable] = {}
    sortie_supply: dict[tuple[int, int], list] = defaultdict(list)  # (site idx, day) -> [(coef, var)]
    for k, at in enumerate(types):
        for d in days:
            avail = sum(1 for hid in at.members if hv[hid].available[d])
            if not avail:
                continue
            for p_i, pat in enumerate(pats[k]):
                keep = (
                    float(prev.pattern_counts.get((k, d, p_i), 0))
                    if prev is not None and fix_vehicles
                    else None
                )
                var = ivar(avail, f"n_{k}_{d}_{p_i}", keep)
                n[(k, d, p_i)] = var
                for s_i in set(pat):
                    sortie_supply[(s_i, d)].append((pat.count(s_i), var))
            m.add_linear_constraint(
                mathopt.fast_sum(n[(k, d, p_i)] for p_i in range(len(pats[k]))) <= avail,
                name=f"fleet_{k}_{d}",
            )

    for s_i, s in enumerate(sites):
        pop = {t: state.remaining.get((s.id, t), 0) for t in TIERS}
        if sum(pop.values()) == 0:
            continue
        for d in days:
            supply = sortie_supply.get((s_i, d), [])
            heli_ok = bool(supply) and s.lz_sorties > 0 and s.handling > 0
            road_ok = (
                sc.road_usable(s, d) and sc.convoys.per_day[d] > 0 and sc.convoys.buses > 0 and s.handling > 0
            )
            if heli_ok:
                f[(s.id, d)] = ivar(
                    s.lz_sorties, f"f_{s.id}_{d}", held(s.id, prev.sorties if prev else {}, (s.id, d), True)
                )
                m.add_linear_constraint(
                    f[(s.id, d)] <= mathopt.fast_sum(coef * var for coef, var in supply),
                    name=f"air_{s.id}_{d}",
                )
                objective.append(EPS_VEHICLE * f[(s.id, d)])
            if road_ok:
                c[(s.id, d)] = ivar(
                    sc.convoys.per_day[d],
                    f"c_{s.id}_{d}",
                    held(s.id, prev.convoys if prev else {}, (s.id, d), True),
                )
                objective.append(EPS_VEHICLE * c[(s.id, d)])
            for t in TIERS:
                if pop[t] == 0:
                    continue
                for mode, ok in ((HEAVY, heli_ok), (ROAD, road_ok)):
                    if ok:
                        keep = held(s.id, prev.moves if prev else {}, (s.id, t, d, mode))
                        # People counts are large: their integrality is left to rounding and the
                        # fill-up below, which leaves HiGHS only the vehicles to branch on.
                        v = m.add_variable(
                            lb=0 if keep is None else keep,
                            ub=pop[t] if keep is None else keep,
                            is_integer=integer and integer_people,
                            name=f"x_{s.id}_{t}_{d}_{mode}",
                        )
                        x[(s.id, t, d, mode)] = v
                        arrivals[sc.arrival_day(s, d, mode)].append(v)
            out_today = [x[k] for k in ((s.id, t, d, md) for t in TIERS for md in (HEAVY, ROAD)) if k in x]
            if out_today:
                m.add_linear_constraint(
                    mathopt.fast_sum(out_today) <= s.handling, name=f"handling_{s.id}_{d}"
                )
            if heli_ok:
                seats = [sc.seat_cost(t) * x[(s.id, t, d, HEAVY)] for t in TIERS if (s.id, t, d, HEAVY) in x]
                if seats:
                    m.add_linear_constraint(
                        mathopt.fast_sum(seats) <= sc.rules.seats_per_sortie * f[(s.id, d)],
                        name=f"seats_{s.id}_{d}",
                    )
                if (s.id, 1, d, HEAVY) in x:
                    m.add_linear_constraint(
                        x[(s.id, 1, d, HEAVY)] <= sc.rules.max_tier1_per_sortie * f[(s.id, d)],
                        name=f"t1h_{s.id}_{d}",
                    )
            if road_ok:
                cap = sc.convoys.buses * sc.convoys.bus_seats
                seats = [sc.seat_cost(t) * x[(s.id, t, d, ROAD)] for t in TIERS if (s.id, t, d, ROAD) in x]
                if seats:
                    m.add_linear_constraint(
                        mathopt.fast_sum(seats) <= cap * c[(s.id, d)], name=f"bus_{s.id}_{d}"
                    )
                if (s.id, 1, d, ROAD) in x:
                    m.add_linear_constraint(
                        x[(s.id, 1, d, ROAD)] <= sc.rules.max_tier1_per_bus * sc.convoys.buses * c[(s.id, d)],
                        name=f"t1c_{s.id}_{d}",
                    )
        for t in TIERS:
            if pop[t] == 0:
                continue
            before: mathopt.Variable | float = float(pop[t])
            for d in days:
                r = m.add_variable(lb=0, ub=pop[t], name=f"R_{s.id}_{t}_{d}")
                R[(s.id, t, d)] = r
                leaving = [x[k] for k in ((s.id, t, d, HEAVY), (s.id, t, d, ROAD)) if k in x]
                m.add_linear_constraint(r == before - mathopt.fast_sum(leaving), name=f"flow_{s.id}_{t}_{d}")
                objective.append((w[t] * s.danger[d] + EPS_PERSON_DAY) * r)
                before = r
            if isinstance(before, mathopt.Variable):
                objective.append(w[t] * sc.rules.terminal_weight * s.danger[D - 1] * before)
                if sc.rules.require_all_moved:
                    m.add_linear_constraint(before <= 0, name=f"all_moved_{s.id}_{t}")

    for d in days:
        cs = [c[k] for k in ((s.id, d) for s in sites) if k in c]
        if cs:
            m.add_linear_constraint(mathopt.fast_sum(cs) <= sc.convoys.per_day[d], name=f"convoys_{d}")
        arr = arrivals.get(d, [])
        room = sc.receiving.intake[d] - state.intake_reserved.get(d, 0)
        if arr:
            m.add_linear_constraint(mathopt.fast_sum(arr) <= max(room, 0), name=f"intake_{d}")

    m.minimize(mathopt.fast_sum(objective))
    highs = highs_pb2.HighsOptionsProto()
    # Two cores are shared by the whole team; HiGHS takes its thread count from its own options.
    highs.int_options["threads"] = 1
    highs.string_options["parallel"] = "off"
    highs.double_options["mip_heuristic_effort"] = heuristic_effort
    params = mathopt.SolveParameters(
        time_limit=datetime.timedelta(seconds=max(time_limit, 0.5)),
        relative_gap_tolerance=rel_gap,
        enable_output=log,
        highs=highs,
    )
    # With a fallback to guard, HiGHS gets most of the budget first; the fallback runs only when its
    # answer is missing or poor (a busy machine, a short time limit). Measured idle at real scale, a
    # fallback run up front cost up to 10 s of the budget for a solution HiGHS then beat every time.
    guard = integer and warm_start and bool(n)
    if guard:
        params.time_limit = datetime.timedelta(seconds=max(1.0, time_limit * 0.8))
    result = mathopt.solve(m, mathopt.SolverType.HIGHS, params=params)
    reason = result.termination.reason
    if reason == mathopt.TerminationReason.INFEASIBLE:
        raise AggregateInfeasible("the aggregate programme has no feasible solution")
    fallback: dict | None = None
    fallback_cost = math.inf
    if guard and _poor(result):
        left = max(1.0, time_limit - (time.monotonic() - t0))
        params.time_limit = datetime.timedelta(seconds=left)
        fallback, fallback_cost = _restricted_patterns(m, params, n, f, c, sc, days, pats, types, hv)
    # The fallback is not passed to HiGHS as a hint: measured, HiGHS then stayed on it for the whole
    # time limit instead of finding the optimum it finds unaided.
    if not result.has_primal_feasible_solution() and fallback is None:
        raise AggregateInfeasible(
            f"no feasible plan found within the time limit ({result.termination.detail})"
        )
    status = reason.name.lower()
    if result.has_primal_feasible_solution() and result.objective_value() <= fallback_cost:
        values = result.variable_values()
        cost = result.objective_value()
    else:
        # HiGHS's own incumbent is worse than the fallback's (a busy machine, a short time limit):
        # keep the fallback's.
        assert fallback is not None
        values, cost, status = fallback, fallback_cost, "lp-patterns"
    xv = [values[v] for v in x.values()]
    moves = {k: int(math.floor(v + 1e-6)) if integer else v for k, v in zip(x.keys(), xv, strict=True)}
    moves = {k: v for k, v in moves.items() if v > 1e-9}
    fv = {k: values[v] for k, v in f.items()}
    cv = {k: values[v] for k, v in c.items()}
    nv = {k: values[v] for k, v in n.items()}
    pat_out: dict[tuple[int, int], list[tuple[tuple[str, ...], int]]] = defaultdict(list)
    pat_counts: dict[tuple[int, int, int], int] = {}
    if integer:
        for (k, d, p_i), v in nv.items():
            cnt = int(round(v))
            if cnt:
                pat_out[(k, d)].append((tuple(sites[i].id for i in pats[k][p_i]), cnt))
                pat_counts[(k, d, p_i)] = cnt
    sorties_out = {k: int(round(v)) for k, v in fv.items() if v > 0.5} if integer else fv
    convoys_out = {k: int(round(v)) for k, v in cv.items() if v > 0.5} if integer else cv
    if integer:
        fill_up(sc, state, moves, sorties_out, convoys_out)
    bound = result.termination.objective_bounds.dual_bound
    if relax or not math.isfinite(bound):
        bound = cost if relax else 0.0
    return Aggregate(
        first_day=state.first_day,
        moves=moves,
        sorties=sorties_out,
        convoys=convoys_out,
        patterns=dict(pat_out),
        cost=cost,
        bound=bound,
        status=status,
        seconds=time.monotonic() - t0,
        relaxed=relax,
        variables=m.get_num_variables(),
        constraints=m.get_num_linear_constraints(),
        pattern_counts=pat_counts,
    )


def fill_up(
    sc: Scenario,
    state: State,
    moves: dict[tuple[str, int, int, str], int],
    sorties: dict[tuple[str, int], int],
    convoys: dict[tuple[str, int], int],
) -> None:
    """Round-down repair: fill seats the rounded-down counts left empty, day by day, with whoever
    is worth most (weight x danger still to come), within every limit of the programme."""
    D = sc.horizon_days
    left = dict(state.remaining)
    for (s_id, t, _d, _m), k in moves.items():
        left[(s_id, t)] = left.get((s_id, t), 0) - k
    arrivals: dict[int, int] = defaultdict(int)
    for d, k in state.intake_reserved.items():
        arrivals[d] += k
    for (s_id, _t, d, mode), k in moves.items():
        arrivals[sc.arrival_day(sc.site_index[s_id], d, mode)] += k
    future = {
        s.id: [sum(s.danger[d:]) + sc.rules.terminal_weight * s.danger[-1] for d in range(D)]
        for s in sc.sites
    }
    for d in range(state.first_day, D):
        for s in sc.sites:
            out_today = sum(moves.get((s.id, t, d, md), 0) for t in TIERS for md in (HEAVY, ROAD))
            for mode, vehicles, cap, t1cap in (
                (HEAVY, sorties.get((s.id, d), 0), sc.rules.seats_per_sortie, sc.rules.max_tier1_per_sortie),
                (
                    ROAD,
                    convoys.get((s.id, d), 0),
                    sc.convoys.buses * sc.convoys.bus_seats,
                    sc.rules.max_tier1_per_bus * sc.convoys.buses,
                ),
            ):
                if not vehicles:
                    continue
                arr = sc.arrival_day(s, d, mode)
                seats = vehicles * cap - sum(
                    sc.seat_cost(t) * moves.get((s.id, t, d, mode), 0) for t in TIERS
                )
                t1room = vehicles * t1cap - moves.get((s.id, 1, d, mode), 0)
                for t in sorted(TIERS, key=lambda t: -sc.weights[t] * future[s.id][d]):
                    room = min(
                        left.get((s.id, t), 0),
                        seats // sc.seat_cost(t),
                        s.handling - out_today,
                        sc.receiving.intake[arr] - arrivals[arr],
                    )
                    if t == 1:
                        room = min(room, t1room)
                    if room <= 0:
                        continue
                    moves[(s.id, t, d, mode)] = moves.get((s.id, t, d, mode), 0) + room
                    left[(s.id, t)] -= room
                    seats -= room * sc.seat_cost(t)
                    out_today += room
                    arrivals[arr] += room
                    if t == 1:
                        t1room -= room


def _poor(result: mathopt.SolveResult, gap: float = 0.01) -> bool:
    """No incumbent, or one further than `gap` from HiGHS's own bound."""
    if not result.has_primal_feasible_solution():
        return True
    bound = result.termination.objective_bounds.dual_bound
    value = result.objective_value()
    return not math.isfinite(bound) or value - bound > gap * max(abs(value), 1e-9)


def _restricted_patterns(
    m: mathopt.Model,
    params: mathopt.SolveParameters,
    n: dict[tuple[int, int, int], mathopt.Variable],
    f: dict[tuple[str, int], mathopt.Variable],
    c: dict[tuple[str, int], mathopt.Variable],
    sc: Scenario,
    days: range,
    pats: list[list[tuple[int, ...]]],
    types: list[AirframeType],
    hv: dict,
) -> tuple[dict | None, float]:
    """A feasible solution from the LP relaxation when HiGHS has none (or a poor one): the programme
    restricted to the airframe patterns the LP uses (price-and-branch). Far fewer integer columns, so
    HiGHS settles it quickly. Guards against HiGHS returning a poor incumbent at its time limit on the
    full programme."""
    t0 = time.monotonic()
    ints = [v for v in m.variables() if v.integer]
    for v in ints:
        v.integer = False
    saved = {var: (var.lower_bound, var.upper_bound) for var in n.values()}
    try:
        lp = mathopt.solve(
            m,
            mathopt.SolverType.HIGHS,
            params=mathopt.SolveParameters(time_limit=params.time_limit, highs=params.highs),
        )
        if not lp.has_primal_feasible_solution():
            return None, math.inf
        val = lp.variable_values()
        for var in n.values():
            if val[var] < 1e-6:
                var.upper_bound = 0
        for v in ints:
            v.integer = True
        left = max(0.5, params.time_limit.total_seconds() - (time.monotonic() - t0))
        fix_params = mathopt.SolveParameters(
            time_limit=datetime.timedelta(seconds=left), relative_gap_tolerance=0.005, highs=params.highs
        )
        restricted = mathopt.solve(m, mathopt.SolverType.HIGHS, params=fix_params)
        if not restricted.has_primal_feasible_solution():
            return None, math.inf
        return restricted.variable_values(), restricted.objective_value()
    finally:
        for var, (lo, hi) in saved.items():
            var.lower_bound, var.upper_bound = lo, hi
        for v in ints:
            v.integer = True
