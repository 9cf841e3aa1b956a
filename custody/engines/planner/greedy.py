"""The greedy baseline the issue asks for: each day, fill capacity from the highest weight x danger first.

It respects every aggregate limit (airframes one by one, landing zones, handling, roads, convoys,
intake, seats, tier-1 per vehicle), so its figure is a real plan's figure, printed beside the
optimiser's to show what optimisation buys.
"""

from __future__ import annotations

from .aggregate import blocks
from .plan import Vehicle
from .scenario import HEAVY, ROAD, TIERS, Scenario


def _fill(sc: Scenario, rem: dict[int, int], seats: int, max_t1: int, cap: int) -> dict[int, int]:
    """Seats from the heaviest tier down; `cap` is the people limit left by handling and intake."""
    out: dict[int, int] = {}
    for t in sorted(TIERS, key=lambda t: -sc.weights[t]):
        cost = sc.seat_cost(t)
        k = min(rem[t], seats // cost, cap)
        if t == 1:
            k = min(k, max_t1)
        if k > 0:
            out[t] = k
            seats -= k * cost
            cap -= k
    return out


def greedy(sc: Scenario) -> list[Vehicle]:
    D = sc.horizon_days
    rem = {s.id: {t: 0 for t in TIERS} for s in sc.sites}
    for (sid, t), k in sc.population().items():
        rem[sid][t] = k
    intake_left = list(sc.receiving.intake)
    vehicles: list[Vehicle] = []

    def priority(sid: str, d: int) -> float:
        return max((sc.weights[t] for t in TIERS if rem[sid][t] > 0), default=0.0) * sc.site_index[sid].danger[d]

    for d in range(D):
        handling = {s.id: s.handling for s in sc.sites}
        lz = {s.id: s.lz_sorties for s in sc.sites}
        frames = {h.id: [h.max_sorties, int(h.max_hours * 60 // 15)] for h in sc.helicopters if h.available[d]}
        seq = 0
        while intake_left[d] > 0:
            options = []
            for s in sc.sites:
                if sum(rem[s.id].values()) == 0 or handling[s.id] <= 0 or lz[s.id] <= 0:
                    continue
                able = [hid for hid, (k, b) in frames.items() if k > 0 and b >= blocks(s)]
                if able:
                    options.append((priority(s.id, d), s, able))
            if not options:
                break
            _, s, able = max(options, key=lambda o: (o[0], o[1].id))
            hid = max(able, key=lambda h: (frames[h][1], h))
            load = _fill(sc, rem[s.id], sc.rules.seats_per_sortie, sc.rules.max_tier1_per_sortie,
                         min(handling[s.id], intake_left[d]))
            if not load:
                break
            frames[hid][0] -= 1
            frames[hid][1] -= blocks(s)
            lz[s.id] -= 1
            seq += 1
            for t, k in load.items():
                rem[s.id][t] -= k
                handling[s.id] -= k
                intake_left[d] -= k
            vehicles.append(Vehicle(id=f"G{d}-{hid}-{seq}", day=d, site=s.id, mode=HEAVY, airframe=hid, counts=load))
        for c in range(sc.convoys.per_day[d]):
            options = []
            for s in sc.sites:
                arr = sc.arrival_day(s, d, ROAD)
                if sc.road_usable(s, d) and sum(rem[s.id].values()) and handling[s.id] > 0 and intake_left[arr] > 0:
                    options.append((priority(s.id, d), s, arr))
            if not options:
                break
            _, s, arr = max(options, key=lambda o: (o[0], o[1].id))
            cid = f"G{d}-C{c + 1}"
            for b in range(sc.convoys.buses):
                load = _fill(sc, rem[s.id], sc.convoys.bus_seats, sc.rules.max_tier1_per_bus,
                             min(handling[s.id], intake_left[arr]))
                if not load:
                    break
                for t, k in load.items():
                    rem[s.id][t] -= k
                    handling[s.id] -= k
                    intake_left[arr] -= k
                vehicles.append(Vehicle(id=f"{cid}-B{b + 1}", day=d, site=s.id, mode=ROAD, convoy=cid, counts=load))
    return vehicles
