"""Infeasibility in words: which constraint makes a scenario impossible, said before any solver runs.

A solver status code tells a commander nothing. These checks name the site, the people and the limit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .aggregate import airframe_types, blocks
from .scenario import Person, Scenario, Site


@dataclass(frozen=True)
class Finding:
    constraint: str  # a stable key: reach, keep-apart, seats, intake, capacity, family
    where: str
    message: str


class Infeasible(Exception):
    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.message for f in findings))
        self.findings = findings


def _heli_reach(sc: Scenario, s: Site, d: int) -> int:
    """Sorties the fleet could fly to s on day d on its own (ignoring other sites)."""
    if s.lz_sorties <= 0 or s.handling <= 0 or sc.receiving.intake[d] <= 0:
        return 0
    total = 0
    for at in airframe_types(sc):
        per_frame = min(at.max_sorties, at.hour_blocks // blocks(s))
        avail = sum(1 for h in sc.helicopters if h.id in at.members and h.available[d])
        total += per_frame * avail
    return min(total, s.lz_sorties)


def _road_reach(sc: Scenario, s: Site, d: int) -> int:
    """Buses that could leave s on day d."""
    if not sc.road_usable(s, d) or s.handling <= 0 or sc.convoys.bus_seats <= 0:
        return 0
    if sc.receiving.intake[sc.arrival_day(s, d, "convoy")] <= 0:
        return 0
    return sc.convoys.per_day[d] * sc.convoys.buses


def _why_unreachable(sc: Scenario, s: Site) -> str:
    why = []
    if s.handling <= 0:
        why.append("it can process no departures (handling 0)")
    if s.lz_sorties <= 0:
        why.append("its landing zone takes no sorties")
    else:
        longest = max((h.max_hours for h in sc.helicopters), default=0.0)
        if not sc.helicopters:
            why.append("there are no helicopters")
        elif all(blocks(s) * 15 > h.max_hours * 60 for h in sc.helicopters):
            why.append(f"its {s.round_trip_minutes} min round trip exceeds every helicopter's day ({longest:g} h at most)")
        else:
            why.append("no helicopter able to fly there is available on any day")
    if not any(s.road_open):
        why.append("its road is never open")
    elif not any(sc.road_usable(s, d) and sc.convoys.per_day[d] > 0 for d in range(sc.horizon_days)):
        why.append("no convoy can be mounted on any day its road is open")
    return ", ".join(why)


def _big_clique(ids: list[str], adj: dict[str, set[str]]) -> list[str]:
    """A large clique of the keep-apart graph, greedily: a lower bound on the vehicles needed."""
    best: list[str] = []
    for start in sorted(ids, key=lambda i: -len(adj[i]))[:200]:
        clique = [start]
        cands = set(adj[start])
        while cands:
            nxt = max(sorted(cands), key=lambda i: len(adj[i] & cands))
            clique.append(nxt)
            cands &= adj[nxt]
        if len(clique) > len(best):
            best = clique
    return best


def diagnose(sc: Scenario, people: list[Person] | None = None) -> list[Finding]:
    people = sc.movable if people is None else people
    findings: list[Finding] = []
    at_site: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        at_site[p.site].append(p)
    D = range(sc.horizon_days)
    for s in sc.sites:
        here = at_site.get(s.id, [])
        if not here:
            continue
        vehicles = sum(_heli_reach(sc, s, d) + _road_reach(sc, s, d) for d in D)
        if vehicles == 0:
            findings.append(Finding("reach", s.id, f"Site {s.id} ({s.name}) holds {len(here)} people but no vehicle can reach it: {_why_unreachable(sc, s)}."))
            continue
        ids = {p.id for p in here}
        adj = {p.id: sc.partners.get(p.id, set()) & ids for p in here}
        clique = _big_clique([i for i in ids if adj[i]], adj) if any(adj.values()) else []
        if len(clique) > vehicles:
            findings.append(Finding(
                "keep-apart", s.id,
                f"At site {s.id} ({s.name}) {len(clique)} people must each travel on a different vehicle "
                f"(keep-apart pairs among {', '.join(sorted(clique)[:8])}{'...' if len(clique) > 8 else ''}), "
                f"but at most {vehicles} vehicles can leave that site over the horizon.",
            ))
        if any(p.tier == 1 for p in here) and sc.rules.max_tier1_per_sortie == 0 and sc.rules.max_tier1_per_bus == 0:
            findings.append(Finding("seats", s.id, f"Site {s.id} holds tier-1 detainees but the rules allow no tier-1 on any vehicle."))
        if sc.rules.tier1_seats > max(sc.rules.seats_per_sortie, sc.convoys.bus_seats) and any(p.tier == 1 for p in here):
            findings.append(Finding("seats", s.id, f"A tier-1 detainee needs {sc.rules.tier1_seats} seats; no vehicle has that many."))
        if sc.rules.families_whole:
            fams: dict[str, int] = defaultdict(int)
            for p in here:
                if p.family:
                    fams[p.family] += sc.seat_cost(p.tier)
            biggest = max(sc.rules.seats_per_sortie, sc.convoys.bus_seats if any(_road_reach(sc, s, d) for d in D) else 0)
            for fid, need in sorted(fams.items()):
                if need > biggest:
                    findings.append(Finding("family", fid, f"Family {fid} at {s.id} needs {need} seats together; the largest vehicle that can reach the site has {biggest}."))
        if sc.rules.require_all_moved:
            cap = sum(
                min(s.handling, _heli_reach(sc, s, d) * sc.rules.seats_per_sortie + _road_reach(sc, s, d) * sc.convoys.bus_seats)
                for d in D
            )
            if cap < len(here):
                findings.append(Finding("capacity", s.id, f"Everyone must be moved, but at most {cap} of the {len(here)} people at {s.id} ({s.name}) can leave within the horizon (handling, landing zone, helicopters and road together)."))
    if sc.rules.require_all_moved:
        total = sum(sc.receiving.intake)
        if total < len(people):
            findings.append(Finding("intake", sc.receiving.name, f"Everyone must be moved, but the receiving facility can take in {total} people over the horizon and {len(people)} are to be moved."))
    return findings
