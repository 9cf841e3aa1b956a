"""Rosters as each source writes them, and their CSV export.

Two primary rosters cover everyone once: the partner force's prison roster (every detainee) and the camp
register (every camp resident). Secondary lists each cover a few people who are already on a primary
roster, under another spelling: the Iraqi intake register (everyone received near Baghdad airport), the
lists countries of origin send about their nationals, and an intelligence report list (mostly tier 1, by
kunya and nisba). The secondary lists together hold about 3% of all people, so about 3% of people appear
in two rosters; every row keeps its true identity id for evaluation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from custody.core.exports import csv_writer
from custody.synth import places
from custody.synth.model import Name, Person, Population, Roster, RosterRow
from custody.synth.rand import below, between, pick, weighted
from custody.synth.translit import Style, arabic_variant, draw_style, typo_edit

SECONDARY_SHARE = 0.03
INTEL_SHARE_OF_SECONDARY = 0.3

CSV_COLUMNS = ("name", "name_ar", "aliases", "dob", "sex", "nationality", "mother_name", "place_of_birth",
               "source_ref", "identity_id")


def _rng(seed: int, stream: str) -> random.Random:
    return random.Random(f"{seed}/rosters/{stream}")


def _clerks(rng: random.Random, habits: list[tuple[str, float]], n: int) -> list[Style]:
    names, weights = zip(*habits, strict=True)
    return [draw_style(weighted(rng, names, weights), rng) for _ in range(n)]


def _fold(s: str) -> str:
    return " ".join(s.casefold().replace("-", " ").replace("'", "").split())


def latin_name(name: Name, st: Style, rng: random.Random, *, grandfather: float, family: float,
               bin_: float = 0.0, surname_first: bool = False, parts: list[str] | None = None) -> str:
    """The name as this clerk writes it; `parts`, if given, receives the written parts in order."""
    if parts is not None:
        text = latin_name(name, st, rng, grandfather=grandfather, family=family, bin_=bin_,
                          surname_first=surname_first)
        parts.extend(_split_parts(name, st, text))
        return text
    upper = st["case"] == "upper"
    given = [st.render(name.ism.lat)]
    if name.father is not None:
        if rng.random() < bin_:
            connector = str(st["bin"])
            given.append(connector.upper() if upper else connector.lower() if connector == "Bin" else connector)
        given.append(st.render(name.father.lat))
    if name.grandfather is not None and rng.random() < grandfather:
        given.append(st.render(name.grandfather.lat))
    surname = st.render(name.family.lat) if name.family is not None and rng.random() < family else ""
    if surname_first and surname:
        return f"{surname.upper()} {' '.join(given)}"
    return " ".join([*given, surname] if surname else given)


def _split_parts(name: Name, st: Style, text: str) -> list[str]:
    """The written parts of `text`, a name `latin_name` wrote with `st` (no surname first, no connector):
    each part is one of the name's parts as the clerk renders it, so multi-word parts stay whole."""
    rendered = [st.render(p.lat) for p in name.chain()]
    out: list[str] = []
    rest = text
    for r in rendered:
        if rest == r or rest.startswith(r + " "):
            out.append(r)
            rest = rest[len(r):].lstrip()
    return out if not rest else []


def arabic_name(name: Name, rng: random.Random, *, grandfather: float, family: float, informal: float,
                typo: float) -> str:
    parts = [name.ism.ar]
    if name.father is not None:
        parts.append(name.father.ar)
    if name.grandfather is not None and rng.random() < grandfather:
        parts.append(name.grandfather.ar)
    if name.family is not None and rng.random() < family:
        parts.append(name.family.ar)
    return arabic_variant(" ".join(parts), rng, informal, typo)


