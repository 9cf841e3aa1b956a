"""Rosters: coverage, the ~3% seen twice under other spellings, spelling habits, the CSV export."""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path

import pytest

from custody.synth import generate, write_roster_csv
from custody.synth.model import Population
from custody.synth.translit import HABITS, STRICT, arabic_variant, draw_style, plain


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate(23, "small")


def _fold(s: str) -> str:
    return " ".join(s.casefold().replace("-", " ").replace("'", "").split())


def test_primary_rosters_cover_everyone_once(pop: Population) -> None:
    sdf = Counter(r.identity_id for r in pop.rosters["sdf-prisons"].rows)
    camp = Counter(r.identity_id for r in pop.rosters["camp-register"].rows)
    assert set(sdf) == {p.id for p in pop.detainees} and set(sdf.values()) == {1}
    assert set(camp) == {p.id for p in pop.residents} and set(camp.values()) == {1}


def test_about_three_percent_appear_in_two_rosters(pop: Population) -> None:
    seen = Counter(r.identity_id for roster in pop.rosters.values() for r in roster.rows)
    twice = sum(1 for n in seen.values() if n == 2)
    assert max(seen.values()) == 2
    assert 0.02 <= twice / len(pop.persons) <= 0.04
    sources = {s.split("-")[0] for s in pop.rosters}
    assert {"sdf", "camp", "irq", "coo", "intel"} <= sources


def test_second_appearance_is_spelled_differently(pop: Population) -> None:
    rows: dict[str, list] = {}
    for roster in pop.rosters.values():
        for r in roster.rows:
            rows.setdefault(r.identity_id, []).append(r)
    pairs = [v for v in rows.values() if len(v) == 2]
    assert pairs
    for a, b in pairs:
        if a.name and b.name:
            assert _fold(a.name) != _fold(b.name), (a, b)
        else:
            # One side only in Arabic script: a different script is a different spelling.
            assert (a.name_ar or b.name_ar)


def test_spellings_differ_from_the_truth(pop: Population) -> None:
    by = pop.by_id()
    for source in ("sdf-prisons", "camp-register"):
        rows = pop.rosters[source].rows
        truth = [_fold(" ".join(plain(p.lat) for p in by[r.identity_id].name.chain())) for r in rows]
        differ = sum(_fold(r.name) != t for r, t in zip(rows, truth, strict=True)) / len(rows)
        assert differ >= 0.7, (source, differ)


def test_irq_register_is_in_arabic_with_mothers_names(pop: Population) -> None:
    rows = pop.rosters["irq-intake"].rows
    assert rows and all(r.name_ar for r in rows)
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in r.name_ar) for r in rows)
    assert sum(bool(r.mother_name) for r in rows) / len(rows) > 0.8
    by = pop.by_id()
    assert all(by[r.identity_id].facility == "BRF" for r in rows)


def test_intel_list_uses_kunyas(pop: Population) -> None:
    rows = pop.rosters["intel-list"].rows
    assert rows
    kunya_rows = [r for r in rows if r.name.startswith("Abu ") or any(a.startswith("Abu") for a in r.aliases)]
    assert kunya_rows
    by = pop.by_id()
    assert all(by[r.identity_id].risk_tier == 1 for r in rows)


def test_rows_do_not_leak_generation_order(pop: Population) -> None:
    ids = [r.identity_id for r in pop.rosters["sdf-prisons"].rows]
    assert ids != sorted(ids)


def test_write_roster_csv_round_trips(pop: Population, tmp_path: Path) -> None:
    for source in ("sdf-prisons", "irq-intake", "intel-list"):
        path = tmp_path / f"{source}.csv"
        n = write_roster_csv(pop, source, path)
        with open(path, encoding="utf-8", newline="") as fh:
            data = list(csv.DictReader(fh))
        assert n == len(data) == len(pop.rosters[source].rows)
        header = list(data[0].keys())
        assert header[0] == "name" and header[-2:] == ["source_ref", "identity_id"]
        assert {"dob", "sex", "nationality", "mother_name", "place_of_birth"} <= set(header)
        assert ("name_ar" in header) == pop.rosters[source].has_arabic
        assert [d["identity_id"] for d in data] == [r.identity_id for r in pop.rosters[source].rows]
        assert [d.get("name_ar", "") for d in data] == [r.name_ar for r in pop.rosters[source].rows]
    coo = next(s for s in pop.rosters if s.startswith("coo-"))
    write_roster_csv(pop, coo, tmp_path / "coo.csv")
    with open(tmp_path / "coo.csv", encoding="utf-8") as fh:
        assert "name_ar" not in fh.readline()


# -- spelling habits, on the transliterator directly ---------------------------------------------

def _spellings(habit: str, lat: str, n: int = 60, seed: int = 1) -> set[str]:
    rng = random.Random(seed)
    return {draw_style(habit, rng).render(lat) for _ in range(n)}


def test_each_habit_has_its_own_marks() -> None:
    assert any("ou" in s for s in _spellings("franco", "Yūsuf"))
    assert any(s.startswith("Abder") for s in _spellings("franco", "ʿAbd al-Raḥmān"))
    assert "Magomed" in _spellings("russian", "Muḥammad")
    assert any("kh" in s.lower() for s in _spellings("russian", "Aḥmad"))
    assert any(s.upper().startswith("G") for s in _spellings("iraqi", "Qāsim"))
    assert any("sch" in s.lower() for s in _spellings("german", "Sharīf"))
    assert any("ş" in s.lower() for s in _spellings("turkish", "Sharīf"))
    assert any(s.lower().startswith("g") for s in _spellings("egyptian", "Jamāl"))


def test_one_name_many_spellings() -> None:
    spellings = set()
    for habit in HABITS:
        spellings |= _spellings(habit, "Muḥammad", 20)
    assert {"Muhammad", "Mohammed", "Mohamed", "Mohammad"} <= {s.title() for s in spellings}
    assert len(spellings) >= 8
    abd = set()
    for habit in HABITS:
        abd |= _spellings(habit, "ʿAbd al-Raḥmān", 20)
    assert {"Abd al-Rahman", "Abdulrahman", "Abdurrahman"} <= abd


def test_strict_form_is_the_reference() -> None:
    assert plain("ʿAbd al-Raḥmān") == STRICT.render("ʿAbd al-Raḥmān") == "Abd al-Rahman"
    assert plain("Muḥammad") == "Muhammad"
    assert plain("al-Jubūrī") == "al-Juburi"


def test_arabic_variants_change_the_script_but_keep_it_arabic() -> None:
    rng = random.Random(4)
    original = "أحمد عبد الرحمن الجبوري"
    variants = {arabic_variant(original, rng, informal=1.0, typo=0.0) for _ in range(40)}
    assert len(variants) > 1 and original not in variants or len(variants) > 2
    assert any("احمد" in v for v in variants)
    assert any("عبدالرحمن" in v for v in variants)
    assert all(all(ch == " " or "\u0600" <= ch <= "\u06ff" for ch in v) for v in variants)


def test_arabic_register_in_windows_1256(pop: Population, tmp_path: Path) -> None:
    path = tmp_path / "irq.csv"
    write_roster_csv(pop, "irq-intake", path, encoding="cp1256")
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = list(csv.DictReader(raw.decode("cp1256").splitlines()))
    assert [r["name_ar"] for r in rows] == [r.name_ar for r in pop.rosters["irq-intake"].rows]
