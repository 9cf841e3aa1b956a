"""The demo's coordination picture: incidents at the sites and the analysts' danger estimates.

Without them the warnings page, the danger charts on the dashboard and the situation report's incident
section start empty, and a demo user cannot see what they are for. Dates are days before the day the
demo is loaded (the pages look back from today), drawn from their own random stream so that adding
them changed nothing else the generator makes.

Plain Python: the loader turns these into rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .model import Facility

WEEKS = 8
SOURCES = ("MIL patrol report", "SDF liaison officer", "CIO open-source monitoring", "UN OCHA flash update",
           "Camp administration", "Prison director's daily report")
KIND_TEXT = {
    "attack": "Armed group fired on the perimeter; the guard force returned fire.",
    "shelling": "Indirect fire landed within two kilometres of the site.",
    "unrest": "Detainees refused the evening count in one block; order restored by morning.",
    "escape_attempt": "A tunnel was found under the wall of one block; nobody is missing at roll call.",
    "road_closure": "The supply road was closed by a checkpoint dispute for most of the day.",
    "other": "Generator failure left the site on battery lighting overnight.",
}
# How often each kind is reported, per site kind: prisons see attacks and escape attempts, camps unrest.
KIND_WEIGHTS = {
    "prison": {"attack": 3, "shelling": 2, "unrest": 2, "escape_attempt": 2, "road_closure": 2, "other": 1},
    "camp": {"attack": 1, "shelling": 1, "unrest": 4, "escape_attempt": 1, "road_closure": 2, "other": 2},
}


@dataclass(frozen=True, slots=True)
class IncidentSpec:
    days_ago: int
    site: str
    kind: str
    severity: int  # 1-5
    source: str
    description: str


@dataclass(frozen=True, slots=True)
class DangerSpec:
    days_ago: int
    site: str
    probability: float  # of the site falling that day
    rationale: str


def coordination_picture(seed: int, facilities: list[Facility]) -> tuple[list[IncidentSpec], list[DangerSpec]]:
    """Incidents over the last WEEKS weeks and a weekly danger estimate per prison, with one prison
    whose danger and incidents rise over the last three weeks (the situation the planner exists for)."""
    rng = random.Random(f"coordination-{seed}")
    prisons = [f for f in facilities if f.kind == "prison"]
    camps = [f for f in facilities if f.kind == "camp"]
    if not prisons:
        return [], []
    hot = max(prisons, key=lambda f: (f.danger, f.code))
    estimates: list[DangerSpec] = []
    for site in sorted(prisons, key=lambda f: f.code):
        p = site.danger or 0.01
        for week in range(WEEKS, -1, -1):
            days_ago = week * 7
            rising = site is hot and week <= 3
            p *= rng.uniform(1.25, 1.45) if rising else rng.uniform(0.85, 1.15)
            p = min(0.35, max(0.001, p))
            why = ("Attacks on the perimeter are more frequent and the armed group is massing nearby."
                   if rising else "No change in the threat reporting this week.")
            estimates.append(DangerSpec(days_ago, site.code, round(p, 4), why))
    incidents: list[IncidentSpec] = []
    for site in sorted(prisons + camps, key=lambda f: f.code):
        weights = KIND_WEIGHTS["prison" if site.kind == "prison" else "camp"]
        per_week = 1.5 if site is hot else 0.4
        for day in range(WEEKS * 7, -1, -1):
            rate = per_week * (3 if site is hot and day <= 21 else 1) / 7
            if rng.random() >= rate:
                continue
            kind = rng.choices(list(weights), weights=list(weights.values()))[0]
            severity = min(5, rng.randint(1, 3) + (2 if site is hot and day <= 21 and kind in ("attack", "shelling") else 0))
            incidents.append(IncidentSpec(day, site.code, kind, severity, rng.choice(SOURCES), KIND_TEXT[kind]))
    return incidents, estimates
