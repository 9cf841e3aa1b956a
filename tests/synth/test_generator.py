"""The seeded population: determinism, proportions, family consistency, custody history."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from custody.synth import SCENARIO_DATE, Scale, digest, generate
from custody.synth.model import Population

MALE_RELATIONS = {"father", "husband", "brother", "son"}
FEMALE_RELATIONS = {"mother", "wife", "sister", "daughter"}


@pytest.fixture(scope="module")
def pop() -> Population:
    return generate(11, "small")


def test_same_seed_gives_identical_population() -> None:
    assert digest(generate(5, "small")) == digest(generate(5, "small"))


def test_different_seed_gives_different_population() -> None:
    a, b = generate(5, "small"), generate(6, "small")
    assert digest(a) != digest(b)
    assert [p.name.ar for p in a.persons[:50]] != [p.name.ar for p in b.persons[:50]]


def test_unknown_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="scale"):
        generate(1, "huge")
    with pytest.raises(ValueError, match="prisons"):
        generate(1, Scale(prisons=9, detainees=10, camps=1, residents=10))


def test_custom_scale() -> None:
    pop = generate(2, Scale(prisons=2, detainees=40, camps=2, residents=200))
    assert pop.scale == "custom"
    assert len(pop.detainees) == 40 and 190 <= len(pop.residents) <= 230
    assert sum(f.kind == "prison" for f in pop.facilities) == 2


def test_small_scale_sizes(pop: Population) -> None:
    kinds = Counter(f.kind for f in pop.facilities)
    assert kinds == {"prison": 3, "camp": 1, "receiving": 1, "transit": 1, "hospital": 1}
    assert len(pop.detainees) == 300
    assert 1_450 <= len(pop.residents) <= 1_560
    assert all(p.sex == "M" for p in pop.detainees)


def test_agencies_and_demo_users(pop: Population) -> None:
    assert [a.code for a in pop.agencies] == ["CIO", "MIL", "MFA", "FBI", "IRQ", "SDF", "HUM"]
    names = {u.username for u in pop.users}
    assert len(names) == 35
    assert {"irq.clerk", "sdf.viewer", "hum.supervisor", "cio.administrator", "fbi.analyst"} <= names
    assert all(u.username.split(".")[0] == u.agency.lower() for u in pop.users)


def test_risk_tier_proportions(pop: Population) -> None:
    tiers = Counter(p.risk_tier for p in pop.detainees)
    n = len(pop.detainees)
    assert 0.09 <= tiers[1] / n <= 0.22
    assert 0.26 <= tiers[2] / n <= 0.44
    assert 0.41 <= tiers[3] / n <= 0.60
    assert all(p.faction for p in pop.detainees if p.risk_tier == 1)
    assert not any(p.faction for p in pop.detainees if p.risk_tier != 1)
    assert all(p.risk_tier is None and not p.risk_rationale for p in pop.residents)


def test_nationalities_mostly_iraqi_and_syrian_with_many_others(pop: Population) -> None:
    nat = Counter(p.nationality for p in pop.detainees)
    local = (nat["IQ"] + nat["SY"]) / len(pop.detainees)
    assert 0.62 <= local <= 0.85
    assert len(nat) >= 15
    assert all(len(code) == 2 and code.isupper() for p in pop.persons for code in p.nationalities)


def test_camp_is_mostly_children_with_realistic_ages(pop: Population) -> None:
    ages = [p.age_on(SCENARIO_DATE) for p in pop.residents]
    children = sum(a < 18 for a in ages) / len(ages)
    assert 0.5 <= children <= 0.7
    assert max(ages) < 90 and min(ages) >= 0
    for p in pop.persons:
        assert p.is_minor == (p.age_on(SCENARIO_DATE) < 18)
    adults = [p for p in pop.residents if not p.is_minor]
    assert sum(p.sex == "F" for p in adults) / len(adults) > 0.85


def test_birth_precision_brackets_the_truth(pop: Population) -> None:
    for p in pop.persons:
        assert p.birth_year_min <= p.dob.year <= p.birth_year_max
        if p.birth_precision in {"exact", "year"}:
            assert p.birth_year_min == p.birth_year_max == p.dob.year


def test_no_child_older_than_a_parent(pop: Population) -> None:
    by = pop.by_id()
    checked = 0
    for link in pop.family_links:
        if link.relation in {"father", "mother"}:
            child, parent = by[link.person], by[link.relative]
            assert parent.dob + dt.timedelta(days=365 * 13) < child.dob, link
            checked += 1
    assert checked > 100


def test_every_family_link_is_consistent(pop: Population) -> None:
    by = pop.by_id()
    seen = set()
    for link in pop.family_links:
        person, relative = by[link.person], by[link.relative]
        assert person.id != relative.id
        pair = frozenset((person.id, relative.id))
        assert pair not in seen, f"two links between {pair}"
        seen.add(pair)
        if link.relation in MALE_RELATIONS:
            assert relative.sex == "M", link
        else:
            assert link.relation in FEMALE_RELATIONS
            assert relative.sex == "F", link
        if link.relation == "father":
            # The child's nasab continues the father's: his given name, then his father's.
            assert person.name.father == relative.name.ism
            assert person.name.grandfather == relative.name.father
        if link.relation == "mother":
            assert person.mother_name.ism == relative.name.ism
            assert person.mother_name.father == relative.name.father
        if link.relation in {"brother", "sister"}:
            assert person.name.father == relative.name.father
            assert person.name.grandfather == relative.name.grandfather
            assert person.mother_name.ism == relative.mother_name.ism
        if link.relation == "husband":
            assert person.sex == "F" and not person.is_minor and relative.group == "detainee"


@pytest.fixture(scope="module")
def real_pop() -> Population:
    return generate(3, "real")


@pytest.mark.slow
def test_slavic_style_surnames_agree_with_sex(real_pop: Population) -> None:
    checked = 0
    for p in real_pop.persons:
        for name in (p.name, p.mother_name):
            fam = name.family.lat if name.family is not None else ""
            sex = p.sex if name is p.name else "F"
            if fam.endswith(("ova", "eva")):
                assert sex == "F", (p.id, fam)
                checked += 1
            elif fam.endswith(("ov", "ev")):
                assert sex == "M", (p.id, fam)
                checked += 1
    assert checked > 100


def test_residents_are_linked_to_detainees(pop: Population) -> None:
    by = pop.by_id()
    to_detainees = Counter(
        link.relation for link in pop.family_links
        if by[link.person].group == "resident" and by[link.relative].group == "detainee"
    )
    assert to_detainees["husband"] > 0 and to_detainees["father"] > 0
    assert any(
        link.relation == "mother" and by[link.person].group == "detainee" for link in pop.family_links
    ), "no detainee whose mother is in a camp"


def test_person_to_inform_agrees_with_the_family(pop: Population) -> None:
    from custody.synth.load import full_latin

    wives = {(link.relative, link.person) for link in pop.family_links if link.relation == "husband"}
    with_kin = [d for d in pop.detainees if d.next_of_kin is not None]
    assert 0.7 <= len(with_kin) / len(pop.detainees) <= 0.9
    in_camp = 0
    for d in with_kin:
        kin = d.next_of_kin
        if kin.relation == "mother":
            assert kin.name == full_latin(d.mother_name)
        if "household" in kin.address:
            in_camp += 1
            ref = kin.address.rsplit(" ", 1)[-1]
            members = [p for p in pop.residents if p.household == ref and p.name.ar == kin.name_ar]
            assert members, kin
            if kin.relation == "wife":
                assert (d.id, members[0].id) in wives
    assert in_camp > 0


def test_households_hold_every_resident(pop: Population) -> None:
    by = pop.by_id()
    refs = {h.ref for h in pop.households}
    assert all(p.household in refs for p in pop.residents)
    for h in pop.households:
        head = by[h.head]
        assert head.household == h.ref and head.sex == "F" and not head.is_minor
        assert h.camp == head.facility and h.sector and h.tent


def test_keep_apart_pairs(pop: Population) -> None:
    n = len(pop.detainees)
    assert abs(len(pop.keep_apart) - n / 30) <= 2
    by = pop.by_id()
    pairs = {(k.person, k.other) for k in pop.keep_apart}
    assert len(pairs) == len(pop.keep_apart)
    for k in pop.keep_apart:
        assert k.person != k.other and k.reason
        assert by[k.person].group == by[k.other].group == "detainee"


def _replay(events: list) -> tuple[str, str, str]:
    """Where, with whom and in what state the events leave a person: a minimal ledger projection."""
    facility = custodian = ""
    status = "registered"
    for e in events:
        if e.kind in {"intake", "moved", "arrived", "hospitalised", "returned"}:
            facility = e.facility
            custodian = e.custodian or custodian
            status = "in_custody"
        elif e.kind == "departed":
            assert e.facility == facility, "departs from somewhere else than where the person is"
            facility, custodian, status = "", e.custodian, "in_transit"
        elif e.kind == "handed_over":
            assert e.custodian != custodian, "a handover must change the custodian"
            custodian = e.custodian
        elif e.kind == "died":
            status = "deceased"
    return facility, custodian, status


def test_custody_history_is_ordered_and_ends_where_the_person_is(pop: Population) -> None:
    events: dict[str, list] = {}
    for e in pop.events:
        events.setdefault(e.person, []).append(e)
    by = pop.by_id()
    assert set(events) == set(by)
    manifests: dict[str, set[str]] = {}
    for pid, evs in events.items():
        person = by[pid]
        assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
        assert all(a.at <= b.at for a, b in zip(evs, evs[1:], strict=False))
        assert [e.kind for e in evs[:2]] == ["registered", "intake"]
        if person.group == "resident":
            assert len(evs) == 2 and evs[1].facility == person.facility
            assert evs[1].at.date() == person.internment_date
            continue
        assert evs[0].at.date() >= person.capture_date
        facility, custodian, status = _replay(evs)
        if status == "deceased":
            assert person.legal_status == "deceased"
            continue
        assert (facility, custodian, status) == (person.facility, person.custodian, "in_custody"), pid
        for e in evs:
            if e.manifest:
                manifests.setdefault(e.manifest, set()).add(pid)
                assert e.kind in {"manifested", "departed", "arrived"}
    # A sortie carries people from one site, and no more than its seats.
    assert manifests
    assert all(0 < len(people) <= 24 for people in manifests.values())


def test_tier_one_moves_first(pop: Population) -> None:
    moved = [p for p in pop.detainees if p.facility == "BRF"]
    assert moved and all(p.custodian == "IRQ" for p in moved)
    tier1_left = [p for p in pop.detainees if p.risk_tier == 1 and p.facility != "BRF"]
    # Moves go tier 1 first; tier 2 or 3 are moved only once no tier 1 is left behind.
    if any(p.risk_tier != 1 for p in moved):
        assert not tier1_left


@pytest.mark.slow
def test_real_scale_matches_the_brief(real_pop: Population) -> None:
    pop = real_pop
    prisons = [f for f in pop.facilities if f.kind == "prison"]
    assert len(prisons) == 7 and all(f.custodian == "SDF" for f in prisons)
    first_site = Counter(p.prisoner_number.split("-")[0] for p in pop.detainees)
    assert all(200 <= n <= 2_500 for n in first_site.values()), first_site
    assert len(pop.detainees) == 6_000
    assert 39_000 <= len(pop.residents) <= 41_000
    assert sum(f.kind == "camp" for f in pop.facilities) == 2
    assert len({p.nationality for p in pop.detainees}) >= 45
    assert 180 <= len(pop.keep_apart) <= 220