def dob_text(p: Person, rng: random.Random, *, precision: str | None = None, style: str = "iso") -> str:
    """The date of birth as a clerk writes it, at the precision the source knows."""
    kind = precision or p.birth_precision
    d = p.dob
    if kind == "exact":
        if style == "dmy":
            return f"{d.day}/{d.month}/{d.year}"
        if style == "dotted":
            return f"{d.day:02d}.{d.month:02d}.{d.year}"
        return d.isoformat()
    if kind == "year":
        return str(p.birth_year_min if p.birth_precision == "year" else d.year)
    mid = (p.birth_year_min + p.birth_year_max) // 2 if p.birth_precision == "range" else d.year
    age = 2026 - mid
    form = below(rng, 4)
    if form == 0:
        return f"about {age}"
    if form == 1:
        return f"{mid}?"
    if form == 2:
        return f"~{mid}"
    return f"{mid - 2}-{mid + 2}"


def _degrade(p: Person, rng: random.Random, keep_exact: float) -> str:
    """What precision a source has: never better than the truth known to records, sometimes worse."""
    if p.birth_precision == "exact" and rng.random() > keep_exact:
        return "year"
    return p.birth_precision


def _kunya_alias(p: Person, st: Style, with_nisba: bool) -> str:
    if p.name.kunya is None:
        return ""
    text = st.render(p.name.kunya.lat)
    if with_nisba and p.name.nisba is not None:
        text = f"{text} {st.render(p.name.nisba.lat)}"
    return text


def _kunya_alias_ar(p: Person, with_nisba: bool) -> str:
    if p.name.kunya is None:
        return ""
    return p.name.kunya.ar + (f" {p.name.nisba.ar}" if with_nisba and p.name.nisba is not None else "")


def _town(p: Person, ar: bool = False) -> str:
    return p.birth_place.name_ar if ar else p.birth_place.name


