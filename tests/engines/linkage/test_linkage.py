"""Linkage end to end on our own synthetic people: blocking, the unsupervised model, clustering,
explanations, evaluation, and input problems."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from custody.engines.linkage.blocking import candidate_pairs
from custody.engines.linkage.cluster import cluster_pairs
from custody.engines.linkage.evaluate import best_threshold_prf, pairwise_prf, recall_at_1
from custody.engines.linkage.model import FSModel
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, LinkageIndex, Linker
from custody.engines.linkage.records import InputError, make_record, parse_dob, read_csv
from custody.engines.names import fold_latin
from tests.engines.linkage.synthetic import households, people, write


def _records(rows: list[dict[str, str]]):  # noqa: ANN202
    return [make_record(r["record_id"], r["name"], dob=r["dob"], nationality=r["nationality"]) for r in rows]


@pytest.fixture(scope="module")
def population() -> tuple[list[dict[str, str]], Linker]:
    rows = people(250, seed=11)
    linker = Linker(_records(rows))
    linker.run()
    return rows, linker


def test_linker_beats_string_baseline_on_cross_script_rosters(population) -> None:  # noqa: ANN001
    rows, linker = population
    truth = [r["identity_id"] for r in rows]
    ours = pairwise_prf(linker.clusters(DEFAULT_THRESHOLD), truth)
    baseline = [
        (i, j, fuzz.token_sort_ratio(fold_latin(rows[i]["name"]), fold_latin(rows[j]["name"])))
        for i in range(len(rows))
        for j in range(i + 1, len(rows))
    ]
    _, base = best_threshold_prf(baseline, truth)
    # the baseline is given its best threshold on the truth; ours uses the fixed default
    assert ours.f1 > base.f1 + 0.2, (ours, base)
    assert ours.precision > 0.75 and ours.recall > 0.75
    r1, counted = recall_at_1(len(rows), linker.triples(), truth)
    assert counted > 100 and r1 > 0.9


def test_model_is_learned_without_labels(population) -> None:  # noqa: ANN001
    _, linker = population
    model = linker.model
    assert model.fitted and 0.0 < model.prior < 0.5
    weights = {(s["comparison"], s["level"]): s["weight"] for s in model.summary()}
    assert weights[("name", "all tokens agree, >=16 bits")] > 5
    assert weights[("name", "names differ")] < 0
    assert weights[("dob", "same date")] > weights[("dob", "different")]
    assert FSModel.from_json(model.to_json()).weight([0] * len(model.comparisons)) == pytest.approx(
        model.weight([0] * len(model.comparisons))
    )


def test_every_score_is_explained_feature_by_feature(population) -> None:  # noqa: ANN001
    _, linker = population
    best = max(linker.scored, key=lambda s: s.weight)
    exp = linker.explain(best.i, best.j)
    assert exp.match_weight == pytest.approx(best.weight)
    data = exp.as_dict()
    total = data["prior_weight"] + sum(item["weight"] for item in data["comparisons"])
    assert total == pytest.approx(data["match_weight"], abs=0.01)
    assert {item["comparison"] for item in data["comparisons"]} >= {"name", "dob", "nationality", "kunya"}
    assert data["name_detail"]["pairs"], "the aligned token pairs are part of the explanation"


def test_blocking_grows_linearly() -> None:
    small = _records(people(200, seed=3))
    big = _records(people(800, seed=3))
    p_small = sum(1 for _ in candidate_pairs(small, max_block=60))
    p_big = sum(1 for _ in candidate_pairs(big, max_block=60))
    # all pairs would grow 16x; blocks are capped, so pairs per record stay bounded
    assert p_big / len(big) <= 60 * 20
    assert p_big < 16 * p_small


def test_cannot_link_blocks_chained_merges() -> None:
    scored = [(0, 1, 10.0), (1, 2, 9.0), (2, 3, 8.0)]
    assert len(set(cluster_pairs(4, scored, 5.0))) == 1
    labels = cluster_pairs(4, scored, 5.0, cannot_link=[(0, 3)])
    assert labels[0] != labels[3]
    assert labels[0] == labels[1]


def test_registration_check_finds_the_person_across_scripts(population) -> None:  # noqa: ANN001
    rows, linker = population
    index = LinkageIndex(linker.records, linker.model)
    arabic = next(r for r in rows if r["script"] == "Arab")
    same = [r for r in rows if r["identity_id"] == arabic["identity_id"] and r is not arabic]
    new = make_record("new", arabic["name"], dob=arabic["dob"], nationality=arabic["nationality"])
    hits = index.query(new, limit=5)
    assert hits, "an identical name must be found"
    found_ids = {rows[i]["identity_id"] for i, _ in hits}
    assert arabic["identity_id"] in found_ids
    if same:
        assert hits[0][1].match_weight > 0


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1987-03-14", True),
        ("1987", True),
        ("1960/1962", True),
        ("1968;1969", True),
        ("c. 1980", True),
        ("14/03/1987", True),
        ("1987-02-30", False),
        ("2999", False),
        ("1850", False),
        ("yesterday", False),
    ],
)
def test_dob_parsing(value: str, ok: bool) -> None:
    dob, why = parse_dob(value, today=dt.date(2026, 1, 1))
    assert (dob is not None) == ok and (why is None) == ok


def test_bad_input_is_reported_by_row_and_column(tmp_path: Path) -> None:
    f = tmp_path / "roster.csv"
    with f.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "dob", "sex"])
        w.writerow(["Mohammed Ali", "1987-02-30", "M"])
        w.writerow(["", "1990", "F"])
        w.writerow(["李小龙", "1970", "X?"])
        w.writerow(["محمد علي", "1987", "M"])
    records, columns, problems = read_csv(f)
    assert len(records) == 4 and columns == ["name", "dob", "sex"]
    text = [str(p) for p in problems]
    assert any(t.startswith("row 1, column 'dob'") and "not a real date" in t for t in text)
    assert any(t.startswith("row 2, column 'name'") and "empty" in t for t in text)
    assert any(t.startswith("row 3, column 'sex'") for t in text)
    linker = Linker(records)
    linker.run()
    assert len(linker.clusters()) == 4  # nothing dropped

    nameless = write(tmp_path / "nameless.csv", [{"id": "1", "surname": "x"}])
    with pytest.raises(InputError, match="no name column.*columns are: id, surname"):
        read_csv(nameless)
    with pytest.raises(InputError, match="more than 2 rows"):
        read_csv(f, max_rows=2)


def test_siblings_stay_apart_while_one_person_across_scripts_joins() -> None:
    """Two siblings share father's, grandfather's, family and mother's names but not the given name
    or the birth year: not one person. The same man in Arabic script and in Latin letters is."""
    rows = people(250, seed=11)
    recs = _records(rows)
    n = len(recs)
    household = dict(nationality="Iraq", mother_name="Khadija Hassan Al-Nuaimi", sex="M")
    recs += [
        make_record("a-lat", "Yasin Harith Sabah Al-Nuaimi", dob="1990-03-14", **household),
        make_record(
            "a-ara",
            "ياسين حارث صباح النعيمي",
            dob="1990-03-14",
            nationality="العراق",
            mother_name="خديجة حسن النعيمي",
            sex="M",
        ),
        make_record("b-lat", "Anas Harith Sabah Al-Nuaimi", dob="1994-07-02", **household),
        make_record("b-ara", "أنس حارث صباح النعيمي", dob="1994", nationality="العراق", sex="M"),
    ]
    linker = Linker(recs)
    linker.run()
    labels = linker.clusters(DEFAULT_THRESHOLD)
    a_lat, a_ara, b_lat, b_ara = range(n, n + 4)
    assert labels[a_lat] == labels[a_ara]
    assert labels[b_lat] == labels[b_ara]
    assert labels[a_lat] != labels[b_lat]
    # the pair score itself says "different people", not only the clustering
    assert linker.pair_weight(a_lat, b_lat) < DEFAULT_THRESHOLD


def test_a_camp_register_of_households_keeps_siblings_apart() -> None:
    """A register made of households (2-4 children each, some written twice): siblings are never
    one person, each child's Arabic and Latin records are."""
    rows = households(300, seed=5, repeat=0.3)
    recs = [
        make_record(
            r["record_id"],
            r["name"],
            dob=r["dob"],
            nationality=r["nationality"],
            sex=r["sex"],
            mother_name=r["mother_name"],
        )
        for r in rows
    ]
    linker = Linker(recs)
    linker.run()
    labels = linker.clusters(DEFAULT_THRESHOLD)
    siblings = merged = same_child = joined = 0
    for a in range(len(rows)):
        for b in range(a + 1, len(rows)):
            if rows[a]["household_id"] != rows[b]["household_id"]:
                continue
            together = labels[a] == labels[b]
            if rows[a]["identity_id"] == rows[b]["identity_id"]:
                same_child += 1
                joined += together
            else:
                siblings += 1
                merged += together
    assert siblings > 1000 and same_child > 200
    assert merged == 0
    assert joined >= 0.9 * same_child
