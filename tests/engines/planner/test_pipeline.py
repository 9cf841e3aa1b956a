from __future__ import annotations

import copy

import pytest

from custody.engines import planner

from .conftest import build, tiny_dict


@pytest.fixture(scope="module")
def small() -> tuple[planner.Scenario, planner.Plan]:
    sc = planner.generate("small", 5)
    return sc, planner.make_plan(sc, time_limit=30)


def test_small_plan_is_valid_near_the_bound_and_beats_greedy(small) -> None:
    sc, plan = small
    assert planner.check(sc, plan) == []
    s = plan.summary
    assert s["lower_bound"] <= s["cost"]
    assert s["gap"] < 0.05
    assert s["cost"] < s["greedy_cost"] < s["do_nothing_exposure"]
    # Every movable person is either on exactly one manifest or listed as not moved with a reason.
    on_board = [pid for v in plan.vehicles for pid in v.manifest]
    assert len(on_board) == len(set(on_board))
    left = {u["person"] for u in plan.unmoved if not u["reason"].startswith("excluded")}
    assert set(on_board) | left == {p.id for p in sc.movable}
    assert all(u["reason"] for u in plan.unmoved)


def test_manifests_obey_keep_apart_faction_and_family_rules(small) -> None:
    sc, plan = small
    index = sc.person_index
    for v in plan.vehicles:
        on = set(v.manifest)
        assert not any(a in on and b in on for a, b in sc.keep_apart)
        assert len({index[p].faction for p in on if index[p].tier == 1}) <= 1
    families = {}
    for v in plan.vehicles:
        for p in v.manifest:
            if index[p].family:
                families.setdefault(index[p].family, set()).add(v.id)
    assert families and all(len(vs) == 1 for vs in families.values())


def test_replan_keeps_what_was_flown_and_avoids_a_grounded_airframe(small) -> None:
    sc, plan = small
    flown = [v for v in plan.vehicles if v.day < 3]
    used = [v.airframe for v in plan.vehicles if v.day == 3 and v.airframe]
    assert used, "the plan flies on day 3"
    grounded = used[0]
    data = planner.to_dict(sc)
    for h in data["helicopters"]:
        if h["id"] == grounded:
            h["available"][3] = False
    changed = planner.from_dict(data)
    new = planner.replan(changed, flown, 3, time_limit=20)
    kept = [v for v in new.vehicles if v.day < 3]
    assert [(v.id, v.manifest) for v in kept] == [(v.id, v.manifest) for v in flown]
    assert not any(v.airframe == grounded and v.day == 3 for v in new.vehicles)
    new.scenario_digest = changed.digest()
    assert planner.check(changed, new) == []


def test_unreachable_site_is_explained_in_words() -> None:
    data = tiny_dict()
    data["sites"][1]["lz_sorties"] = 0
    data["sites"][1]["road_open"] = [False] * 5
    with pytest.raises(planner.Infeasible) as err:
        planner.make_plan(build(data), time_limit=10)
    (f,) = err.value.findings
    assert f.constraint == "reach" and f.where == "S2"
    assert "landing zone takes no sorties" in f.message and "road is never open" in f.message


def test_more_keep_apart_conflicts_than_vehicles_is_explained() -> None:
    data = tiny_dict(days=1, people_per_site=12, sites=1)
    data["convoys"]["per_day"] = [0]
    data["sites"][0]["lz_sorties"] = 2
    ids = [p["id"] for p in data["people"][:4]]
    data["keep_apart"] = [[a, b] for i, a in enumerate(ids) for b in ids[i + 1:]]
    with pytest.raises(planner.Infeasible) as err:
        planner.make_plan(build(data), time_limit=10)
    assert [f.constraint for f in err.value.findings] == ["keep-apart"]
    assert "4 people must each travel on a different vehicle" in err.value.findings[0].message
    assert "at most 2 vehicles" in err.value.findings[0].message


def test_everyone_moved_rule_beyond_intake_names_the_intake() -> None:
    data = tiny_dict()
    data["rules"]["require_all_moved"] = True
    data["receiving"]["intake"] = [20] * 5
    with pytest.raises(planner.Infeasible) as err:
        planner.make_plan(build(data), time_limit=10)
    assert "intake" in [f.constraint for f in err.value.findings]


def test_checker_names_each_violation(small) -> None:
    sc, plan = small
    bad = copy.deepcopy(plan)
    index = sc.person_index
    heli = [v for v in bad.vehicles if v.mode == "heli"]
    bus = [v for v in bad.vehicles if v.mode == "convoy"]
    # A person moved twice.
    heli[1].manifest.append(heli[0].manifest[0])
    # A keep-apart pair put together.
    a, b = next((a, b) for a, b in sc.keep_apart if index[a].site == heli[2].site)
    for v in bad.vehicles:
        v.manifest = [p for p in v.manifest if p not in (a, b)]
    heli[2].manifest[:0] = [a, b]
    # A convoy on a day its road is closed.
    closed = next(((s, d) for s in sc.sites for d in range(sc.horizon_days) if not s.road_open[d]), None)
    if closed and bus:
        bus[0].day, bus[0].site = closed[1], closed[0].id
        bus[0].manifest = []
    # An airframe flown beyond its day.
    for _ in range(5):
        bad.vehicles.append(planner.Vehicle(id="extra", day=heli[3].day, site=heli[3].site, mode="heli",
                                            airframe=heli[3].airframe))
    rules = {v.rule for v in planner.check(sc, bad)}
    assert {"moved-twice", "keep-apart", "airframe", "figures"} <= rules
    if closed and bus:
        assert "road" in rules
