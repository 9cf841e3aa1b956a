"""Whole-log verification: each kind of tampering is caught and the first event that does not fit is named."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

from custody.engines.ledger import (
    build_levels,
    canonical_json,
    generate_key,
    leaf_hash,
    leaf_hashes,
    verify_log,
)
from custody.engines.ledger.verify import compute_levels

from .helpers import Log, make_log


def run(log: Log, bodies: list[bytes] | None = None, **kw):  # type: ignore[no-untyped-def]
    bodies = log.bodies if bodies is None else bodies
    kw.setdefault("seqs", [json.loads(b)["seq"] for b in bodies])
    kw.setdefault("stored_levels", log.tree.levels)
    return verify_log(bodies, checkpoints=log.checkpoints, public_key=log.key.public_key(), **kw)


def test_an_untouched_log_verifies() -> None:
    log = make_log(95)
    report = run(log)
    assert report.ok, report.problems
    assert report.size == 95 and report.root == log.tree.root()
    assert report.checkpoints_checked == 9


def test_a_changed_field_is_named() -> None:
    log = make_log(95)
    bodies = list(log.bodies)
    doc = json.loads(bodies[41])
    doc["facility"] = "ELSEWHERE"
    bodies[41] = canonical_json(doc)
    report = run(log, bodies)
    assert not report.ok
    assert report.first_bad_index == 41
    assert "event #41" in report.problems[0].message
    # The signed checkpoints after it fail too; the ones before it still hold.
    assert {p.kind for p in report.problems} >= {"leaf", "checkpoint"}


def test_a_deleted_event_is_named() -> None:
    log = make_log(95)
    bodies = log.bodies[:30] + log.bodies[31:]
    report = run(log, bodies)
    assert report.first_bad_index == 30
    assert report.problems[0].kind == "gap" and "event #30 is missing" in report.problems[0].message


def test_two_swapped_events_are_caught_at_the_first() -> None:
    log = make_log(95)
    bodies = list(log.bodies)
    bodies[12], bodies[57] = bodies[57], bodies[12]
    report = run(log, bodies)
    assert report.first_bad_index == 12
    assert any(p.kind == "leaf" and p.index == 57 for p in report.problems)


def test_swap_without_seqs_still_caught_by_the_stored_leaves() -> None:
    log = make_log(40)
    bodies = list(log.bodies)
    bodies[3], bodies[4] = bodies[4], bodies[3]
    report = run(log, bodies, seqs=None)
    assert report.first_bad_index == 3


def test_an_event_rewritten_with_its_stored_hashes_is_caught_by_the_signed_checkpoints() -> None:
    log = make_log(95)
    bodies = list(log.bodies)
    doc = json.loads(bodies[44])
    doc["custodian"] = "IRQ"
    bodies[44] = canonical_json(doc)
    # The forger also rewrote the stored tree, so the stored leaves and nodes agree with the forgery.
    forged_levels = build_levels(leaf_hashes(bodies))
    report = run(log, bodies, stored_levels=forged_levels)
    assert not report.ok
    first = report.problems[0]
    assert first.kind == "checkpoint" and first.index == 40
    assert "#40-#49" in first.message


def test_an_altered_checkpoint_signature_is_named() -> None:
    log = make_log(50)
    cp = log.checkpoints[2]
    sig = bytes([cp.signature[0] ^ 1]) + cp.signature[1:]
    log.checkpoints[2] = replace(cp, signature=sig)
    report = run(log)
    assert [p.kind for p in report.problems] == ["signature"]
    assert "size 30" in report.problems[0].message


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    log = make_log(20)
    report = verify_log(log.bodies, checkpoints=log.checkpoints, public_key=generate_key().public_key())
    assert {p.kind for p in report.problems} == {"signature"}
    assert "another key" in report.problems[0].message


def test_a_truncated_log_is_caught_by_a_later_checkpoint() -> None:
    log = make_log(50)
    report = run(log, log.bodies[:45], stored_levels=None)
    assert any(p.kind == "size" and "events lost" in p.message for p in report.problems)


def test_an_altered_stored_node_is_named() -> None:
    log = make_log(64)
    levels = copy.deepcopy(log.tree.levels)
    levels[3][2] = bytes(32)
    report = run(log, stored_levels=levels)
    assert [p.kind for p in report.problems] == ["node"]
    assert report.problems[0].index == 16 and "(3, 2)" in report.problems[0].message


def test_tree_on_several_threads_equals_the_tree_on_one() -> None:
    bodies = [f"event {i}".encode() for i in range(70_001)]
    assert compute_levels(bodies, threads=2) == build_levels(leaf_hashes(bodies))
    assert compute_levels(bodies, threads=3)[0][-1] == leaf_hash(bodies[-1])


def test_stored_tree_shorter_than_the_log_is_reported_not_crashed() -> None:
    log = make_log(40)
    levels = [list(level) for level in log.tree.levels]
    levels[0] = levels[0][:33]
    report = run(log, stored_levels=levels)
    assert any(p.kind == "size" for p in report.problems)
