from __future__ import annotations

import itertools
from collections import Counter

from custody.engines import planner
from custody.engines.planner import aggregate as ag

from .conftest import build, tiny_dict


def _fits(sc: planner.Scenario, at: ag.AirframeType, combo: tuple[int, ...]) -> bool:
    return len(combo) <= at.max_sorties and sum(ag.blocks(sc.sites[i]) for i in combo) <= at.hour_blocks


def test_patterns_are_exactly_the_maximal_feasible_airframe_days() -> None:
    sc = planner.generate("real", 3)
    for at in ag.airframe_types(sc):
        got = set(ag.patterns(sc, at))
        n = len(sc.sites)
        feasible = {
            c for k in range(1, at.max_sorties + 1)
            for c in itertools.combinations_with_replacement(range(n), k) if _fits(sc, at, c)
        }
        maximal = {c for c in feasible if not any(_fits(sc, at, tuple(sorted((*c, j)))) for j in range(n))}
        assert got == maximal and got


def test_each_airframe_day_is_modelled_exactly_not_by_pooled_fleet_hours() -> None:
    # Two airframes with 3 h each and a 2 h round trip: each can fly ONE sortie a day. Pooled fleet
    # hours (6 h) would allow three; the exact model must plan at most two and the plan must be flyable.
    data = tiny_dict(days=3, people_per_site=200, sites=1)
    data["helicopters"] = [
        {"id": f"H{h}", "available": [True] * 3, "max_sorties": 3, "max_hours": 3.0} for h in (1, 2)
    ]
    data["convoys"]["per_day"] = [0, 0, 0]
    data["sites"][0]["lz_sorties"] = 9
    data["receiving"]["intake"] = [200] * 3
    sc = build(data)
    agg = ag.solve(sc, time_limit=20)
    assert all(k <= 2 for k in agg.sorties.values())
    assert sum(agg.sorties.values()) == 6
    plan = planner.make_plan(sc, time_limit=20)
    assert planner.check(sc, plan) == []
    per_frame_day = Counter((v.airframe, v.day) for v in plan.vehicles)
    assert max(per_frame_day.values()) == 1


def test_bounds_are_ordered_lp_below_solver_bound_below_plan() -> None:
    sc = build(tiny_dict())
    lp, _ = planner.lower_bound(sc)
    mip = ag.solve(sc, time_limit=20, rel_gap=1e-6)
    assert lp <= mip.bound + 1e-6 <= mip.cost + 2e-6
    assert mip.status == "optimal"


def test_highest_weight_times_danger_leaves_first_when_capacity_is_short() -> None:
    # Intake of 14 on the only useful day: all 9 tier-1 (weight 10) go, then 5 of tier 2, no tier 3.
    data = tiny_dict(days=2, people_per_site=60, sites=1)
    data["receiving"]["intake"] = [14, 0]
    data["convoys"]["per_day"] = [0, 0]
    data["keep_apart"] = []
    sc = build(data)
    agg = ag.solve(sc, time_limit=20, rel_gap=1e-6)
    day0 = {t: agg.moves.get(("S1", t, 0, "heli"), 0) for t in (1, 2, 3)}
    assert sum(1 for p in sc.people if p.tier == 1) == 9
    assert day0 == {1: 9, 2: 5, 3: 0}
    # Nine tier-1 at four per sortie need three sorties.
    assert agg.sorties[("S1", 0)] == 3