def build_rosters(pop: Population) -> dict[str, Roster]:
    seed = pop.seed
    detainees = pop.detainees
    residents = pop.residents
    rosters: dict[str, Roster] = {}

    # The partner force's prison roster: every detainee; English or Kurmanji-trained clerks; often in capitals.
    rng = _rng(seed, "sdf")
    clerks = _clerks(rng, [("sdf", 0.7), ("kurmanji", 0.3)], 8)
    sdf = Roster("sdf-prisons", "Partner force prison roster", "SDF", "sdf", True)
    primary_latin: dict[str, str] = {}
    for p in detainees:
        st = pick(rng, clerks)
        parts: list[str] = []
        name = latin_name(p.name, st, rng, grandfather=0.6, family=0.65, parts=parts)
        if rng.random() < 0.08:
            name, parts = typo_edit(name, rng), []
        name_ar = arabic_name(p.name, rng, grandfather=0.7, family=0.7, informal=0.4, typo=0.04) if rng.random() < 0.35 else ""
        alias = _kunya_alias(p, st, rng.random() < 0.3) if rng.random() < 0.45 else ""
        sdf.rows.append(RosterRow(
            sdf.source, p.prisoner_number, p.id, name, name_ar, (alias,) if alias else (),
            dob_text(p, rng, precision=_degrade(p, rng, 0.9), style="iso"), "M",
            "" if rng.random() < 0.05 else places.BY_CODE[p.nationality].name,
            latin_name(p.mother_name, st, rng, grandfather=0.0, family=0.7) if rng.random() < 0.25 else "",
            _town(p) if rng.random() < 0.7 else "", tuple(parts),
        ))
        primary_latin[p.id] = name
    rosters[sdf.source] = sdf

    # The camp register: every resident, humanitarian registration staff, usually with Arabic script.
    rng = _rng(seed, "camp")
    clerks = _clerks(rng, [("camp", 0.7), ("levant", 0.3)], 6)
    camp = Roster("camp-register", "Camp administration register", "HUM", "camp", True)
    for p in residents:
        st = pick(rng, clerks)
        parts = []
        name = latin_name(p.name, st, rng, grandfather=0.4, family=0.5, parts=parts)
        if rng.random() < 0.06:
            name, parts = typo_edit(name, rng), []
        child = p.is_minor
        mother = ""
        if rng.random() < (0.6 if child else 0.3):
            mother = latin_name(p.mother_name, st, rng, grandfather=0.0, family=0.6)
        camp_ref = next(v for k, _a, v in p.identifiers if k == "document")
        camp.rows.append(RosterRow(
            camp.source, camp_ref, p.id, name,
            arabic_name(p.name, rng, grandfather=0.4, family=0.5, informal=0.5, typo=0.03) if rng.random() < 0.7 else "",
            (), dob_text(p, rng, precision=_degrade(p, rng, 0.8), style="dmy"), p.sex,
            "" if rng.random() < 0.03 else places.BY_CODE[p.nationality].name, mother,
            _town(p) if rng.random() < 0.6 else "", tuple(parts),
        ))
        primary_latin[p.id] = name
    rosters[camp.source] = camp

    # Secondary lists: each person on at most one, about 3% of all people in total.
    rng = _rng(seed, "select")
    total = round(SECONDARY_SHARE * len(pop.persons))
    transferred = [p for p in detainees if any(a == "IRQ" for _k, a, _v in p.identifiers)]
    chosen: set[str] = {p.id for p in transferred}
    remaining = max(0, total - len(transferred))
    tier1 = [p for p in detainees if p.risk_tier == 1 and p.id not in chosen]
    intel_people = rng.sample(tier1, min(len(tier1), round(remaining * INTEL_SHARE_OF_SECONDARY)))
    chosen.update(p.id for p in intel_people)
    foreigners = [p for p in pop.persons if p.nationality not in {"IQ", "SY"} and p.id not in chosen]
    coo_people = rng.sample(foreigners, min(len(foreigners), remaining - len(intel_people)))

    # The Iraqi intake register: Arabic script first, Iraqi passport-style Latin, the mother's full name.
    rng = _rng(seed, "irq")
    clerks = _clerks(rng, [("iraqi", 1.0)], 5)
    irq = Roster("irq-intake", "Iraqi intake register, Baghdad airport facility", "IRQ", "iraqi", True)
    for p in transferred:
        st = pick(rng, clerks)
        number = next(v for k, a, v in p.identifiers if a == "IRQ" and k == "prisoner")
        name = _distinct(lambda st, p=p: latin_name(p.name, st, rng, grandfather=0.9, family=0.8), st, clerks,
                         primary_latin[p.id], rng) if rng.random() < 0.6 else ""
        irq.rows.append(RosterRow(
            irq.source, number, p.id, name,
            arabic_name(p.name, rng, grandfather=0.95, family=0.85, informal=0.3, typo=0.02), (),
            dob_text(p, rng, precision=_degrade(p, rng, 0.95), style="dmy"), "ذكر",
            places.BY_CODE[p.nationality].name_ar,
            arabic_name(p.mother_name, rng, grandfather=0.0, family=0.8, informal=0.3, typo=0.02) if rng.random() < 0.95 else "",
            _town(p, ar=True) if rng.random() < 0.9 else "",
        ))
    rosters[irq.source] = irq

    # Lists from countries of origin: the country's own spelling, passport data (exact dates), its code.
    rng = _rng(seed, "coo")
    by_country: dict[str, list[Person]] = {}
    for p in coo_people:
        by_country.setdefault(p.nationality, []).append(p)
    for code in sorted(by_country):
        country = places.BY_CODE[code]
        clerks = _clerks(rng, [(country.habit, 1.0)], 2)
        surname_first = country.habit in {"franco", "german"} and rng.random() < 0.7
        roster = Roster(f"coo-{code}", f"List from the authorities of {country.name}", "MFA", country.habit, False)
        for i, p in enumerate(by_country[code]):
            st = pick(rng, clerks)
            name = _distinct(lambda st, p=p, sf=surname_first: latin_name(p.name, st, rng, grandfather=0.2, family=0.9,
                                                                          surname_first=sf),
                             st, clerks, primary_latin[p.id], rng)
            roster.rows.append(RosterRow(
                roster.source, f"{code}-{i + 1:05d}", p.id, name, "", (),
                dob_text(p, rng, precision="exact" if rng.random() < 0.9 else "year", style="dotted"), p.sex, code,
                latin_name(p.mother_name, st, rng, grandfather=0.0, family=0.9) if rng.random() < 0.2 else "",
                _town(p) if rng.random() < 0.85 else "",
            ))
        rosters[roster.source] = roster

    # The intelligence report list: scholarly spelling, often only a kunya and nisba, aliases listed.
    rng = _rng(seed, "intel")
    intel = Roster("intel-list", "Intelligence report list", "CIO", "strict", True)
    clerks = _clerks(rng, [("strict", 0.6), ("english", 0.4)], 3)
    for p in intel_people:
        st = pick(rng, clerks)
        kunya = _kunya_alias(p, st, True)
        aliases: list[str] = []
        if kunya and rng.random() < 0.35:
            name, name_ar = kunya, _kunya_alias_ar(p, True) if rng.random() < 0.5 else ""
        else:
            name = _distinct(lambda st, p=p: latin_name(p.name, st, rng, grandfather=0.5, family=0.8, bin_=0.3),
                             st, clerks, primary_latin[p.id], rng)
            name_ar = arabic_name(p.name, rng, grandfather=0.5, family=0.8, informal=0.1, typo=0.0) if rng.random() < 0.5 else ""
            if kunya:
                aliases.append(kunya)
        if p.name.kunya is not None and rng.random() < 0.3:
            other = draw_style("english", rng)
            alt = _kunya_alias(p, other, True)
            if alt not in aliases and alt != name:
                aliases.append(alt)
        year = p.birth_year_min if p.birth_precision != "exact" else p.dob.year
        dob = "" if rng.random() < 0.2 else (str(year) if rng.random() < 0.6 else f"c. {year}")
        intel.rows.append(RosterRow(
            intel.source, f"IR-{2025 + below(rng, 2)}-{between(rng, 1000, 10000)}", p.id, name, name_ar,
            tuple(aliases), dob, "M", "" if rng.random() < 0.2 else p.nationality, "",
            _town(p) if rng.random() < 0.3 else "",
        ))
    rosters[intel.source] = intel

    rng = _rng(seed, "order")
    for roster in rosters.values():
        rng.shuffle(roster.rows)  # row order must not leak generation order (ids, sites, households)
    return rosters


