"""Seeded synthetic scenarios at three scales. Same seed, same scenario, byte for byte.

The numbers are invented to have the shape of the operation in the brief (sites in north-east Syria,
one receiving facility near Baghdad, helicopters and road convoys), never real data.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .scenario import Convoys, Helicopter, Person, Receiving, Rules, Scenario, Site


@dataclass(frozen=True)
class Scale:
    people: int
    sites: int
    days: int
    helicopters: int
    convoys_per_day: int
    intake_peak: int
    minors_share: float
    families: int


SCALES: dict[str, Scale] = {
    "small": Scale(people=1000, sites=4, days=14, helicopters=3, convoys_per_day=1, intake_peak=110, minors_share=0.01, families=6),
    "real": Scale(people=6000, sites=7, days=30, helicopters=10, convoys_per_day=2, intake_peak=330, minors_share=0.0, families=0),
    "large": Scale(people=60000, sites=15, days=60, helicopters=40, convoys_per_day=8, intake_peak=1500, minors_share=0.0, families=0),
}

FACTIONS = ("A", "B", "C", "D")
SITE_NAMES = (
    "Hasakah Central", "Ghwayran", "Shaddadi", "Qamishli", "Derik", "Raqqa North", "Tabqa", "Kobani",
    "Tal Tamr", "Amuda", "Sheddadi East", "Markada", "Hol Annex", "Rmeilan", "Jaza'a",
)


def _spells(rng: random.Random, days: int, p_close: float, mean_len: float) -> list[bool]:
    """Open/closed days where closures come in spells (a two-state Markov chain)."""
    out, open_ = [], True
    for _ in range(days):
        if open_ and rng.random() < p_close:
            open_ = False
        elif not open_ and rng.random() < 1.0 / mean_len:
            open_ = True
        out.append(open_)
    return out


def generate(scale: str = "real", seed: int = 1) -> Scenario:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; one of {', '.join(SCALES)}")
    cfg = SCALES[scale]
    rng = random.Random(f"{scale}:{seed}")
    days = cfg.days

    shares = [rng.uniform(0.5, 1.5) for _ in range(cfg.sites)]
    total = sum(shares)
    sizes = [int(cfg.people * s / total) for s in shares]
    sizes[0] += cfg.people - sum(sizes)

    # Per-site daily handling and landing-zone limits scale with the site's size so that no single
    # site can be emptied in a day or two, which keeps the ordering question real.
    sites: list[Site] = []
    for i in range(cfg.sites):
        p0 = rng.uniform(0.002, 0.02)
        growth = rng.uniform(0.02, 0.09)
        spike_day = rng.randrange(days) if rng.random() < 0.4 else None
        danger = []
        for d in range(days):
            p = p0 * math.exp(growth * d)
            if spike_day is not None and d >= spike_day:
                p *= 1.8
            danger.append(round(min(p, 0.35), 5))
        sites.append(
            Site(
                id=f"S{i + 1:02d}",
                name=SITE_NAMES[i % len(SITE_NAMES)] + ("" if i < len(SITE_NAMES) else f" {i}"),
                danger=danger,
                handling=max(40, int(sizes[i] * rng.uniform(0.08, 0.14))),
                lz_sorties=rng.randint(4, 9),
                road_open=_spells(rng, days, p_close=0.12, mean_len=3.0),
                round_trip_minutes=15 * rng.randint(8, 20),
                road_overnight=rng.random() < 0.4,
            )
        )

    helicopters = []
    for h in range(cfg.helicopters):
        avail = _spells(rng, days, p_close=0.06, mean_len=2.0)
        helicopters.append(Helicopter(id=f"H{h + 1:02d}", available=avail, max_sorties=3 if h % 3 else 4, max_hours=8.0 if h % 3 else 9.0))

    per_day = [0 if d < 2 else cfg.convoys_per_day for d in range(days)]
    convoys = Convoys(per_day=per_day, buses=4, bus_seats=40)

    # Enrolment ramps up over the first week; an outage of two or three days halves intake.
    intake = []
    outage = rng.randrange(days // 3, days - 2)
    for d in range(days):
        ramp = min(1.0, 0.35 + 0.65 * d / 7)
        val = cfg.intake_peak * ramp
        if outage <= d < outage + rng.choice((2, 3)):
            val *= 0.5
        intake.append(int(val))

    people: list[Person] = []
    n = 0
    for i, size in enumerate(sizes):
        site = sites[i].id
        # Each site holds mostly one or two factions, which is what makes the tier-1 faction rule bite.
        main = rng.sample(FACTIONS, 2)
        for _ in range(size):
            n += 1
            r = rng.random()
            tier = 1 if r < 0.15 else 2 if r < 0.5 else 3
            fr = rng.random()
            faction = main[0] if fr < 0.6 else main[1] if fr < 0.9 else rng.choice(FACTIONS)
            minor = tier == 3 and rng.random() < cfg.minors_share * 2
            people.append(Person(id=f"P{n:06d}", site=site, tier=tier, faction=faction, minor=minor))

    families_whole = cfg.families > 0
    if families_whole:
        # Camp households held at the last site: women and children, tier 3, moved whole.
        site = sites[-1].id
        for f in range(cfg.families):
            fam = f"F{f + 1:03d}"
            for k in range(rng.randint(3, 6)):
                n += 1
                people.append(Person(id=f"P{n:06d}", site=site, tier=3, faction="none", minor=k > 0, family=fam))

    by_site: dict[str, list[Person]] = {}
    for p in people:
        if p.family is None:
            by_site.setdefault(p.site, []).append(p)
    keep_apart: list[tuple[str, str]] = []
    seen: set[frozenset[str]] = set()
    target = len(people) // 30
    candidates = list(by_site.values())
    while len(keep_apart) < target:
        group = rng.choice(candidates)
        # Feuds and informants are mostly among the more dangerous tiers.
        a = rng.choice(group)
        b = rng.choice(group)
        if a.id == b.id or (a.tier == 3 and b.tier == 3 and rng.random() < 0.7):
            continue
        key = frozenset((a.id, b.id))
        if key in seen:
            continue
        seen.add(key)
        keep_apart.append((a.id, b.id))

    rules = Rules(minors="separate", families_whole=families_whole)
    return Scenario(
        name=f"synthetic-{scale}-{seed}",
        horizon_days=days,
        start_date="2026-01-10",
        weights={1: 10.0, 2: 3.0, 3: 1.0},
        rules=rules,
        receiving=Receiving(name="Baghdad airport facility (synthetic)", intake=intake),
        sites=sites,
        helicopters=helicopters,
        convoys=convoys,
        people=people,
        keep_apart=keep_apart,
    )
