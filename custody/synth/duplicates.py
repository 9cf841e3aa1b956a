"""Planted duplicates: some people registered a second time, from another roster, as a new record.

Off by default (`generate(..., plant_duplicates=0.0)` gives the same population byte for byte). With a
share, that many people (of those held or living in a camp on the scenario date) get a second registry
record, the way second registrations really arise:

| source | who | custody of the second record |
| --- | --- | --- |
| `irq-intake` | detainees received at the receiving facility | registered again at intake there (same place, same day) |
| `sdf-prisons` | detainees in a prison | registered again at the prison that holds them (a later census, a move) |
| `camp-register` | camp residents | registered again at the camp, without the household link |
| `coo-XX` | foreign nationals | only registered: a country's list for repatriation |
| `intel-list` | detainees with a kunya | only registered: an intelligence report list |

Each second record varies as that source writes: the source's spelling (its transliteration habit, Arabic
written informally), a dropped nasab generation (grandfather, sometimes the family name), a kunya the first
record may not carry, a birth year where the first record has the exact date, and the source's own
identifier; some also carry the first record's identifier (handover papers carry the partner force's
prisoner number), which is what lets a merge be automatic.

The truth (which record duplicates which, and how) is kept in `Population.planted` and written by
`write_truth` to a file beside the output, for evaluation only: the loader never writes it into the
registry. Draws come from their own stream ("<seed>/duplicates"), after everything else, so planting
changes nothing else in the population.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

from custody.core.exports import csv_writer
from custody.synth import places
from custody.synth.model import EventSpec, Name, Person, PlantedDuplicate, Population
from custody.synth.rand import between, pick
from custody.synth.translit import arabic_variant, draw_style
from custody.synth.words import ABU, MALE_GIVEN, Part

__all__ = ["PlantedDuplicate", "TRUTH_COLUMNS", "plant", "write_truth"]

TRUTH_COLUMNS = ("original", "duplicate", "source", "variations")
# Share of second registrations that carry the first record's number, by source: handover papers carry
# the partner force's prisoner number; a census or a camp re-registration sometimes copies the old one;
# a country's list or an intelligence list rarely knows it.
CARRIES_NUMBER = {"irq-intake": 0.6, "sdf-prisons": 0.35, "camp-register": 0.35, "coo": 0.15, "intel-list": 0.1}
HABIT = {"irq-intake": ("iraqi",), "sdf-prisons": ("sdf", "kurmanji"), "camp-register": ("camp", "levant"),
         "intel-list": ("strict", "english")}


def _sources(p: Person, receiving: str, prisons: set[str]) -> list[str]:
    out: list[str] = []
    if p.group == "detainee":
        if p.facility == receiving:
            out.append("irq-intake")
        elif p.facility in prisons:
            out.append("sdf-prisons")
        if p.name.kunya is not None:
            out.append("intel-list")
    else:
        out.append("camp-register")
    if p.nationality not in {"IQ", "SY"}:
        out.append("coo")
    return out


def _variant_name(p: Person, source: str, rng: random.Random, varied: list[str]) -> Name:
    habit = places.BY_CODE[p.nationality].habit if source == "coo" else pick(rng, HABIT[source])
    st = draw_style(habit, rng)

    def part(x: Part | None) -> Part | None:
        if x is None:
            return None
        return Part(st.render(x.lat), arabic_variant(x.ar, rng, informal=0.5, typo=0.02))

    n = p.name
    grandfather, family = n.grandfather, n.family
    if grandfather is not None and rng.random() < 0.5:
        grandfather = None
        varied.append("dropped_generation")
        if family is not None and rng.random() < 0.3:
            family = None
    kunya = n.kunya
    if source == "intel-list" or (kunya is None and p.sex == "M" and rng.random() < 0.2):
        # intelligence lists know people by their kunya; another source may have heard one the first did not
        kunya = kunya or Part(f"{ABU.lat} {pick(rng, MALE_GIVEN).lat}", f"{ABU.ar} {pick(rng, MALE_GIVEN).ar}")
        varied.append("kunya")
    varied.append("spelling")
    out = Name(part(n.ism), part(n.father), part(grandfather), part(family), part(n.nisba), part(kunya))  # type: ignore[arg-type]
    return out


def _last_placed(events: list[EventSpec]) -> dt.datetime:
    placed = [e.at for e in events if e.kind in {"intake", "moved", "hospitalised", "returned", "arrived", "handed_over"}]
    return max(placed) if placed else events[-1].at


def plant(pop: Population, share: float) -> None:
    """Add about `share` x people second registrations to `pop` (persons and events), with the truth
    in `pop.planted`. Deterministic for the population's seed."""
    if not 0.0 <= share <= 0.5:
        raise ValueError(f"plant_duplicates is a share of people between 0 and 0.5, not {share}")
    if share == 0.0:
        return
    rng = random.Random(f"{pop.seed}/duplicates")
    kinds = {f.code: f.kind for f in pop.facilities}
    receiving = next(f.code for f in pop.facilities if f.kind == "receiving")
    prisons = {code for code, kind in kinds.items() if kind == "prison"}
    by_person: dict[str, list[EventSpec]] = {}
    for e in pop.events:
        by_person.setdefault(e.person, []).append(e)
    eligible = [p for p in pop.persons if p.legal_status == "held" and kinds.get(p.facility) != "hospital"]
    chosen = rng.sample(eligible, min(len(eligible), round(len(pop.persons) * share)))
    chosen.sort(key=lambda p: p.id)
    next_no = max(int(p.id[2:]) for p in pop.persons) + 1
    numbers: dict[str, int] = {}
    for p in chosen:
        source = pick(rng, _sources(p, receiving, prisons))
        varied: list[str] = []
        name = _variant_name(p, source, rng, varied)
        dup_id = f"P-{next_no:06d}"
        next_no += 1
        events = by_person[p.id]
        placed = _last_placed(events)
        precision, ymin, ymax = p.birth_precision, p.birth_year_min, p.birth_year_max
        if source == "coo" and rng.random() < 0.8:
            precision, ymin, ymax = "exact", p.dob.year, p.dob.year  # passport data
        elif p.birth_precision != "range" and rng.random() < 0.7:
            precision, ymin, ymax = "year", p.dob.year, p.dob.year
            if p.birth_precision == "exact":
                varied.append("year_only")
        # the source's own number: the next free one of its series
        series = {"irq-intake": ("prisoner", "IRQ", "BRF-9"), "sdf-prisons": ("prisoner", "SDF", f"{p.facility}-9"),
                  "camp-register": ("document", "SDF", f"{p.facility}-R"),
                  "coo": ("list_ref", "MFA", f"{p.nationality}-L"), "intel-list": ("list_ref", "CIO", "IR-2026-")}
        kind, authority, prefix = series[source]
        numbers[prefix] = numbers.get(prefix, 0) + 1
        identifiers = [(kind, authority, f"{prefix}{numbers[prefix]:05d}")]
        varied.append("own_identifier")
        rate = CARRIES_NUMBER["coo" if source == "coo" else source]
        if p.identifiers and rng.random() < rate:
            identifiers.append(p.identifiers[0])
            varied.append("shared_identifier")
        custody = source in {"irq-intake", "sdf-prisons", "camp-register"}
        if source == "irq-intake":
            at = placed + dt.timedelta(minutes=between(rng, 20, 240))
        else:
            latest = dt.datetime.combine(pop.scenario_date, dt.time(8), tzinfo=dt.UTC) - dt.timedelta(days=1)
            at = min(latest, placed + dt.timedelta(days=between(rng, 1, 400)))
        dup = dataclasses.replace(
            p, id=dup_id, name=name, birth_precision=precision, birth_year_min=ymin, birth_year_max=ymax,
            identifiers=identifiers, internment_date=at.date(),
            prisoner_number=identifiers[0][2] if kind == "prisoner" else "",
            risk_tier=p.risk_tier if custody else None, risk_rationale=p.risk_rationale if custody else "",
            faction=p.faction if custody else "", household="", next_of_kin=None, medical_note="",
            aliases=[], facility=p.facility if custody else "", custodian=p.custodian if custody else "",
        )
        pop.persons.append(dup)
        note = f"registered from {source}"
        pop.events.append(EventSpec(dup_id, 1, "registered", at, note=note))
        if custody:
            pop.events.append(EventSpec(dup_id, 2, "intake", at + dt.timedelta(minutes=5), p.facility, p.custodian,
                                        note=note))
        pop.planted.append(PlantedDuplicate(p.id, dup_id, f"coo-{p.nationality}" if source == "coo" else source,
                                            tuple(varied)))


def write_truth(pop: Population, path: str | Path) -> int:
    """The planted duplicates as CSV (`TRUTH_COLUMNS`), for evaluation only; returns the number of rows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv_writer(fh)
        writer.writerow(TRUTH_COLUMNS)
        for d in pop.planted:
            writer.writerow([d.original, d.duplicate, d.source, ";".join(d.variations)])
    return len(pop.planted)