def _distinct(render: Callable[[Style], str], first: Style, clerks: list[Style], primary: str,
              rng: random.Random) -> str:
    """A second roster's spelling that really differs from the first roster's (after case folding): the
    clerk's own first, then the roster's other clerks, then a typo."""
    target = _fold(primary)
    for st in [first, first, *clerks]:
        name = render(st)
        if _fold(name) != target:
            return name
    for _ in range(4):
        edited = typo_edit(name, rng)
        if _fold(edited) != target:
            return edited
    return name + "e"


def write_roster_csv(population: Population, source: str, path: str | Path, encoding: str = "utf-8") -> int:
    """Write one roster as CSV; returns the number of rows. Columns `name_ar` and `aliases` appear only for
    rosters that have them. `encoding` may be "utf-8-sig" or "cp1256" (Windows Arabic, as many registers
    are kept) to test importers; a character the encoding lacks raises UnicodeEncodeError."""
    roster = population.rosters[source]
    columns = [c for c in CSV_COLUMNS
               if (c != "name_ar" or roster.has_arabic) and (c != "aliases" or any(r.aliases for r in roster.rows))]
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv_writer(fh)
        writer.writerow(columns)
        for r in roster.rows:
            values = {
                "name": r.name, "name_ar": r.name_ar, "aliases": "; ".join(r.aliases), "dob": r.dob, "sex": r.sex,
                "nationality": r.nationality, "mother_name": r.mother_name, "place_of_birth": r.place_of_birth,
                "source_ref": r.source_ref, "identity_id": r.identity_id,
            }
            writer.writerow([values[c] for c in columns])
    return len(roster.rows)


__all__ = ["CSV_COLUMNS", "build_rosters", "write_roster_csv", "latin_name", "arabic_name", "dob_text"]
