"""Air-tasking for a day, and manifest packing for one site and day with CP-SAT.

Packing is aggregated: everyone without a keep-apart partner still at the site is interchangeable
within (tier, faction, minor), so each such class gets one integer per vehicle. Only people with a
partner present (and whole families, when families travel whole) get a decision of their own. That
keeps a site-day model small whatever the site's population.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from .aggregate import Aggregate, airframe_types
from .plan import Vehicle
from .scenario import HEAVY, ROAD, TIERS, Person, Scenario


def air_tasking(sc: Scenario, agg: Aggregate, day: int) -> dict[str, list[str]]:
    """Give each planned sortie of `day` a real airframe. Returns site -> airframe per sortie.

    The aggregate chose how many airframes of each type fly each pattern, so assigning patterns to
    the type's available airframes one by one always succeeds and respects every airframe's limits.
    """
    hv = {h.id: h for h in sc.helicopters}
    slots: dict[str, list[str]] = defaultdict(list)  # site -> airframes able to fly one more sortie there
    for k, at in enumerate(airframe_types(sc)):
        frames = [hid for hid in at.members if hv[hid].available[day]]
        i = 0
        for sites, count in agg.patterns.get((k, day), []):
            for _ in range(count):
                if i >= len(frames):
                    raise RuntimeError(f"day {day}: more patterns than available airframes of type {k}")
                for sid in sites:
                    slots[sid].append(frames[i])
                i += 1
    out: dict[str, list[str]] = {}
    for (sid, d), need in agg.sorties.items():
        if d != day or need <= 0:
            continue
        if len(slots[sid]) < need:
            raise RuntimeError(f"day {day}: site {sid} needs {need} sorties, patterns give {len(slots[sid])}")
        out[sid] = slots[sid][:need]
    return out


@dataclass
class Packed:
    vehicles: list[Vehicle]
    moved: dict[tuple[int, str], int]  # (tier, mode) -> people
    shortfall: dict[tuple[int, str], int]
    status: str
    seconds: float
    reasons: list[str] = field(default_factory=list)


def pack_site_day(
    sc: Scenario,
    site_id: str,
    day: int,
    present: list[Person],
    planned: dict[tuple[int, str], int],
    airframes: list[str],
    convoys: int,
    *,
    time_limit: float = 10.0,
) -> Packed:
    t0 = time.monotonic()
    rules = sc.rules
    present_ids = {p.id for p in present}
    # Vehicles: (mode, capacity, tier-1 limit, airframe, convoy index)
    vehicles: list[tuple[str, int, int, str | None, int | None]] = [
        (HEAVY, rules.seats_per_sortie, rules.max_tier1_per_sortie, a, None) for a in airframes
    ]
    for c in range(convoys):
        vehicles += [(ROAD, sc.convoys.bus_seats, rules.max_tier1_per_bus, None, c)] * sc.convoys.buses
    V = range(len(vehicles))
    room: dict[str, int] = defaultdict(int)  # people the programme sends by each mode
    for (_, mode), k in planned.items():
        room[mode] += max(k, 0)

    # Units with their own decisions: families (when they travel whole) and people whose keep-apart
    # partner is still at this site. Everyone else is counted by class.
    families: dict[str, list[Person]] = defaultdict(list)
    singles: list[Person] = []
    classes: dict[tuple[int, str, bool], list[Person]] = defaultdict(list)
    for p in present:
        if rules.families_whole and p.family:
            families[p.family].append(p)
        elif sc.partners.get(p.id, set()) & present_ids:
            singles.append(p)
        else:
            classes[(p.tier, p.faction, p.minor)].append(p)
    for members in classes.values():
        members.sort(key=lambda p: p.id)

    m = cp_model.CpModel()
    z: dict[tuple[tuple[int, str, bool], int], cp_model.IntVar] = {}
    b: dict[tuple[str, int], cp_model.IntVar] = {}
    fam: dict[tuple[str, int], cp_model.IntVar] = {}
    seats: dict[int, list] = defaultdict(list)
    t1: dict[tuple[int, str], list] = defaultdict(list)  # (vehicle, faction) -> tier-1 terms
    minors: dict[int, list] = defaultdict(list)
    adults: dict[int, list] = defaultdict(list)
    by_tier_mode: dict[tuple[int, str], list] = defaultdict(list)
    for key, members in classes.items():
        tier, faction, minor = key
        cost = sc.seat_cost(tier)
        for v in V:
            mode, cap, t1max, _, _ = vehicles[v]
            if room.get(mode, 0) <= 0:
                continue
            ub = min(len(members), cap // cost, t1max if tier == 1 else cap)
            if ub <= 0:
                continue
            var = m.new_int_var(0, ub, f"z{tier}{faction}{int(minor)}_{v}")
            z[(key, v)] = var
            seats[v].append(cost * var)
            (minors if minor else adults)[v].append(var)
            if tier == 1:
                t1[(v, faction)].append(var)
            by_tier_mode[(tier, mode)].append(var)
        vs = [z[(key, v)] for v in V if (key, v) in z]
        if vs:
            m.add(sum(vs) <= len(members))
    for p in singles:
        cost = sc.seat_cost(p.tier)
        mine = []
        for v in V:
            mode, cap, t1max, _, _ = vehicles[v]
            if room.get(mode, 0) <= 0 or cost > cap or (p.tier == 1 and t1max == 0):
                continue
            var = m.new_bool_var(f"b{p.id}_{v}")
            b[(p.id, v)] = var
            mine.append(var)
            seats[v].append(cost * var)
            (minors if p.minor else adults)[v].append(var)
            if p.tier == 1:
                t1[(v, p.faction)].append(var)
            by_tier_mode[(p.tier, mode)].append(var)
        if mine:
            m.add_at_most_one(mine)
    for a, c in sc.keep_apart:
        for v in V:
            if (a, v) in b and (c, v) in b:
                m.add(b[(a, v)] + b[(c, v)] <= 1)
    fam_on: dict[int, list] = defaultdict(list)
    for fid, members in families.items():
        cost = sum(sc.seat_cost(p.tier) for p in members)
        mine = []
        for v in V:
            mode, cap, t1max, _, _ = vehicles[v]
            tiers = defaultdict(int)
            for p in members:
                tiers[p.tier] += 1
            if cost > cap or room.get(mode, 0) <= 0 or tiers.get(1, 0) > t1max:
                continue
            var = m.new_bool_var(f"f{fid}_{v}")
            fam[(fid, v)] = var
            mine.append(var)
            fam_on[v].append(var)
            seats[v].append(cost * var)
            for t, k in tiers.items():
                by_tier_mode[(t, mode)].append(k * var)
            for p in members:
                if p.tier == 1:
                    t1[(v, p.faction)].append(var)
        if mine:
            m.add_at_most_one(mine)

    load: dict[int, cp_model.LinearExpr] = {}
    for v in V:
        mode, cap, t1max, _, _ = vehicles[v]
        load[v] = sum(seats[v]) if seats[v] else 0
        if seats[v]:
            m.add(load[v] <= cap)
        factions = sorted({f for (vv, f) in t1 if vv == v})
        if factions:
            use = {f: m.new_bool_var(f"y{v}{f}") for f in factions}
            m.add_at_most_one(use.values())
            for f in factions:
                m.add(sum(t1[(v, f)]) <= t1max * use[f])
        # A vehicle carrying minors (outside a family) carries only minors.
        if rules.minors == "separate" and minors[v] and adults[v]:
            mv = m.new_bool_var(f"minor{v}")
            m.add(sum(minors[v]) <= cap * mv)
            m.add(sum(adults[v]) <= cap * (1 - mv))
        if fam_on[v] and (minors[v] or adults[v]):
            fv = m.new_bool_var(f"fam{v}")
            m.add(sum(fam_on[v]) <= len(fam_on[v]) * fv)
            m.add(sum(minors[v]) + sum(adults[v]) <= cap * (1 - fv))
    # Identical vehicles in a row (sorties, or buses) are interchangeable: order them by load.
    for v in V[:-1]:
        if vehicles[v][0] == vehicles[v + 1][0] and seats[v] and seats[v + 1]:
            m.add(load[v] >= load[v + 1])
    # First fill the places the programme planned, tier by tier. Places a tier cannot fill (tier-1
    # faction fragments, keep-apart pairs) then go to anyone else at the site who fits the vehicles:
    # the day's handling and intake are spent either way (the total per mode stays as planned), and
    # moving someone earlier never makes the rest of the plan worse. Wasted places were measured as
    # most of the loss between programme and plan.
    gain: list = []
    per_mode: dict[str, list] = defaultdict(list)
    first = sum(planned.values()) + 1
    for (tier, mode), terms in by_tier_mode.items():
        moved_tm = sum(terms)
        per_mode[mode].append(moved_tm)
        w = int(sc.weights[tier] * 1000)
        if planned.get((tier, mode), 0) > 0:
            kept = m.new_int_var(0, planned[(tier, mode)], f"a{tier}{mode}")
            m.add(kept <= moved_tm)
            gain.append(w * first * kept)
        gain.append(w * moved_tm)
    for mode, terms in per_mode.items():
        m.add(sum(terms) <= room[mode])
    m.maximize(sum(gain) if gain else 0)

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.random_seed = 1
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Nothing feasible in time: move nobody from this site today; the re-plan takes it from here.
        return Packed(
            [],
            {},
            dict(planned),
            solver.status_name(status).lower(),
            time.monotonic() - t0,
            [f"{site_id} day {day}: packing found no manifest ({solver.status_name(status)})"],
        )

    pools = {key: list(members) for key, members in classes.items()}
    out: list[Vehicle] = []
    moved: dict[tuple[int, str], int] = defaultdict(int)
    convoy_ids = {}
    for v in V:
        mode, _, _, airframe, conv = vehicles[v]
        manifest: list[str] = []
        for key in classes:
            if (key, v) in z:
                k = solver.value(z[(key, v)])
                manifest += [p.id for p in pools[key][:k]]
                del pools[key][:k]
        manifest += [p.id for p in singles if (p.id, v) in b and solver.value(b[(p.id, v)])]
        for fid, members in families.items():
            if (fid, v) in fam and solver.value(fam[(fid, v)]):
                manifest += [p.id for p in members]
        if not manifest:
            continue
        for pid in manifest:
            moved[(sc.person_index[pid].tier, mode)] += 1
        if mode == HEAVY:
            vid = f"D{day:02d}-{site_id}-{airframe}-{sum(1 for o in out if o.mode == HEAVY) + 1}"
            out.append(
                Vehicle(id=vid, day=day, site=site_id, mode=HEAVY, airframe=airframe, manifest=manifest)
            )
        else:
            cid = convoy_ids.setdefault(conv, f"D{day:02d}-{site_id}-C{conv + 1}")
            nb = sum(1 for o in out if o.convoy == cid) + 1
            out.append(
                Vehicle(id=f"{cid}-B{nb}", day=day, site=site_id, mode=ROAD, convoy=cid, manifest=manifest)
            )
    shortfall = {}
    for key, k in planned.items():
        if moved.get(key, 0) < k:
            shortfall[key] = k - moved.get(key, 0)
    reasons = []
    if shortfall:
        given = sum(max(k - planned.get(key, 0), 0) for key, k in moved.items())
        reasons.append(_explain_shortfall(sc, site_id, day, present, shortfall, singles, families, given))
    return Packed(
        out, dict(moved), shortfall, solver.status_name(status).lower(), time.monotonic() - t0, reasons
    )


def _explain_shortfall(
    sc: Scenario,
    site_id: str,
    day: int,
    present: list[Person],
    shortfall: dict[tuple[int, str], int],
    singles: list[Person],
    families: dict[str, list[Person]],
    given: int = 0,
) -> str:
    parts = []
    tiers = {t for t, _ in shortfall}
    if 1 in tiers and len({p.faction for p in present if p.tier == 1}) > 1:
        parts.append("tier-1 detainees of several factions cannot share the planned vehicles")
    if singles:
        parts.append(f"{len(singles)} people have a keep-apart partner on site")
    if families:
        parts.append("families must travel whole on their own vehicles")
    if any(p.minor for p in present if not p.family):
        parts.append("minors need vehicles of their own")
    n = sum(shortfall.values())
    why = "; ".join(parts) or "the planned seats cannot be filled under the vehicle rules"
    out = f"{site_id} day {day}: {n} planned places not filled by their tier ({why})"
    return out + (f"; {given} of them given to others at the site" if given else "")


def count_tiers(sc: Scenario, people: list[Person]) -> dict[int, int]:
    out = {t: 0 for t in TIERS}
    for p in people:
        out[p.tier] += 1
    return out
