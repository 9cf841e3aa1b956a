"""The seeded demo scenario: agencies, facilities, detainees, camp households, family links, custody history.

Deterministic: every random draw comes from a `random.Random` seeded with "<seed>/<stream>", one stream
per concern, and nothing iterates over a set, so the same seed gives the same population byte for byte
on any machine and Python 3.11+ build. Separate streams also keep one concern's changes (say, more
nationalities) from reshuffling everything else.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from custody.synth import places, words
from custody.synth.model import (
    Agency,
    DemoUser,
    EventSpec,
    Facility,
    FamilyLink,
    Household,
    KeepApart,
    Name,
    NextOfKin,
    Person,
    Place,
    Population,
)
from custody.synth.rand import below, between, pick, weighted
from custody.synth.words import Part

SCENARIO_DATE = dt.date(2026, 1, 20)
OPERATION_START = dt.date(2026, 1, 12)
ROLES = ("viewer", "clerk", "analyst", "supervisor", "administrator")
SORTIE_SEATS = 24  # detainees per helicopter sortie, guards apart


@dataclass(frozen=True, slots=True)
class Scale:
    prisons: int
    detainees: int
    camps: int
    residents: int


SCALES: dict[str, Scale] = {
    "small": Scale(prisons=3, detainees=300, camps=1, residents=1_500),
    "real": Scale(prisons=7, detainees=6_000, camps=2, residents=40_000),
    "large": Scale(prisons=7, detainees=60_000, camps=2, residents=400_000),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """What has happened by the scenario date; the defaults make the demo."""

    transferred_fraction: float = 0.08  # already moved to the receiving facility, tier 1 first
    moved_2022_fraction: float = 0.12  # moved between prisons after the 2022 prison attack
    hospital_fraction: float = 0.02  # had a hospital stay
    in_hospital_fraction: float = 0.003  # in hospital on the scenario date
    death_fraction: float = 0.003
    brother_fraction: float = 0.03  # detainees with a brother also detained
    wife_in_camp_fraction: float = 0.30  # detainees whose wife lives in a camp
    keep_apart_per_detainee: float = 1 / 30


AGENCIES: tuple[Agency, ...] = (
    Agency("CIO", "Coordinating Intelligence Office", "مكتب تنسيق الاستخبارات",
           "Runs the interagency working group and its daily coordination call.", False, False),
    Agency("MIL", "Military Command", "القيادة العسكرية",
           "Moves detainees: helicopter sorties, convoys, guards in transit.", False, False),
    Agency("MFA", "Foreign Ministry and Embassy Baghdad", "وزارة الخارجية والسفارة في بغداد",
           "Day-to-day policy, diplomatic clearance, repatriation outreach.", False, False),
    Agency("FBI", "Federal Investigators", "المحققون الفيدراليون",
           "Biometric enrolment, investigations, case files.", False, False),
    Agency("IRQ", "Iraqi Custodial Authority", "السلطة العراقية للاحتجاز",
           "Receives, holds and prosecutes at the facility near Baghdad airport.", False, False),
    Agency("SDF", "Partner Force (detaining authority, Syria)", "القوة الشريكة (سلطة الاحتجاز في سوريا)",
           "Holds the detainees in the north-east Syrian prisons and runs the camps.", True, False),
    Agency("HUM", "Humanitarian Observer", "المراقب الإنساني",
           "Registration and welfare; never intelligence.", False, True),
)


def _rng(seed: int, stream: str) -> random.Random:
    return random.Random(f"{seed}/{stream}")


def _dated(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=below(rng, (end - start).days + 1))


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def _birth_on(rng: random.Random, age: int, ref: dt.date) -> dt.date:
    """A birth date at which a person is exactly `age` years old on `ref`."""
    latest = ref.replace(year=ref.year - age) if not (ref.month == 2 and ref.day == 29) else dt.date(ref.year - age, 2, 28)
    return latest - dt.timedelta(days=below(rng, 365))


class _Picker:
    """Weighted choice with precomputed cumulative weights (rng.choices recomputes them every call)."""

    def __init__(self, items: Sequence, weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


_NAT_ALL = _Picker([c.code for c in places.COUNTRIES], [c.weight for c in places.COUNTRIES])
_FOREIGN = [c for c in places.COUNTRIES if c.code not in {"IQ", "SY"}]
_NAT_FOREIGN = _Picker([c.code for c in _FOREIGN], [c.weight for c in _FOREIGN])

FACTIONS_LOCAL = ("Amniyat (security)", "Jaysh al-Khilafah", "Diwan al-Jund", "Hisbah")
FACTION_BY_LANGUAGE = {
    **dict.fromkeys(("FR", "BE", "TN", "MA", "DZ", "CH"), "Francophone muhajirin"),
    **dict.fromkeys(("RU", "UZ", "TJ", "KZ", "KG", "AZ", "GE"), "Russian-speaking muhajirin"),
    **dict.fromkeys(("ID", "MY", "PH", "CN", "PK", "AF", "IN", "BD"), "Asian muhajirin"),
    **dict.fromkeys(("GB", "US", "CA", "AU", "IE", "TT", "DE", "NL", "SE", "DK", "NO", "FI", "AT"),
                    "Western muhajirin"),
}
ROLES_TIER1 = ("security (amniyat) official", "battalion commander", "explosives specialist",
               "foreign-fighter facilitator", "sharia official", "media official", "prison guard commander")
ROLES_TIER2 = ("fighter with combat experience", "checkpoint commander", "logistics officer",
               "weapons instructor", "hisbah patrol member")
MEDICAL = ("diabetes, needs insulin", "tuberculosis, under treatment", "amputee (left leg)",
           "gunshot wound, limited mobility", "hypertension", "chronic kidney disease",
           "severe malnutrition", "needs psychiatric care", "epilepsy, on medication", "partial blindness")
KEEP_APART_REASONS = ("rival factions", "informant: threats received", "blood feud between families",
                      "co-accused: separate before trial", "assault on another detainee",
                      "former emir and subordinate who testified")
CHILD_MEDICAL = ("malnutrition", "untreated shrapnel wound", "needs follow-up: respiratory infection",
                 "disability: hearing loss", "unaccompanied minor")


@functools.cache
def _region_pools(country: str) -> tuple[tuple[Part, ...], tuple[Part, ...] | None]:
    c = places.BY_CODE[country]
    given = words.MALE_GIVEN
    if c.region == "central":
        given = words.MALE_GIVEN + words.MALE_GIVEN_CENTRAL * 3
    family = words.FAMILY.get(c.region)
    return given, family


@functools.cache
def _family_probability(country: str) -> float:
    region = places.BY_CODE[country].region
    return {"south_asia": 0.5, "central": 0.95}.get(region, 0.85)


class _Builder:
    def __init__(self, seed: int, scale: str | Scale, scenario: Scenario) -> None:
        if isinstance(scale, Scale):
            self.scale_name, self.scale = "custom", scale
        elif scale in SCALES:
            self.scale_name, self.scale = scale, SCALES[scale]
        else:
            raise ValueError(f"scale must be one of {', '.join(SCALES)} or a Scale, not {scale!r}")
        if not (1 <= self.scale.prisons <= len(places.PRISONS) and 1 <= self.scale.camps <= len(places.CAMPS)):
            raise ValueError(f"a scale has 1 to {len(places.PRISONS)} prisons and 1 to {len(places.CAMPS)} camps")
        self.seed = seed
        self.scenario = scenario
        self.persons: list[Person] = []
        self.links: list[FamilyLink] = []
        self.households: list[Household] = []
        self.events: list[EventSpec] = []
        self.keep_apart: list[KeepApart] = []
        self.facilities: list[Facility] = []
        self._next = itertools.count(1)
        self._mother_bound: set[str] = set()  # detainees whose mother's name another link depends on

    # -- names ----------------------------------------------------------------------------------

    def male_name(self, rng: random.Random, country: str) -> Name:
        given, family = _region_pools(country)
        ism = pick(rng, given)
        father = pick(rng, given)
        while father is ism:
            father = pick(rng, given)
        grandfather = pick(rng, given)
        fam = pick(rng, family) if family and rng.random() < _family_probability(country) else None
        nisbas = words.NISBA.get(country, words.NISBA["*"])
        return Name(ism, father, grandfather, fam, pick(rng, nisbas), None)

    def female_name(self, rng: random.Random, country: str, father: Name | None = None) -> Name:
        """A woman's name; given `father`, she is his daughter (her nasab continues his)."""
        given, family = _region_pools(country)
        ism = pick(rng, words.FEMALE_GIVEN)
        if father is not None:
            return Name(ism, father.ism, father.father, _feminine(father.family), father.nisba, None)
        fam = pick(rng, family) if family and rng.random() < _family_probability(country) else None
        fam = _feminine(fam)
        return Name(ism, pick(rng, given), pick(rng, given), fam, pick(rng, words.NISBA.get(country, words.NISBA["*"])))

    @staticmethod
    def child_name(rng: random.Random, father: Name, sex: str) -> Name:
        ism = pick(rng, words.MALE_GIVEN if sex == "M" else words.FEMALE_GIVEN)
        family = _feminine(father.family) if sex == "F" else father.family
        return Name(ism, father.ism, father.father, family, father.nisba, None)

    @staticmethod
    def kunya(base: Part, female: bool = False) -> Part:
        lead = words.UMM if female else words.ABU
        return Part(f"{lead.lat} {base.lat}", f"{lead.ar} {base.ar}")

    # -- common person fields ------------------------------------------------------------------

    def new_id(self) -> str:
        return f"P-{next(self._next):06d}"

    @staticmethod
    def precision(rng: random.Random, dob: dt.date, weights: tuple[float, float, float]) -> tuple[str, int, int]:
        kind = weighted(rng, ("exact", "year", "range"), weights)
        if kind == "range":
            low = dob.year - between(rng, 0, 5)
            return kind, low, low + 4
        return kind, dob.year, dob.year

    def birth_place(self, rng: random.Random, country: str) -> Place:
        c = places.BY_CODE[country]
        en, ar = pick(rng, c.towns)
        return Place(en, ar, country)

    @staticmethod
    def phone(rng: random.Random, country: str) -> str:
        prefix = places.BY_CODE[country].phone
        return f"{prefix} {between(rng, 700, 800)} {between(rng, 100, 1000):03d} {between(rng, 0, 10000):04d}"

    # -- facilities -----------------------------------------------------------------------------

    def build_facilities(self) -> tuple[list[tuple[places.FacilitySpec, int]], list[tuple[places.FacilitySpec, int]]]:
        rng = _rng(self.seed, "facilities")
        prisons = list(places.PRISONS[: self.scale.prisons])
        camps = list(places.CAMPS[: self.scale.camps])

        def split(specs: list[places.FacilitySpec], total: int) -> list[tuple[places.FacilitySpec, int]]:
            shares = [s.share * rng.uniform(0.97, 1.03) for s in specs]
            norm = sum(shares)
            counts = [int(round(total * s / norm)) for s in shares]
            counts[0] += total - sum(counts)
            return list(zip(specs, counts, strict=True))

        prison_counts = split(prisons, self.scale.detainees)
        camp_counts = split(camps, self.scale.residents)
        for spec, n in prison_counts:
            cap = int(round(n * rng.uniform(1.05, 1.3) / 50.0)) * 50 + 50
            self.facilities.append(Facility(spec.code, spec.name, spec.name_ar, spec.kind, spec.country, spec.lat,
                                            spec.lon, cap, spec.custodian, spec.danger))
        for spec, n in camp_counts:
            cap = int(round(n * 1.15 / 100.0)) * 100
            self.facilities.append(Facility(spec.code, spec.name, spec.name_ar, spec.kind, spec.country, spec.lat,
                                            spec.lon, cap, spec.custodian))
        factor = self.scale.detainees / 6000
        for spec, cap in ((places.RECEIVING, int(self.scale.detainees * 1.1)),
                          (places.TRANSIT, max(100, int(400 * factor))),
                          (places.HOSPITAL, max(20, int(60 * factor)))):
            self.facilities.append(Facility(spec.code, spec.name, spec.name_ar, spec.kind, spec.country, spec.lat,
                                            spec.lon, cap, spec.custodian))
        return prison_counts, camp_counts

    # -- detainees ------------------------------------------------------------------------------

    def capture(self, rng: random.Random) -> tuple[dt.date, Place]:
        r = rng.random()
        if r < 0.15:
            day = _dated(rng, dt.date(2017, 6, 1), dt.date(2017, 12, 31))
            en, ar = pick(rng, (("Raqqa", "الرقة"), ("Tabqa", "الطبقة"), ("Manbij", "منبج")))
        elif r < 0.35:
            day = _dated(rng, dt.date(2018, 1, 1), dt.date(2018, 12, 31))
            en, ar = pick(rng, (("Hajin", "هجين"), ("Susah", "السوسة"), ("Shaddadi", "الشدادي"),
                                 ("Deir ez-Zor countryside", "ريف دير الزور")))
        elif r < 0.90:
            day = _dated(rng, dt.date(2019, 1, 5), dt.date(2019, 3, 23))
            en, ar = pick(rng, (("Baghuz", "الباغوز"), ("Baghuz", "الباغوز"), ("Baghuz", "الباغوز"),
                                 ("Hajin", "هجين"), ("al-Hol road", "طريق الهول")))
        else:
            day = _dated(rng, dt.date(2019, 4, 1), dt.date(2025, 6, 30))
            en, ar = pick(rng, (("Hasakah", "الحسكة"), ("Deir ez-Zor countryside", "ريف دير الزور"),
                                 ("Raqqa", "الرقة"), ("Shaddadi", "الشدادي")))
        return day, Place(en, ar, "SY")

    def detainee(self, rng: random.Random, site: Facility, number: int) -> Person:
        country = _NAT_ALL(rng)
        nats: tuple[str, ...] = (country,)
        dual = places.DUAL.get(country)
        if dual and rng.random() < (0.03 if country in {"IQ", "SY"} else 0.25):
            nats = (country, pick(rng, dual))
        minor = rng.random() < 0.01
        if minor:
            age = between(rng, 15, 18)
            cap_day = _dated(rng, dt.date(2024, 1, 1), dt.date(2025, 10, 31))
            cap_place = Place("al-Hol camp", "مخيم الهول", "SY")
        else:
            age = min(68, max(19, int(rng.gauss(34, 8))))
            cap_day, cap_place = self.capture(rng)
            # Nobody was captured before the age of 15.
            age = max(age, SCENARIO_DATE.year - cap_day.year + 15)
        dob = _birth_on(rng, age, SCENARIO_DATE)
        precision, ymin, ymax = self.precision(rng, dob, (0.55, 0.30, 0.15))
        name = self.male_name(rng, country)
        if rng.random() < 0.55:
            name.kunya = self.kunya(pick(rng, words.MALE_GIVEN))
        mother = self.female_name(rng, country)
        foreign = country not in {"IQ", "SY"}
        tier = weighted(rng, (1, 2, 3), (0.22, 0.38, 0.40) if foreign else (0.13, 0.34, 0.53))
        if minor:
            tier = 3
        faction = ""
        if tier == 1:
            faction = FACTION_BY_LANGUAGE.get(country) or (
                pick(rng, FACTIONS_LOCAL) if country in {"IQ", "SY"} else "Arabic-speaking muhajirin")
        rationale = self.rationale(rng, tier, cap_day, cap_place)
        pid = self.new_id()
        internment = cap_day + dt.timedelta(days=between(rng, 0, 21))
        person = Person(
            id=pid, group="detainee", sex="M", dob=dob, birth_precision=precision, birth_year_min=ymin,
            birth_year_max=ymax, birth_place=self.birth_place(rng, nats[-1] if len(nats) > 1 and rng.random() < 0.3 else country),
            nationalities=nats, name=name, mother_name=mother, facility=site.code, custodian=site.custodian,
            internment_date=internment, internment_place=site.name, capture_date=cap_day, capture_place=cap_place,
            prisoner_number=f"{site.code}-{number:05d}", risk_tier=tier, risk_rationale=rationale, faction=faction,
            is_minor=minor, medical_note=pick(rng, MEDICAL) if rng.random() < 0.04 else "",
        )
        person.identifiers.append(("prisoner", "SDF", person.prisoner_number))
        return person

    def build_next_of_kin(self, detainees: list[Person], by_id: dict[str, Person]) -> None:
        """The person to inform, drawn once every family link is known: a wife or mother in a camp is
        named as such (with the camp as address), and a relative's name agrees with the detainee's."""
        rng = _rng(self.seed, "next-of-kin")
        camp_names = {f.code: f.name for f in self.facilities}
        wife_of: dict[str, str] = {}
        mother_of: dict[str, str] = {}
        for link in self.links:
            if link.relation == "husband":
                wife_of.setdefault(link.relative, link.person)
            elif link.relation == "mother" and by_id[link.person].group == "detainee":
                mother_of[link.person] = link.relative
        for d in detainees:
            if rng.random() >= 0.8:
                continue
            in_camp = wife_of.get(d.id) if rng.random() < 0.7 else None
            in_camp = in_camp or mother_of.get(d.id)
            if in_camp is not None:
                kin = by_id[in_camp]
                relation = "wife" if wife_of.get(d.id) == in_camp else "mother"
                d.next_of_kin = NextOfKin(_plain_name(kin.name), kin.name.ar, relation, "",
                                          f"{camp_names[kin.facility]}, household {kin.household}")
                continue
            country = d.nationality
            rel = weighted(rng, ("mother", "brother", "father", "wife"), (0.4, 0.3, 0.15, 0.15))
            if rel == "mother":
                other = d.mother_name
            elif rel == "brother":
                other = Name(pick(rng, words.MALE_GIVEN), d.name.father, d.name.grandfather, d.name.family)
            elif rel == "father":
                other = Name(d.name.father, d.name.grandfather, pick(rng, words.MALE_GIVEN), d.name.family)  # type: ignore[arg-type]
            else:
                other = self.female_name(rng, country)
            town = self.birth_place(rng, country)
            d.next_of_kin = NextOfKin(_plain_name(other), other.ar, rel, self.phone(rng, country),
                                      f"{town.name}, {places.BY_CODE[country].name}")

    @staticmethod
    def rationale(rng: random.Random, tier: int, cap_day: dt.date, place: Place) -> str:
        reports = between(rng, 1, 9)
        if tier == 1:
            role = pick(rng, ROLES_TIER1)
            return (f"Assessed {role}; named in {reports} intelligence reports; captured at {place.name} "
                    f"{cap_day:%B %Y}. Escape and reconstitution risk high.")
        if tier == 2:
            role = pick(rng, ROLES_TIER2)
            return f"Assessed {role}; captured at {place.name} {cap_day:%B %Y}; {reports} corroborating reports."
        return f"Low-level member or support role; captured at {place.name} {cap_day:%B %Y}; no leadership indicators."

    def build_detainees(self, prison_counts: list[tuple[places.FacilitySpec, int]]) -> list[Person]:
        rng = _rng(self.seed, "detainees")
        by_code = {f.code: f for f in self.facilities}
        detainees: list[Person] = []
        for spec, n in prison_counts:
            site = by_code[spec.code]
            for k in range(n):
                detainees.append(self.detainee(rng, site, k + 1))
        # Brothers: same father, grandfather, family, mother and birthplace; born apart.
        rng = _rng(self.seed, "brothers")
        by_nat: dict[str, list[Person]] = {}
        for p in detainees:
            by_nat.setdefault(p.nationality, []).append(p)
        pairs = int(len(detainees) * self.scenario.brother_fraction / 2)
        used: set[str] = set()
        nats = [n for n, ps in by_nat.items() if len(ps) >= 2]
        weights = [len(by_nat[n]) for n in nats]
        tries = 0
        while pairs > 0 and tries < pairs * 20 and nats:
            tries += 1
            pool = by_nat[weighted(rng, nats, weights)]
            a, b = rng.sample(pool, 2)
            if a.id in used or b.id in used or a.is_minor or b.is_minor:
                continue
            if abs(a.dob.year - b.dob.year) > 18 or a.dob == b.dob or a.name.ism == b.name.ism:
                continue
            used.update((a.id, b.id))
            self._mother_bound.update((a.id, b.id))
            b.name.father, b.name.grandfather, b.name.family = a.name.father, a.name.grandfather, a.name.family
            b.name.nisba = a.name.nisba
            b.mother_name = a.mother_name
            b.birth_place = a.birth_place
            self.links.append(FamilyLink(a.id, b.id, "brother"))
            pairs -= 1
        return detainees

    # -- camps -----------------------------------------------------------------------------------

    def build_camps(self, camp_counts: list[tuple[places.FacilitySpec, int]], detainees: list[Person]) -> list[Person]:
        rng = _rng(self.seed, "camps")
        residents: list[Person] = []
        free_husbands: dict[str, list[Person]] = {}
        free_sons: dict[str, list[Person]] = {}
        free_brothers: dict[str, list[Person]] = {}
        order = list(detainees)
        rng.shuffle(order)
        for d in order:
            if d.is_minor:
                continue
            age = d.age_on(SCENARIO_DATE)
            if age <= 27:
                free_sons.setdefault(d.nationality, []).append(d)
            elif age >= 24:
                free_husbands.setdefault(d.nationality, []).append(d)
            free_brothers.setdefault(d.nationality, []).append(d)
        mean_size = 4.4
        expected_households = max(1.0, self.scale.residents / mean_size)
        p_husband = min(0.7, self.scenario.wife_in_camp_fraction * len(detainees) / expected_households)
        p_son = min(0.2, 0.06 * len(detainees) / expected_households)
        p_brother = min(0.2, 0.05 * len(detainees) / expected_households)
        for spec, target in camp_counts:
            camp = next(f for f in self.facilities if f.code == spec.code)
            count = 0
            hh_no = 0
            while count < target:
                hh_no += 1
                members = self.household(rng, camp, hh_no, free_husbands, free_sons, free_brothers,
                                         p_husband, p_son, p_brother, foreign_share=0.14 if spec.code == "HOL" else 0.85)
                residents.extend(members)
                count += len(members)
        return residents

    def household(self, rng: random.Random, camp: Facility, hh_no: int, free_husbands: dict[str, list[Person]],
                  free_sons: dict[str, list[Person]], free_brothers: dict[str, list[Person]],
                  p_husband: float, p_son: float, p_brother: float, foreign_share: float) -> list[Person]:
        if rng.random() < foreign_share:
            country = _NAT_FOREIGN(rng)
        else:
            country = "IQ" if rng.random() < 0.56 else "SY"
        ref = f"{camp.code}-{hh_no:05d}"
        if camp.code == "HOL":
            sector = "Annex" if country not in {"IQ", "SY"} else f"Phase {between(rng, 1, 9)}"
        else:
            sector = f"Sector {'ABCD'[below(rng, 4)]}"
        tent = f"{sector.split()[-1][:1]}{between(rng, 1, 40):02d}-{between(rng, 1, 300):03d}"

        husband = son = brother = None
        r = rng.random()
        if r < p_husband and free_husbands.get(country):
            husband = free_husbands[country].pop()
        elif r < p_husband + p_son:
            son = self._pop_unbound(free_sons.get(country))
        elif r < p_husband + p_son + p_brother:
            brother = self._pop_unbound(free_brothers.get(country))

        # The children's father: the detained husband, or the detained son's father (absent), or absent.
        if husband is not None:
            father = husband.name
            head_age = max(18, husband.age_on(SCENARIO_DATE) - between(rng, 0, 16))
            last_conception = husband.capture_date
        elif son is not None:
            father = Name(son.name.father, son.name.grandfather, pick(rng, words.MALE_GIVEN), son.name.family, son.name.nisba)
            head_age = min(66, son.age_on(SCENARIO_DATE) + between(rng, 17, 31))
            last_conception = _dated(rng, dt.date(2017, 1, 1), dt.date(2021, 12, 31))
        else:
            father = self.male_name(rng, country)
            head_age = min(60, max(18, int(rng.gauss(31, 8))))
            last_conception = _dated(rng, dt.date(2018, 1, 1), dt.date(2023, 12, 31))

        if brother is not None:
            head_name = Name(pick(rng, words.FEMALE_GIVEN), brother.name.father, brother.name.grandfather,
                             _feminine(brother.name.family), brother.name.nisba)
            head_mother = brother.mother_name
        else:
            head_name = self.female_name(rng, country)
            head_mother = self.female_name(rng, country)
        head_dob = _birth_on(rng, head_age, SCENARIO_DATE)
        if son is not None:
            head_dob = min(head_dob, son.dob - dt.timedelta(days=365 * 16 + 4))
        if brother is not None and abs(head_dob.year - brother.dob.year) > 20:
            head_dob = _birth_on(rng, max(18, brother.age_on(SCENARIO_DATE) + between(rng, -8, 9)), SCENARIO_DATE)

        arrival = self.arrival(rng, camp.code)
        head = self.resident(rng, camp, ref, sector, head_name, head_mother, "F", head_dob, country, arrival)
        members = [head]
        if husband is not None:
            self.links.append(FamilyLink(head.id, husband.id, "husband"))
        if son is not None:
            self.links.append(FamilyLink(son.id, head.id, "mother"))
            son.mother_name = head.name
        if brother is not None:
            self.links.append(FamilyLink(head.id, brother.id, "brother"))

        # Children: born to the head between her 16th and 45th year, at least a year apart, none after
        # the father could have fathered them, none after the scenario date.
        n_children = weighted(rng, range(8), (0.08, 0.14, 0.19, 0.19, 0.16, 0.12, 0.08, 0.04))
        earliest = head_dob + dt.timedelta(days=365 * 16 + 4)
        latest = min(head_dob + dt.timedelta(days=365 * 45), last_conception + dt.timedelta(days=270), SCENARIO_DATE)
        latest = max(latest, earliest)
        oldest_allowed = SCENARIO_DATE - dt.timedelta(days=365 * 18 + 5)
        earliest = max(earliest, oldest_allowed)
        births: list[dt.date] = []
        span = (latest - earliest).days
        if span > 0:
            for _ in range(n_children):
                day = earliest + dt.timedelta(days=below(rng, span + 1))
                if all(abs((day - b).days) >= 365 for b in births):
                    births.append(day)
        births.sort()
        children: list[Person] = []
        taken = [son.name.ism] if son is not None else []
        for born in births:
            sex = "M" if rng.random() < 0.51 else "F"
            cname = self.child_name(rng, father, sex)
            while cname.ism in taken:
                cname = self.child_name(rng, father, sex)
            taken.append(cname.ism)
            born_in_camp = born >= arrival
            child = self.resident(rng, camp, ref, sector, cname, head.name, sex, born, country,
                                  born if born_in_camp else arrival, born_in_camp=born_in_camp)
            self.links.append(FamilyLink(child.id, head.id, "mother"))
            if husband is not None:
                self.links.append(FamilyLink(child.id, husband.id, "father"))
            if son is not None:
                self.links.append(FamilyLink(child.id, son.id, "brother"))
            children.append(child)
        for a, b in itertools.combinations(children, 2):
            self.links.append(FamilyLink(a.id, b.id, "brother" if b.sex == "M" else "sister"))
        members.extend(children)
        sons = [c for c in children if c.sex == "M"]
        if sons and rng.random() < 0.6:
            head.name.kunya = self.kunya(sons[0].name.ism, female=True)
        if husband is not None and sons and husband.name.kunya is not None and rng.random() < 0.5:
            # A father's kunya is usually his eldest son's name.
            husband.name.kunya = self.kunya(sons[0].name.ism)

        extra = rng.random()
        if extra < 0.08 and husband is not None:
            co_wife_dob = _birth_on(rng, max(18, head_age - between(rng, 0, 10)), SCENARIO_DATE)
            co = self.resident(rng, camp, ref, sector, self.female_name(rng, country), self.female_name(rng, country),
                               "F", co_wife_dob, country, arrival)
            self.links.append(FamilyLink(co.id, husband.id, "husband"))
            members.append(co)
        elif extra < 0.16:
            sis_dob = _birth_on(rng, max(18, head_age + between(rng, -6, 7)), SCENARIO_DATE)
            sis_name = Name(pick(rng, words.FEMALE_GIVEN), head.name.father, head.name.grandfather, head.name.family,
                            head.name.nisba)
            sis = self.resident(rng, camp, ref, sector, sis_name, head.mother_name, "F", sis_dob, country, arrival)
            self.links.append(FamilyLink(sis.id, head.id, "sister"))
            members.append(sis)
        elif extra < 0.19 and head_age <= 45:
            elder_dob = head_dob - dt.timedelta(days=365 * between(rng, 20, 31))
            elder_name = Name(head.name.father, head.name.grandfather, pick(rng, words.MALE_GIVEN),
                              _masculine(head.name.family), head.name.nisba)
            elder = self.resident(rng, camp, ref, sector, elder_name, self.female_name(rng, country), "M", elder_dob,
                                  country, arrival)
            self.links.append(FamilyLink(head.id, elder.id, "father"))
            members.append(elder)
        self.households.append(Household(ref, camp.code, sector, tent, head.id))
        return members

    def _pop_unbound(self, pool: list[Person] | None) -> Person | None:
        """A detainee whose mother is not yet fixed by another link (so names stay consistent)."""
        while pool:
            p = pool.pop()
            if p.id not in self._mother_bound:
                self._mother_bound.add(p.id)
                return p
        return None

    @staticmethod
    def arrival(rng: random.Random, camp: str) -> dt.date:
        r = rng.random()
        if camp == "ROJ":
            return _dated(rng, dt.date(2017, 6, 1), dt.date(2019, 12, 31)) if r < 0.7 else \
                _dated(rng, dt.date(2020, 1, 1), dt.date(2023, 6, 30))
        if r < 0.75:
            return _dated(rng, dt.date(2019, 1, 1), dt.date(2019, 4, 15))
        if r < 0.9:
            return _dated(rng, dt.date(2017, 6, 1), dt.date(2018, 12, 31))
        return _dated(rng, dt.date(2019, 4, 16), dt.date(2022, 12, 31))

    def resident(self, rng: random.Random, camp: Facility, ref: str, sector: str, name: Name, mother: Name,
                 sex: str, dob: dt.date, country: str, arrival: dt.date, born_in_camp: bool = False) -> Person:
        age = SCENARIO_DATE.year - dob.year - ((SCENARIO_DATE.month, SCENARIO_DATE.day) < (dob.month, dob.day))
        child = age < 18
        precision, ymin, ymax = self.precision(rng, dob, (0.75, 0.2, 0.05) if born_in_camp else (0.4, 0.4, 0.2))
        place = Place(camp.name, camp.name_ar, camp.country) if born_in_camp else self.birth_place(rng, country)
        p = Person(
            id=self.new_id(), group="resident", sex=sex, dob=dob, birth_precision=precision, birth_year_min=ymin,
            birth_year_max=ymax, birth_place=place, nationalities=(country,), name=name, mother_name=mother,
            facility=camp.code, custodian=camp.custodian, internment_date=arrival, internment_place=camp.name,
            is_minor=child, household=ref,
            medical_note=(pick(rng, CHILD_MEDICAL) if child else pick(rng, MEDICAL)) if rng.random() < 0.03 else "",
        )
        p.identifiers.append(("document", "SDF", f"{ref}-{between(rng, 1, 100):02d}"))
        if not child and rng.random() < 0.5:
            town = self.birth_place(rng, country)
            kin = self.female_name(rng, country)
            p.next_of_kin = NextOfKin(_plain_name(kin), kin.ar, "sister", self.phone(rng, country),
                                      f"{town.name}, {places.BY_CODE[country].name}")
        return p

    # -- keep-apart and custody history ---------------------------------------------------------

    def build_keep_apart(self, detainees: list[Person]) -> None:
        rng = _rng(self.seed, "keep-apart")
        n = round(len(detainees) * self.scenario.keep_apart_per_detainee)
        by_site: dict[str, list[Person]] = {}
        for d in detainees:
            by_site.setdefault(d.facility, []).append(d)
        brothers = {(link.person, link.relative) for link in self.links if link.relation == "brother"}
        seen: set[tuple[str, str]] = set()
        tries = 0
        while len(self.keep_apart) < n and tries < n * 20:
            tries += 1
            if rng.random() < 0.6:
                pool = by_site[pick(rng, sorted(by_site))]
                if len(pool) < 2:
                    continue
                a, b = rng.sample(pool, 2)
            else:
                a, b = rng.sample(detainees, 2)
            key = (min(a.id, b.id), max(a.id, b.id))
            if key in seen or key in brothers or (key[1], key[0]) in brothers:
                continue
            seen.add(key)
            self.keep_apart.append(KeepApart(key[0], key[1], pick(rng, KEEP_APART_REASONS)))

    def build_history(self, detainees: list[Person], residents: list[Person]) -> None:
        """Each person's custody events, in the ledger's vocabulary (custody.ledger.specs)."""
        rng = _rng(self.seed, "history")
        sc = self.scenario
        prisons = [f for f in self.facilities if f.kind == "prison"]
        receiving = next(f for f in self.facilities if f.kind == "receiving")
        hospital = next(f for f in self.facilities if f.kind == "hospital")
        brf_no = itertools.count(1)

        # Who has been moved already: tier 1 first, most dangerous sites first; then tier 2.
        danger = {f.code: f.danger for f in prisons}
        order = sorted(detainees, key=lambda p: (p.risk_tier or 3, -danger.get(p.facility, 0.0), p.id))
        n_moved = round(len(detainees) * sc.transferred_fraction)
        moved_order = order[:n_moved]
        days = max(1, (SCENARIO_DATE - OPERATION_START).days)
        per_day = max(1, -(-n_moved // days))
        # One helicopter sortie carries up to SORTIE_SEATS detainees from one site on one day.
        sortie: dict[str, tuple[dt.date, str]] = {}
        for day_index in range(days):
            day = OPERATION_START + dt.timedelta(days=day_index)
            batch = moved_order[day_index * per_day:(day_index + 1) * per_day]
            by_site: dict[str, list[Person]] = {}
            for p in batch:
                by_site.setdefault(p.facility, []).append(p)
            for site, people in by_site.items():
                for k in range(0, len(people), SORTIE_SEATS):
                    manifest = f"S-{day:%Y%m%d}-{site}-{k // SORTIE_SEATS + 1:02d}"
                    for p in people[k:k + SORTIE_SEATS]:
                        sortie[p.id] = (day, manifest)

        for d in detainees:
            ev: list[EventSpec] = []

            def add(kind: str, at: dt.datetime, facility: str = "", custodian: str = "", note: str = "",
                    _ev: list[EventSpec] = ev, _d: Person = d, **extra: object) -> None:
                _ev.append(EventSpec(_d.id, len(_ev) + 1, kind, at, facility, custodian, note=note, **extra))  # type: ignore[arg-type]

            current = d.facility
            first = current
            if len(prisons) > 1 and rng.random() < sc.moved_2022_fraction and not d.is_minor:
                first = pick(rng, [f.code for f in prisons if f.code != current])
            first_fac = next(f for f in prisons if f.code == first)
            d.internment_place = first_fac.name
            add("registered", _at(d.internment_date, 9), note="registered by the detaining authority")
            add("intake", _at(d.internment_date, 10), first, "SDF",
                note=f"captured at {d.capture_place.name}" if d.capture_place else "")
            if first != current:
                day = _dated(rng, dt.date(2022, 1, 25), dt.date(2022, 3, 31))
                add("moved", _at(max(day, d.internment_date + dt.timedelta(days=1)), 6), current, "SDF",
                    note="dispersal after the January 2022 prison attack")
            if rng.random() < sc.hospital_fraction:
                day = _dated(rng, max(d.internment_date + dt.timedelta(days=2), dt.date(2022, 6, 1)), dt.date(2025, 10, 31))
                add("hospitalised", _at(day, 14), hospital.code, "SDF", note="admitted to the secure ward")
                add("returned", _at(day + dt.timedelta(days=between(rng, 2, 30)), 11), current, "SDF", note="discharged")
            if d.id in sortie:
                day, manifest = sortie[d.id]
                add("handed_over", _at(day, 6), current, "MIL", note="identity verified at handover",
                    identity_check="match", from_custodian="SDF")
                add("manifested", _at(day, 6, 30), current, "MIL", manifest=manifest, to_facility=receiving.code,
                    expected_arrival=_at(day, 10))
                add("departed", _at(day, 7), current, "MIL", manifest=manifest, to_facility=receiving.code,
                    note="helicopter sortie")
                add("arrived", _at(day, 9, 40), receiving.code, "MIL", manifest=manifest)
                add("handed_over", _at(day, 10, 30), receiving.code, "IRQ", note="identity verified at handover",
                    identity_check="match", from_custodian="MIL")
                d.facility, d.custodian = receiving.code, "IRQ"
                d.identifiers.append(("prisoner", "IRQ", f"BRF-{next(brf_no):06d}"))
            else:
                r = rng.random()
                if r < sc.death_fraction:
                    day = _dated(rng, dt.date(2023, 1, 1), dt.date(2025, 12, 31))
                    add("died", _at(day, 3), current, "SDF", note="died in custody; natural causes recorded")
                    d.legal_status = "deceased"
                elif r < sc.death_fraction + sc.in_hospital_fraction:
                    day = SCENARIO_DATE - dt.timedelta(days=between(rng, 1, 20))
                    add("hospitalised", _at(day, 15), hospital.code, "SDF", note="admitted to the secure ward")
                    d.facility = hospital.code
            self.events.extend(ev)
        for p in residents:
            born_here = p.birth_place.name == p.internment_place
            self.events.append(EventSpec(p.id, 1, "registered", _at(p.internment_date, 11),
                                         note="registered by the camp administration"))
            self.events.append(EventSpec(p.id, 2, "intake", _at(p.internment_date, 12), p.facility, p.custodian,
                                         note="born in the camp" if born_here else "arrived at the camp"))


def _feminine(family: Part | None) -> Part | None:
    """Russian-style surnames take -a for women (Karimov, Karimova)."""
    if family is not None and family.lat.endswith(("ov", "ev")):
        return Part(family.lat + "a", family.ar + "ا")
    return family


def _masculine(family: Part | None) -> Part | None:
    """The man's form of a family name a woman carries (Karimova -> Karimov)."""
    if family is not None and family.lat.endswith(("ova", "eva")):
        return Part(family.lat[:-1], family.ar[:-1])
    return family


def _plain_name(name: Name) -> str:
    from custody.synth.translit import plain

    return " ".join(plain(p.lat) for p in name.chain())


def _users() -> list[DemoUser]:
    out = []
    for agency in AGENCIES:
        for role in ROLES:
            username = f"{agency.code.lower()}.{role}"
            out.append(DemoUser(username, agency.code, role, role.capitalize(), agency.code,
                                f"{username}@demo.custody.invalid"))
    return out


def generate(seed: int, scale: str | Scale = "small", scenario: Scenario | None = None, *,
             plant_duplicates: float = 0.0) -> Population:
    """The whole demo population for `seed` at `scale`: "small", "real", "large", or a Scale of one's own
    (tests that need a database use a tiny one). `plant_duplicates` (a share of people, default none)
    registers that many people a second time from another roster (custody.synth.duplicates); the truth
    is in `pop.planted` only."""
    from custody.synth.duplicates import plant
    from custody.synth.rosters import build_rosters

    b = _Builder(seed, scale, scenario or Scenario())
    prison_counts, camp_counts = b.build_facilities()
    detainees = b.build_detainees(prison_counts)
    residents = b.build_camps(camp_counts, detainees)
    b.build_next_of_kin(detainees, {p.id: p for p in detainees + residents})
    b.build_keep_apart(detainees)
    b.build_history(detainees, residents)
    persons = detainees + residents
    pop = Population(
        seed=seed, scale=b.scale_name, scenario_date=SCENARIO_DATE, agencies=list(AGENCIES), users=_users(),
        facilities=b.facilities, persons=persons, households=b.households, family_links=b.links,
        keep_apart=b.keep_apart, events=b.events, rosters={},
    )
    pop.rosters = build_rosters(pop)
    # after the rosters: a second registration is a registry record, not a row of the primary rosters
    plant(pop, plant_duplicates)
    return pop
