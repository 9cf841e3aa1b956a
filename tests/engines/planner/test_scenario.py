from __future__ import annotations

import json
from pathlib import Path

import pytest

from custody.engines import planner
from custody.engines.planner.scenario import schema

from .conftest import build, tiny_dict

ROOT = Path(__file__).resolve().parents[3]


def test_generator_is_seeded_and_scales_are_as_specified() -> None:
    a, b = planner.generate("real", 7), planner.generate("real", 7)
    assert a.digest() == b.digest()
    assert planner.generate("real", 8).digest() != a.digest()
    assert (len(a.people), len(a.sites), a.horizon_days) == (6000, 7, 30)
    large = planner.generate("large", 1)
    assert (len(large.people), len(large.sites), large.horizon_days) == (60000, 15, 60)
    # About one keep-apart pair per 30 people, every pair naming real people.
    assert len(a.keep_apart) == len(a.people) // 30
    ids = {p.id for p in a.people}
    assert all(x in ids and y in ids for x, y in a.keep_apart)


def test_round_trip_through_the_file_format(tmp_path: Path) -> None:
    sc = planner.generate("small", 2)
    planner.dump(sc, tmp_path / "s.json")
    again = planner.load(tmp_path / "s.json")
    assert again.digest() == sc.digest()
    assert again.people[-1] == sc.people[-1]


def test_documented_schema_is_the_one_the_engine_uses() -> None:
    assert json.loads((ROOT / "docs" / "planning-scenario.schema.json").read_text()) == schema()


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["sites"][1]["danger"].__setitem__(3, "high"), "sites/1/danger/3"),
        (lambda d: d["sites"][0]["danger"].__setitem__(0, 1.5), "sites/0/danger/0"),
        (lambda d: d["people"][2].__setitem__("tier", 5), "people/2/tier"),
        (lambda d: d["helicopters"][0].pop("max_hours"), "helicopters/0"),
        (lambda d: d["sites"][0]["road_open"].pop(), "sites/0/road_open"),
        (lambda d: d["people"][4].__setitem__("site", "S9"), "people/4/site"),
        (lambda d: d["keep_apart"].append(["P0001", "nobody"]), "keep_apart/8/1"),
        (lambda d: d["rules"].__setitem__("minors", "sometimes"), "rules/minors"),
    ],
)
def test_malformed_scenarios_are_rejected_with_the_path_to_the_bad_field(mutate, path: str) -> None:
    data = tiny_dict()
    mutate(data)
    with pytest.raises(planner.ScenarioError) as err:
        build(data)
    assert err.value.path == path
