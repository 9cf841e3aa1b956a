"""The merge policy, rule by rule, through the engine's public face (custody.engines.linkage):
evidence against is never outweighed by names, an automatic merge needs evidence beyond names, and
clusters never chain."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.engines.linkage import (
    BiometricResult,
    Candidate,
    CustodyInterval,
    Identifier,
    MergePolicy,
    Outcome,
    PolicyRecord,
    decided_same,
    queue_order,
    resolve,
    shared_identifier_pairs,
)

POLICY = MergePolicy()
STRONG = 25.0  # names far above the automatic threshold: the rule, not the names, must decide
SDF_NO = Identifier("prisoner", "SDF", "HSK-00012")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def rec(rid: str, **kw: object) -> PolicyRecord:
    kw.setdefault("identifiers", frozenset({SDF_NO}))
    kw.setdefault("sex", "M")
    return PolicyRecord(rid, **kw)  # type: ignore[arg-type]


def codes(d) -> set[str]:  # noqa: ANN001
    return {r.code for r in d.reasons}


def test_shared_authority_identifier_with_nothing_against_merges_and_says_why() -> None:
    d = POLICY.decide(rec("a"), rec("b", identifiers=frozenset({Identifier("prisoner", "sdf", "hsk 00012")})), 6.0)
    assert d.outcome == Outcome.MERGE
    assert [r.code for r in d.evidence] == ["shared_identifier"]
    assert "same prisoner issued by SDF: HSK-00012" in d.evidence[0].text


def test_names_alone_never_merge_however_strong() -> None:
    d = POLICY.decide(rec("a", identifiers=frozenset()), rec("b", identifiers=frozenset()), 40.0)
    assert d.outcome == Outcome.QUEUE
    assert "names_only" in codes(d) and "names_agree" in codes(d)


def test_identifier_without_issuer_is_not_evidence() -> None:
    loose = frozenset({Identifier("document", "", "12")})
    d = POLICY.decide(rec("a", identifiers=loose), rec("b", identifiers=loose), STRONG)
    assert d.outcome == Outcome.QUEUE and not d.evidence


def test_biometric_match_at_operating_point_merges_and_no_match_queues() -> None:
    bare = {"identifiers": frozenset()}
    yes = POLICY.decide(rec("a", **bare), rec("b", **bare), 5.0, BiometricResult("finger", 61.0, 40.0))
    assert yes.outcome == Outcome.MERGE and [r.code for r in yes.evidence] == ["biometric_match"]
    # a verified non-match is a doubt even with a shared number: a person looks
    no = POLICY.decide(rec("a"), rec("b"), STRONG, BiometricResult("finger", 12.0, 40.0))
    assert no.outcome == Outcome.QUEUE and "biometric_no_match" in codes(no)


@pytest.mark.parametrize(
    ("a_kw", "b_kw", "code"),
    [
        ({"sex": "F"}, {"sex": "M"}, "sex_differs"),
        ({"household": "HOL-00012"}, {"household": "HOL-00012"}, "same_household"),
        ({"family": {"b": "sister"}}, {}, "family_link"),
        ({}, {"family": {"a": "brother"}}, "family_link"),
        ({"birth_date": dt.date(1990, 3, 1)}, {"birth_date": dt.date(1990, 1, 3)}, "birth_dates_differ"),
        ({"keep_apart": frozenset({"b"})}, {}, "keep_apart"),
        ({}, {"keep_apart": frozenset({"a"})}, "keep_apart"),
        ({"custody": (CustodyInterval("HSK", T0),)},
         {"custody": (CustodyInterval("SHD", T0 + dt.timedelta(days=30)),)}, "simultaneous_custody"),
    ],
)
def test_evidence_against_is_never_outweighed(a_kw: dict, b_kw: dict, code: str) -> None:
    # names far above the threshold, a shared authority number and a biometric match: still apart
    d = POLICY.decide(rec("a", **a_kw), rec("b", **b_kw), STRONG, BiometricResult("face", 0.99, 0.8))
    assert d.outcome == Outcome.KEEP_APART
    assert code in {r.code for r in d.against}
    # and the pair never ends up in a cluster
    assert resolve([d]).clusters == []


def test_unknown_sex_and_inexact_dates_are_not_against() -> None:
    d = POLICY.decide(rec("a", sex=None, birth_date=dt.date(1990, 3, 1)), rec("b", sex="M"), 6.0)
    assert d.outcome == Outcome.MERGE and not d.against


def test_same_birth_date_is_not_against() -> None:
    day = dt.date(1988, 7, 14)
    assert POLICY.decide(rec("a", birth_date=day), rec("b", birth_date=day), 6.0).outcome == Outcome.MERGE


def test_custody_in_sequence_or_in_one_place_is_not_simultaneous() -> None:
    moved = T0 + dt.timedelta(days=100)
    first = (CustodyInterval("HSK", T0, moved), CustodyInterval("SHD", moved))
    # the other record starts at the new prison the moment the first leaves the old one
    later = (CustodyInterval("SHD", moved),)
    assert POLICY.decide(rec("a", custody=first), rec("b", custody=later), 6.0).outcome == Outcome.MERGE
    # registered twice at the same prison, overlapping: one place, not two
    same = (CustodyInterval("HSK", T0 + dt.timedelta(days=5), moved),)
    assert POLICY.decide(rec("a", custody=first), rec("b", custody=same), 6.0).outcome == Outcome.MERGE
    # but one day at the old prison after the first record was at the new one: two places at once
    late = (CustodyInterval("HSK", moved - dt.timedelta(days=1), moved + dt.timedelta(days=1)),)
    d = POLICY.decide(rec("a", custody=first), rec("b", custody=late), 6.0)
    assert d.outcome == Outcome.KEEP_APART and "simultaneous_custody" in codes(d)


def test_names_below_review_band() -> None:
    bare = {"identifiers": frozenset()}
    assert POLICY.decide(rec("a", **bare), rec("b", **bare), -3.0).outcome == Outcome.KEEP_APART
    # a shared number with unlike names is queued, not merged: a mistyped number is likelier
    d = POLICY.decide(rec("a"), rec("b"), -3.0)
    assert d.outcome == Outcome.QUEUE and "identifier_names_disagree" in codes(d)


def test_clusters_do_not_chain() -> None:
    # A~B and B~C share numbers (merges on their own), but A and C are sisters: never one cluster
    n1, n2 = Identifier("prisoner", "SDF", "1"), Identifier("document", "SDF", "2")
    a = rec("A", sex="F", identifiers=frozenset({n1}), family={"C": "sister"})
    b = rec("B", sex="F", identifiers=frozenset({n1, n2}))
    c = rec("C", sex="F", identifiers=frozenset({n2}))
    records = {r.rid: r for r in (a, b, c)}
    run = POLICY.run(records, [Candidate("A", "B", 9.0), Candidate("B", "C", 8.0), Candidate("A", "C", 7.0)])
    assert all(not {"A", "C"} <= cl for cl in run.clusters)
    assert run.clusters == [frozenset({"A", "B"})]
    chained = next(d for d in run.decisions if d.pair == {"B", "C"})
    assert chained.outcome == Outcome.QUEUE and "chain" in codes(chained)
    assert "A–C" in next(r for r in chained.reasons if r.code == "chain").text


def test_no_chain_through_a_pair_that_was_never_a_candidate() -> None:
    # A~B and B~C merge, A-C was never scored: complete linkage does not assume it
    n1, n2 = Identifier("prisoner", "SDF", "1"), Identifier("prisoner", "IRQ", "2")
    records = {"A": rec("A", identifiers=frozenset({n1})), "B": rec("B", identifiers=frozenset({n1, n2})),
               "C": rec("C", identifiers=frozenset({n2}))}
    run = POLICY.run(records, [Candidate("A", "B", 9.0), Candidate("B", "C", 8.0)])
    assert run.clusters == [frozenset({"A", "B"})]


def test_three_records_that_all_agree_form_one_cluster() -> None:
    records = {x: rec(x) for x in "ABC"}
    run = POLICY.run(records, [Candidate(x, y, 6.0) for x, y in itertools.combinations("ABC", 2)])
    assert run.clusters == [frozenset("ABC")] and len(run.merged) == 3


def test_a_persons_same_decision_does_not_pull_in_a_third_record() -> None:
    records = {"A": rec("A", identifiers=frozenset()), "B": rec("B"), "C": rec("C")}
    run = POLICY.run(records, [Candidate("B", "C", 9.0), Candidate("A", "C", 9.0)],
                     extra=[decided_same("A", "B", "irq.analyst")])
    # A-C is queued (names only), so A-B (a person's) and B-C (the number) cannot both stand
    assert all(len(cl) == 2 for cl in run.clusters)
    assert len(run.clusters) == 1


def test_a_persons_same_decision_does_not_outrank_evidence_against() -> None:
    records = {"A": rec("A", sex="F"), "B": rec("B", sex="M")}
    run = POLICY.run(records, [], extra=[decided_same("A", "B", "irq.analyst")])
    assert run.clusters == []
    d = run.decisions[0]
    assert d.outcome == Outcome.KEEP_APART and [r.code for r in d.against] == ["sex_differs"]


def test_queue_is_ordered_by_what_a_merge_would_change() -> None:
    held = (CustodyInterval("HSK", T0),)
    bare = {"identifiers": frozenset()}
    quiet = POLICY.decide(rec("a", **bare), rec("b", **bare), 30.0)
    headcount = POLICY.decide(rec("c", custody=held, **bare), rec("d", custody=held, **bare), 5.0)
    two = POLICY.decide(rec("e", custodian="SDF", custody=held, risk_tier=1, **bare),
                        rec("f", custodian="IRQ", custody=(CustodyInterval("HSK", T0),), **bare), 4.5)
    order = queue_order([quiet, headcount, two])
    assert [d.a for d in order] == ["e", "c", "a"]
    assert {"two_custodians", "both_held", "risk_tier"} <= codes(two)


def test_shared_identifier_pairs_ignore_placeholders_and_issuerless_numbers() -> None:
    zero = Identifier("prisoner", "SDF", "0")
    rs = [rec(f"p{i}", identifiers=frozenset({zero})) for i in range(30)]
    rs += [rec("x", identifiers=frozenset({Identifier("list_ref", "CIO", "IR-2025-1")})),
           rec("y", identifiers=frozenset({Identifier("list_ref", "CIO", "ir 2025 1")})),
           rec("u", identifiers=frozenset({Identifier("document", "", "7")})),
           rec("v", identifiers=frozenset({Identifier("document", "", "7")}))]
    assert shared_identifier_pairs(rs) == [("x", "y")]


def test_every_decision_explains_itself() -> None:
    d = POLICY.decide(rec("a", sex="F"), rec("b"), STRONG)
    lines = d.explain()
    assert lines[0] == "against: recorded sex differs (F / M)"
    assert d.as_dict()["reasons"][0]["code"] == "sex_differs"


# -- property: no produced cluster contains a pair with evidence against ------------------------------

IDS = [Identifier("prisoner", "SDF", str(k)) for k in range(3)]
DAYS = [None, dt.date(1990, 1, 1), dt.date(1991, 2, 2)]


@st.composite
def populations(draw: st.DrawFn) -> tuple[dict[str, PolicyRecord], list[Candidate], list[tuple[str, str]]]:
    n = draw(st.integers(2, 7))
    rids = [f"r{i}" for i in range(n)]
    records = {}
    for rid in rids:
        others = [x for x in rids if x != rid]
        start = T0 + dt.timedelta(days=draw(st.integers(0, 40)))
        stay = draw(st.sampled_from([None, 10, 60]))
        records[rid] = PolicyRecord(
            rid,
            sex=draw(st.sampled_from([None, "M", "F"])),
            birth_date=draw(st.sampled_from(DAYS)),
            household=draw(st.sampled_from(["", "", "H1", "H2"])),
            family={x: "brother" for x in draw(st.lists(st.sampled_from(others), max_size=1))} if others else {},
            keep_apart=frozenset(draw(st.lists(st.sampled_from(others), max_size=1))) if others else frozenset(),
            identifiers=frozenset(draw(st.lists(st.sampled_from(IDS), max_size=2))),
            custody=draw(st.sampled_from([(), (
                CustodyInterval(draw(st.sampled_from(["HSK", "SHD"])), start,
                                None if stay is None else start + dt.timedelta(days=stay)),)])),
        )
    pairs = draw(st.lists(st.tuples(st.sampled_from(rids), st.sampled_from(rids)), min_size=1, max_size=20))
    cands = [Candidate(a, b, draw(st.floats(-5, 30)),
                       draw(st.sampled_from([None, BiometricResult("finger", 50.0, 40.0),
                                             BiometricResult("finger", 10.0, 40.0)])))
             for a, b in pairs if a != b]
    # people's "same" decisions too: they obey the same rules
    sames = [(a, b) for a, b in draw(st.lists(st.tuples(st.sampled_from(rids), st.sampled_from(rids)), max_size=3))
             if a != b]
    return records, cands, sames


@settings(max_examples=300, deadline=None)
@given(populations())
def test_no_cluster_holds_a_pair_with_evidence_against(
    data: tuple[dict[str, PolicyRecord], list[Candidate], list[tuple[str, str]]],
) -> None:
    records, cands, sames = data
    run = POLICY.run(records, cands, extra=[decided_same(a, b, "cio.analyst") for a, b in sames])
    decided = {d.pair: d for d in run.decisions}
    for cluster in run.clusters:
        for x, y in itertools.combinations(sorted(cluster), 2):
            # every pair inside a cluster is itself a merge, and nothing speaks against it
            assert decided[frozenset((x, y))].outcome == Outcome.MERGE
            assert POLICY.against(records[x], records[y]) == []
    # clusters are disjoint
    seen = [rid for cl in run.clusters for rid in cl]
    assert len(seen) == len(set(seen))


# -- end to end: linkage + policy on a generated population with planted duplicates ---------------------


def test_on_a_generated_population_no_two_people_merge_and_planted_duplicates_are_found() -> None:
    from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD, Linker
    from custody.synth import Scale, generate
    from custody.synth.matching_view import engine_records, policy_records

    pop = generate(3, Scale(prisons=2, detainees=150, camps=1, residents=700), plant_duplicates=0.05)
    truth = {p.id: p.id for p in pop.persons} | {d.duplicate: d.original for d in pop.planted}
    records, prec = engine_records(pop), policy_records(pop)
    linker = Linker(records)
    linker.run()
    rid = [r.rid for r in records]
    cands = [Candidate(rid[s.i], rid[s.j], s.weight) for s in linker.scored if s.weight >= REVIEW_THRESHOLD]
    index = {r: i for i, r in enumerate(rid)}
    cands += [Candidate(a, b, linker.pair_weight(index[a], index[b])) for a, b in shared_identifier_pairs(prec.values())]
    run = POLICY.run(prec, cands)

    merged = [(a, b) for c in run.clusters for a, b in itertools.combinations(sorted(c), 2)]
    assert merged, "the handover and census numbers let some duplicates merge"
    assert [(a, b) for a, b in merged if truth[a] != truth[b]] == []
    queued = {d.pair for d in run.queue}
    found = [d for d in pop.planted
             if frozenset((d.original, d.duplicate)) in queued or any({d.original, d.duplicate} <= c for c in run.clusters)]
    assert len(found) >= 0.9 * len(pop.planted)
    # the names-only threshold merge on the same scores joins different people: the policy is what prevents it
    labels = linker.clusters(DEFAULT_THRESHOLD)
    assert any(labels[s.i] == labels[s.j] and truth[rid[s.i]] != truth[rid[s.j]]
               for s in linker.scored if s.weight >= DEFAULT_THRESHOLD)
