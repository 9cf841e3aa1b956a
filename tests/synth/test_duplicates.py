"""Planted duplicates (generate(..., plant_duplicates=SHARE)): the same person registered a second time
from another roster, with the variation that source brings, the truth kept apart; off, nothing changes."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from custody.synth import Scale, digest, generate
from custody.synth.duplicates import TRUTH_COLUMNS, write_truth
from custody.synth.load import full_latin
from custody.synth.model import Population

SHARE = 0.03


@pytest.fixture(scope="module")
def plain() -> Population:
    return generate(11, "small")


@pytest.fixture(scope="module")
def planted() -> Population:
    return generate(11, "small", plant_duplicates=SHARE)


def test_off_is_the_population_as_before(plain: Population) -> None:
    assert digest(generate(11, "small", plant_duplicates=0.0)) == digest(plain)
    assert generate(11, "small").planted == []


def test_planting_only_appends(plain: Population, planted: Population) -> None:
    # everything the population held before is unchanged, in order: duplicates are added after it
    n, m = len(plain.persons), len(plain.events)
    assert [repr(p) for p in planted.persons[:n]] == [repr(p) for p in plain.persons]
    assert [repr(e) for e in planted.events[:m]] == [repr(e) for e in plain.events]
    for field in ("households", "family_links", "keep_apart", "facilities", "users"):
        assert repr(getattr(planted, field)) == repr(getattr(plain, field)), field
    assert {s: [repr(r) for r in ro.rows] for s, ro in planted.rosters.items()} == \
        {s: [repr(r) for r in ro.rows] for s, ro in plain.rosters.items()}
    assert len(planted.persons) - n == len(planted.planted) == round(n * SHARE)
    assert digest(generate(11, "small", plant_duplicates=SHARE)) == digest(planted)


def test_each_duplicate_is_the_same_person_written_another_way(planted: Population) -> None:
    by_id = planted.by_id()
    roster_ids = {r.identity_id for ro in planted.rosters.values() for r in ro.rows}
    owners = Counter(i for p in planted.persons for i in p.identifiers)
    kinds: Counter[str] = Counter()
    for d in planted.planted:
        o, x = by_id[d.original], by_id[d.duplicate]
        assert d.duplicate not in roster_ids, "a second registration is a registry record, not a roster row"
        assert (x.sex, x.dob, x.nationalities, x.group) == (o.sex, o.dob, o.nationalities, o.group)
        assert x.birth_year_min <= o.dob.year <= x.birth_year_max
        kinds.update(d.variations)
        assert "spelling" in d.variations
        assert full_latin(x.name).casefold() != full_latin(o.name).casefold() or x.name.ar != o.name.ar
        if "dropped_generation" in d.variations:
            assert o.name.grandfather is not None and x.name.grandfather is None
        if "year_only" in d.variations:
            assert o.birth_precision == "exact" and x.birth_precision == "year"
        if "kunya" in d.variations:
            assert x.name.kunya is not None
        # the source's own number belongs to this record alone
        assert owners[x.identifiers[0]] == 1
        shared = set(x.identifiers) & set(o.identifiers)
        assert bool(shared) == ("shared_identifier" in d.variations)
        # nothing that would (rightly) keep the two apart: no household, family link or keep-apart
        assert x.household == ""
    assert not {lk.person for lk in planted.family_links} & {d.duplicate for d in planted.planted}
    assert len({d.source.split("-")[0] for d in planted.planted}) >= 3, "duplicates come from several rosters"
    assert kinds["dropped_generation"] and kinds["year_only"] and kinds["shared_identifier"]


def test_second_registration_is_never_in_two_places_at_once(planted: Population) -> None:
    by_id = planted.by_id()
    events: dict[str, list] = {}
    for e in planted.events:
        events.setdefault(e.person, []).append(e)
    for d in planted.planted:
        mine = events[d.duplicate]
        assert mine[0].kind == "registered"
        intake = [e for e in mine if e.kind == "intake"]
        if not intake:
            assert by_id[d.duplicate].facility == ""  # a list, not a custody registration
            continue
        theirs = events[d.original]
        placed = [e for e in theirs if e.facility and e.kind != "manifested" and e.kind != "departed"]
        # registered where the first record already is, after its last move: one place, not two
        assert intake[0].facility == by_id[d.original].facility
        assert intake[0].at > placed[-1].at


def test_truth_file(planted: Population, tmp_path: Path) -> None:
    path = tmp_path / "out" / "planted-duplicates.csv"
    assert write_truth(planted, path) == len(planted.planted)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert tuple(rows[0]) == TRUTH_COLUMNS
    assert [(r["original"], r["duplicate"]) for r in rows] == [(d.original, d.duplicate) for d in planted.planted]


def test_share_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 0.5"):
        generate(1, Scale(prisons=1, detainees=20, camps=1, residents=40), plant_duplicates=0.9)
