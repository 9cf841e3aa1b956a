from __future__ import annotations

from custody.engines.planner.packing import pack_site_day
from custody.engines.planner.scenario import HEAVY

from .conftest import build, tiny_dict


def test_places_a_tier_cannot_fill_go_to_others_at_the_site_within_the_planned_total() -> None:
    # Four tier-1 planned on one sortie, but the site's tier-1 are two of faction A and two of B:
    # one faction per vehicle leaves two tier-1 places empty. Those places (handling and intake are
    # spent either way) go to tier-3 people beyond the eight planned, never beyond the twelve in total.
    data = tiny_dict(days=2, people_per_site=0, sites=1)
    data["keep_apart"] = []
    data["people"] = [
        {"id": f"T1{f}{i}", "site": "S1", "tier": 1, "faction": f} for f in "AB" for i in range(2)
    ] + [{"id": f"T3{i:02d}", "site": "S1", "tier": 3, "faction": "A"} for i in range(30)]
    sc = build(data)
    present = [p for p in sc.people if p.site == "S1"]
    packed = pack_site_day(sc, "S1", 0, present, {(1, HEAVY): 4, (3, HEAVY): 8}, ["H1"], 0)

    assert packed.moved == {(1, HEAVY): 2, (3, HEAVY): 10}
    assert packed.shortfall == {(1, HEAVY): 2}
    (sortie,) = packed.vehicles
    tier1 = [sc.person_index[pid] for pid in sortie.manifest if sc.person_index[pid].tier == 1]
    assert len({p.faction for p in tier1}) == 1
    assert len(sortie.manifest) == 12 and len(set(sortie.manifest)) == 12
