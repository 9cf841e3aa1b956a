"""The demo's incidents and danger estimates: seeded, plausible, and telling one story (one prison
getting more dangerous) that the warnings page and the dashboard then show."""

from __future__ import annotations

from collections import Counter

from custody.synth import generate
from custody.synth.coordination import WEEKS, coordination_picture


def test_the_same_seed_gives_the_same_picture_and_another_seed_another() -> None:
    facilities = generate(11, "small").facilities
    assert coordination_picture(11, facilities) == coordination_picture(11, facilities)
    assert coordination_picture(11, facilities) != coordination_picture(12, facilities)


def test_every_prison_has_a_weekly_estimate_and_one_prison_rises() -> None:
    facilities = generate(11, "small").facilities
    incidents, estimates = coordination_picture(11, facilities)
    prisons = {f.code for f in facilities if f.kind == "prison"}
    assert {e.site for e in estimates} == prisons
    assert all(0.001 <= e.probability <= 0.35 for e in estimates)
    per_site = Counter(e.site for e in estimates)
    assert set(per_site.values()) == {WEEKS + 1}
    hot = max((f for f in facilities if f.kind == "prison"), key=lambda f: (f.danger, f.code)).code
    series = [e.probability for e in sorted((e for e in estimates if e.site == hot), key=lambda e: -e.days_ago)]
    assert series[-1] > 2 * series[-5]  # a clear rise over the last four weeks
    recent = Counter(i.site for i in incidents if i.days_ago <= 21)
    assert recent[hot] == max(recent.values())
    assert {i.kind for i in incidents} <= {"attack", "shelling", "unrest", "escape_attempt", "road_closure", "other"}
    assert all(1 <= i.severity <= 5 and i.description for i in incidents)


def test_a_population_without_prisons_has_no_picture() -> None:
    camps_only = [f for f in generate(11, "small").facilities if f.kind != "prison"]
    assert coordination_picture(11, camps_only) == ([], [])
