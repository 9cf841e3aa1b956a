"""The independent checker: re-verifies every rule of a plan against its scenario and names each breach.

Deliberately shares no code with the optimiser beyond reading the two files: it recomputes limits from
the scenario's raw fields (minutes, not 15-minute blocks; seats, not model rows), so a bug in the model
cannot hide itself by being checked with the same bug.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from .plan import Plan
from .scenario import Scenario


@dataclass(frozen=True)
class Violation:
    rule: str  # seats, tier1, faction, keep-apart, airframe, landing-zone, handling, intake, road, convoys, ...
    where: str  # the vehicle, site-day or person concerned
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: {self.message}"


def check(sc: Scenario, plan: Plan, *, claims: bool = True) -> list[Violation]:
    out: list[Violation] = []
    add = out.append
    people = {p.id: p for p in sc.people}
    sites = {s.id: s for s in sc.sites}
    frames = {h.id: h for h in sc.helicopters}
    r = sc.rules
    D = sc.horizon_days
    seen: dict[str, str] = {}
    frame_day: dict[tuple[str, int], list[int]] = defaultdict(list)
    lz: dict[tuple[str, int], int] = defaultdict(int)
    departures: dict[tuple[str, int], int] = defaultdict(int)
    arrivals: dict[int, int] = defaultdict(int)
    convoys: dict[str, list] = defaultdict(list)
    pair_of = defaultdict(set)
    for a, b in sc.keep_apart:
        pair_of[a].add(b)
        pair_of[b].add(a)

    if plan.scenario_digest and plan.scenario_digest != sc.digest():
        add(Violation("scenario", "plan", f"plan was made for scenario digest {plan.scenario_digest}, this scenario is {sc.digest()}"))

    for v in plan.vehicles:
        where = v.id
        if not 0 <= v.day < D:
            add(Violation("horizon", where, f"day {v.day} is outside the horizon 0..{D - 1}"))
            continue
        site = sites.get(v.site)
        if site is None:
            add(Violation("site", where, f"unknown site {v.site!r}"))
            continue
        if v.mode not in ("heli", "convoy"):
            add(Violation("mode", where, f"unknown mode {v.mode!r}"))
            continue
        if v.counts and not v.manifest:
            add(Violation("manifest", where, "vehicle has counts but no manifest of named people"))
        tier1 = [people[p] for p in v.manifest if p in people and people[p].tier == 1]
        seats_used = 0
        for pid in v.manifest:
            p = people.get(pid)
            if p is None:
                add(Violation("person", where, f"unknown person {pid!r}"))
                continue
            if pid in seen:
                add(Violation("moved-twice", pid, f"on {seen[pid]} and again on {where}"))
            seen[pid] = where
            if p.site != v.site:
                add(Violation("site", where, f"{pid} is held at {p.site}, not {v.site}"))
            seats_used += r.tier1_seats if p.tier == 1 else 1
            if p.minor and r.minors == "exclude":
                add(Violation("minors", where, f"{pid} is a minor and minors are excluded from moves"))
        on_board = set(v.manifest)
        for pid in v.manifest:
            for q in pair_of.get(pid, ()):
                if q in on_board and pid < q:
                    add(Violation("keep-apart", where, f"{pid} and {q} must never share a vehicle"))
        if len({p.faction for p in tier1}) > 1:
            add(Violation("faction", where, f"tier-1 detainees of factions {sorted({p.faction for p in tier1})} share a vehicle"))
        crowd = [people[p] for p in v.manifest if p in people]
        family_rule = r.families_whole
        lone_minors = [p for p in crowd if p.minor and not (family_rule and p.family)]
        lone_adults = [p for p in crowd if not p.minor and not (family_rule and p.family)]
        if r.minors == "separate" and lone_minors and lone_adults:
            add(Violation("minors", where, f"minors {[p.id for p in lone_minors][:5]} travel with adults"))
        if family_rule and any(p.family for p in crowd) and any(not p.family for p in crowd):
            add(Violation("family", where, "a family vehicle also carries people outside any family"))
        if v.mode == "heli":
            if seats_used > r.seats_per_sortie:
                add(Violation("seats", where, f"{seats_used} seats used, a sortie has {r.seats_per_sortie}"))
            if len(tier1) > r.max_tier1_per_sortie:
                add(Violation("tier1", where, f"{len(tier1)} tier-1 detainees, at most {r.max_tier1_per_sortie} per sortie"))
            h = frames.get(v.airframe or "")
            if h is None:
                add(Violation("airframe", where, f"unknown airframe {v.airframe!r}"))
            else:
                if not h.available[v.day]:
                    add(Violation("airframe", where, f"{h.id} is not available on day {v.day}"))
                frame_day[(h.id, v.day)].append(site.round_trip_minutes)
            lz[(site.id, v.day)] += 1
            arrivals[v.day] += len(v.manifest)
        else:
            if seats_used > sc.convoys.bus_seats:
                add(Violation("seats", where, f"{seats_used} seats used, a bus has {sc.convoys.bus_seats}"))
            if len(tier1) > r.max_tier1_per_bus:
                add(Violation("tier1", where, f"{len(tier1)} tier-1 detainees, at most {r.max_tier1_per_bus} per bus"))
            if not v.convoy:
                add(Violation("convoys", where, "bus belongs to no convoy"))
            convoys[v.convoy or where].append(v)
            if not site.road_open[v.day]:
                add(Violation("road", where, f"road from {site.id} is closed on day {v.day}"))
            arr = v.day + 1 if site.road_overnight else v.day
            if site.road_overnight and (arr >= D or not site.road_open[arr]):
                add(Violation("road", where, f"overnight road from {site.id} cannot be completed (day {arr})"))
            arrivals[min(arr, D - 1)] += len(v.manifest)
        departures[(site.id, v.day)] += len(v.manifest)

    if r.families_whole:
        fam_vehicle: dict[str, set[str]] = defaultdict(set)
        for pid, where in seen.items():
            if people[pid].family:
                fam_vehicle[people[pid].family].add(where)
        for p in sc.people:
            if p.family and p.family in fam_vehicle and seen.get(p.id) is None:
                add(Violation("family", p.family, f"{p.id} is left behind while the rest of the family moves"))
        for fid, where in fam_vehicle.items():
            if len(where) > 1:
                add(Violation("family", fid, f"family split across {sorted(where)}"))
    for (hid, d), minutes in frame_day.items():
        h = frames[hid]
        if len(minutes) > h.max_sorties:
            add(Violation("airframe", f"{hid} day {d}", f"{len(minutes)} sorties, limit {h.max_sorties}"))
        if sum(minutes) > h.max_hours * 60 + 1e-6:
            add(Violation("airframe", f"{hid} day {d}", f"{sum(minutes)} min flown, limit {h.max_hours:g} h"))
    for (sid, d), k in lz.items():
        if k > sites[sid].lz_sorties:
            add(Violation("landing-zone", f"{sid} day {d}", f"{k} sorties, the landing zone takes {sites[sid].lz_sorties}"))
    for (sid, d), k in departures.items():
        if k > sites[sid].handling:
            add(Violation("handling", f"{sid} day {d}", f"{k} departures, the site handles {sites[sid].handling}"))
    for d, k in arrivals.items():
        if k > sc.receiving.intake[d]:
            add(Violation("intake", f"day {d}", f"{k} arrivals, intake is {sc.receiving.intake[d]}"))
    per_day: dict[int, int] = defaultdict(int)
    for cid, buses in convoys.items():
        days = {b.day for b in buses}
        sites_ = {b.site for b in buses}
        if len(days) > 1 or len(sites_) > 1:
            add(Violation("convoys", cid, "a convoy's buses leave from one site on one day"))
        if len(buses) > sc.convoys.buses:
            add(Violation("convoys", cid, f"{len(buses)} buses, a convoy has {sc.convoys.buses}"))
        per_day[min(days)] += 1
    for d, k in per_day.items():
        if k > sc.convoys.per_day[d]:
            add(Violation("convoys", f"day {d}", f"{k} convoys, {sc.convoys.per_day[d]} can be mounted"))
    if sc.rules.require_all_moved:
        for p in sc.movable:
            if p.id not in seen:
                add(Violation("all-moved", p.id, "the scenario requires everyone moved; this person is not"))
    if claims and plan.summary:
        from .plan import evaluate

        fig = evaluate(sc, plan.vehicles)
        claimed = plan.summary.get("exposure")
        if claimed is not None and abs(fig.exposure - float(claimed)) > 1e-3 * max(1.0, abs(fig.exposure)):
            add(Violation("figures", "summary", f"claims exposure {claimed}, the vehicles give {fig.exposure:.4f}"))
        bound = plan.summary.get("lower_bound")
        if bound is not None and float(bound) > fig.cost + 1e-4 + 1e-6 * abs(fig.cost):  # figures are rounded to 4 places
            add(Violation("figures", "summary", f"claims a lower bound {bound} above the plan's own cost {fig.cost:.4f}"))
    return out
