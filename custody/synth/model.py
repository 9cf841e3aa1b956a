"""The synthetic population as plain dataclasses: no Django, so tests and other engines can use it alone.

High-volume records are not frozen: a frozen dataclass pays object.__setattr__ per field on creation,
which was a tenth of the generator's time at real scale.

Vocabulary follows the registry (custody.registry.models): sex "M"/"F", birth precision
"exact"/"year"/"range", group "detainee"/"resident", FamilyLink "relative is person's <relation>".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from custody.synth.words import Part


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    name_ar: str
    description: str
    custody_scope: bool  # sees only the people it holds or held (the partner force)
    protection_purpose: bool  # humanitarian: never sees intelligence or risk rationale


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str  # "irq.clerk"
    agency: str
    role: str  # viewer, clerk, analyst, supervisor, administrator
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True, slots=True)
class Facility:
    code: str
    name: str
    name_ar: str
    kind: str  # prison, camp, transit, receiving, hospital
    country: str
    lat: float
    lon: float
    capacity: int
    custodian: str  # agency code
    danger: float = 0.0  # starting daily hazard estimate, prisons only


@dataclass(slots=True)
class Place:
    name: str
    name_ar: str
    country: str


@dataclass(slots=True)
class Name:
    """A true name. Father and grandfather are given names; family is a tribe or house name."""

    ism: Part
    father: Part | None = None
    grandfather: Part | None = None
    family: Part | None = None
    nisba: Part | None = None
    kunya: Part | None = None

    def chain(self) -> list[Part]:
        return [p for p in (self.ism, self.father, self.grandfather, self.family) if p is not None]

    @property
    def ar(self) -> str:
        return " ".join(p.ar for p in self.chain())

    @property
    def lat(self) -> str:
        """Scholarly romanisation (with diacritics)."""
        return " ".join(p.lat for p in self.chain())


@dataclass(slots=True)
class NextOfKin:
    name: str
    name_ar: str
    relation: str
    phone: str
    address: str


@dataclass(slots=True)
class Person:
    id: str  # stable identity id and registry ref, "P-000123"; rosters carry it for evaluation only
    group: str  # detainee | resident
    sex: str
    dob: dt.date  # the truth
    birth_precision: str  # what records know: exact | year | range
    birth_year_min: int
    birth_year_max: int
    birth_place: Place
    nationalities: tuple[str, ...]
    name: Name
    mother_name: Name
    facility: str  # facility code where the person is at the scenario date
    custodian: str
    internment_date: dt.date
    internment_place: str
    next_of_kin: NextOfKin | None = None
    capture_date: dt.date | None = None
    capture_place: Place | None = None
    prisoner_number: str = ""
    identifiers: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, authority, value)
    risk_tier: int | None = None
    risk_rationale: str = ""
    faction: str = ""
    is_minor: bool = False
    medical_note: str = ""
    household: str = ""  # household ref for camp residents
    legal_status: str = "held"
    aliases: list[Part] = field(default_factory=list)

    @property
    def nationality(self) -> str:
        return self.nationalities[0]

    @property
    def father_name(self) -> Part | None:
        return self.name.father

    def age_on(self, day: dt.date) -> int:
        return day.year - self.dob.year - ((day.month, day.day) < (self.dob.month, self.dob.day))


@dataclass(slots=True)
class Household:
    ref: str  # "HOL-00123"
    camp: str
    sector: str
    tent: str
    head: str  # person id


@dataclass(slots=True)
class FamilyLink:
    """`relative` is `person`'s `relation` (father, mother, husband, wife, son, daughter, brother, sister)."""

    person: str
    relative: str
    relation: str


@dataclass(slots=True)
class KeepApart:
    person: str
    other: str
    reason: str


@dataclass(slots=True)
class EventSpec:
    """One custody event, numbered per person, in the ledger's vocabulary (custody.ledger.specs):
    registered, intake, moved, hospitalised, returned, handed_over, manifested, departed, arrived, died.

    `facility` is where the event puts the person (intake, moved, hospitalised, returned, arrived) or where
    they leave from (manifested, departed); `custodian` is who holds them after the event. Codes, not rows.
    """

    person: str
    seq: int
    kind: str
    at: dt.datetime
    facility: str = ""
    custodian: str = ""
    to_facility: str = ""
    manifest: str = ""
    expected_arrival: dt.datetime | None = None
    identity_check: str = ""
    from_custodian: str = ""  # handovers: the authority handing over (its officer confirms the sending side)
    note: str = ""


@dataclass(slots=True)
class RosterRow:
    source: str
    source_ref: str
    identity_id: str  # the truth, for evaluation only; never shown as data
    name: str
    name_ar: str
    aliases: tuple[str, ...]
    dob: str
    sex: str
    nationality: str
    mother_name: str
    place_of_birth: str
    # The written parts of `name` where known (primary rosters, no typo): lets the loader index the
    # spelling part by part. Not part of the CSV.
    name_parts: tuple[str, ...] = ()


@dataclass(slots=True)
class Roster:
    source: str  # "sdf-prisons", "irq-intake", "coo-FR", "intel-list", "camp-register"
    title: str
    agency: str
    habit: str
    has_arabic: bool
    rows: list[RosterRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PlantedDuplicate:
    """A second registration of one person (custody.synth.duplicates): the truth, for evaluation only."""

    original: str  # person id of the first registration
    duplicate: str  # person id of the second
    source: str  # roster the second registration came from
    variations: tuple[str, ...]  # spelling, dropped_generation, kunya, year_only, own_identifier, shared_identifier


@dataclass(slots=True)
class Population:
    seed: int
    scale: str
    scenario_date: dt.date
    agencies: list[Agency]
    users: list[DemoUser]
    facilities: list[Facility]
    persons: list[Person]
    households: list[Household]
    family_links: list[FamilyLink]
    keep_apart: list[KeepApart]
    events: list[EventSpec]
    rosters: dict[str, Roster]
    # planted second registrations (generate(plant_duplicates=...)): never loaded into the registry
    planted: list[PlantedDuplicate] = field(default_factory=list)

    def by_id(self) -> dict[str, Person]:
        return {p.id: p for p in self.persons}

    @property
    def detainees(self) -> list[Person]:
        return [p for p in self.persons if p.group == "detainee"]

    @property
    def residents(self) -> list[Person]:
        return [p for p in self.persons if p.group == "resident"]
