"""The planning scenario: every assumption of the transfer problem, explicit and editable.

A scenario is plain data. It is read from and written to the JSON format documented in
docs/planning-scenario.md and checked against docs/planning-scenario.schema.json (the same schema ships
inside this package so the engine never reads from docs/ at run time).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

FORMAT = "custody-planning-scenario/1"
TIERS: tuple[int, ...] = (1, 2, 3)
HEAVY = "heli"
ROAD = "convoy"
MODES: tuple[str, str] = (HEAVY, ROAD)


class ScenarioError(ValueError):
    """A scenario that does not follow the format; `path` names the bad field, e.g. sites/2/danger/4."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.detail = message


@dataclass
class Rules:
    seats_per_sortie: int = 20
    tier1_seats: int = 2  # a tier-1 detainee takes an extra seat for his guard
    max_tier1_per_sortie: int = 4
    max_tier1_per_bus: int = 4
    minors: str = "separate"  # "separate": minors only on minors-only vehicles; "exclude": not moved
    families_whole: bool = False  # a family travels together on a vehicle that carries only families
    require_all_moved: bool = False  # if true, leaving anyone behind at the end makes the scenario infeasible
    terminal_weight: float = 1.0  # people left at the end count again at this multiple of the last day's danger


@dataclass
class Site:
    id: str
    name: str
    danger: list[float]  # probability the site falls that day, per day
    handling: int  # departures per day the site can process
    lz_sorties: int  # landings per day the landing zone takes
    road_open: list[bool]
    round_trip_minutes: int  # helicopter round trip site <-> receiving facility
    road_overnight: bool = False  # a convoy leaving on day d arrives on day d+1


@dataclass
class Helicopter:
    id: str
    available: list[bool]
    max_sorties: int
    max_hours: float


@dataclass
class Convoys:
    per_day: list[int]  # convoys that can be mounted that day, each to one site
    buses: int  # buses per convoy
    bus_seats: int


@dataclass
class Receiving:
    name: str
    intake: list[int]  # people the facility can enrol and take in, per day


@dataclass
class Person:
    id: str
    site: str
    tier: int
    faction: str
    minor: bool = False
    family: str | None = None


@dataclass
class Scenario:
    name: str
    horizon_days: int
    weights: dict[int, float]
    rules: Rules
    receiving: Receiving
    sites: list[Site]
    helicopters: list[Helicopter]
    convoys: Convoys
    people: list[Person]
    keep_apart: list[tuple[str, str]] = field(default_factory=list)
    start_date: str | None = None

    # Derived views, computed once; a scenario is not mutated after it is built.
    @cached_property
    def site_index(self) -> dict[str, Site]:
        return {s.id: s for s in self.sites}

    @cached_property
    def person_index(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}

    @cached_property
    def movable(self) -> list[Person]:
        """People the plan is for: everyone unless minors are excluded by rule."""
        if self.rules.minors == "exclude":
            return [p for p in self.people if not p.minor]
        return list(self.people)

    @cached_property
    def partners(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for a, b in self.keep_apart:
            out[a].add(b)
            out[b].add(a)
        return dict(out)

    def population(self, people: list[Person] | None = None) -> dict[tuple[str, int], int]:
        c: Counter[tuple[str, int]] = Counter((p.site, p.tier) for p in (self.movable if people is None else people))
        return {(s.id, t): c.get((s.id, t), 0) for s in self.sites for t in TIERS}

    def seat_cost(self, tier: int) -> int:
        return self.rules.tier1_seats if tier == 1 else 1

    def arrival_day(self, site: Site, day: int, mode: str) -> int:
        return day + 1 if mode == ROAD and site.road_overnight else day

    def road_usable(self, site: Site, day: int) -> bool:
        """A convoy can leave site on day: road open, and for an overnight move open next day too and
        arriving inside the horizon."""
        if not site.road_open[day]:
            return False
        if site.road_overnight:
            return day + 1 < self.horizon_days and site.road_open[day + 1]
        return True

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(to_dict(self), sort_keys=True).encode()).hexdigest()[:16]


def schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("scenario.schema.json").read_text())


def _json_path(err: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in err.absolute_path) or "(root)"


def validate(data: dict[str, Any]) -> None:
    """Schema check, then the cross-field checks a schema cannot express. Raises ScenarioError."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ScenarioError(best.message, _json_path(best))
    days = data["horizon_days"]
    for i, s in enumerate(data["sites"]):
        for key in ("danger", "road_open"):
            if len(s[key]) != days:
                raise ScenarioError(f"has {len(s[key])} entries, horizon_days is {days}", f"sites/{i}/{key}")
    for i, h in enumerate(data["helicopters"]):
        if len(h["available"]) != days:
            raise ScenarioError(f"has {len(h['available'])} entries, horizon_days is {days}", f"helicopters/{i}/available")
    if len(data["convoys"]["per_day"]) != days:
        raise ScenarioError(f"has {len(data['convoys']['per_day'])} entries, horizon_days is {days}", "convoys/per_day")
    if len(data["receiving"]["intake"]) != days:
        raise ScenarioError(f"has {len(data['receiving']['intake'])} entries, horizon_days is {days}", "receiving/intake")
    site_ids = [s["id"] for s in data["sites"]]
    if len(set(site_ids)) != len(site_ids):
        raise ScenarioError("site ids must be unique", "sites")
    known = set(site_ids)
    ids: set[str] = set()
    for i, p in enumerate(data["people"]):
        if p["site"] not in known:
            raise ScenarioError(f"unknown site {p['site']!r}", f"people/{i}/site")
        if p["id"] in ids:
            raise ScenarioError(f"duplicate person id {p['id']!r}", f"people/{i}/id")
        ids.add(p["id"])
    for i, (a, b) in enumerate(data.get("keep_apart", [])):
        for j, x in enumerate((a, b)):
            if x not in ids:
                raise ScenarioError(f"unknown person {x!r}", f"keep_apart/{i}/{j}")
        if a == b:
            raise ScenarioError("a person cannot be kept apart from himself", f"keep_apart/{i}")


def from_dict(data: dict[str, Any]) -> Scenario:
    validate(data)
    return Scenario(
        name=data["name"],
        horizon_days=data["horizon_days"],
        start_date=data.get("start_date"),
        weights={int(k): float(v) for k, v in data["weights"].items()},
        rules=Rules(**data.get("rules", {})),
        receiving=Receiving(**data["receiving"]),
        sites=[Site(**s) for s in data["sites"]],
        helicopters=[Helicopter(**h) for h in data["helicopters"]],
        convoys=Convoys(**data["convoys"]),
        people=[Person(**p) for p in data["people"]],
        keep_apart=[(a, b) for a, b in data.get("keep_apart", [])],
    )


def to_dict(sc: Scenario) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format": FORMAT,
        "name": sc.name,
        "horizon_days": sc.horizon_days,
        "weights": {str(k): v for k, v in sorted(sc.weights.items())},
        "rules": asdict(sc.rules),
        "receiving": asdict(sc.receiving),
        "sites": [asdict(s) for s in sc.sites],
        "helicopters": [asdict(h) for h in sc.helicopters],
        "convoys": asdict(sc.convoys),
        "people": [
            {k: v for k, v in asdict(p).items() if not (k == "minor" and v is False) and not (k == "family" and v is None)}
            for p in sc.people
        ],
        "keep_apart": [list(pair) for pair in sc.keep_apart],
    }
    if sc.start_date:
        out["start_date"] = sc.start_date
    return out


def load(path: str | Path) -> Scenario:
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ScenarioError(f"not valid JSON: {e}") from e
    return from_dict(data)


def dump(sc: Scenario, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(sc), separators=(",", ":")))
