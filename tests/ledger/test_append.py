"""Appending through the services: projection, rules, idempotency, checkpoints."""

from __future__ import annotations

from typing import Any

import pytest

from custody.core.errors import RuleError
from custody.ledger.models import CustodyState, LedgerEvent, SignedCheckpoint, TreeNode
from custody.ledger.services import record_event, record_events_bulk, verify_ledger
from custody.ledger.specs import EventSpec

from .conftest import at


def test_a_transfer_moves_the_person_and_the_registry_follows(world: dict[str, Any], person_factory: Any,
                                                              transfer: Any) -> None:
    p = person_factory()
    events = transfer(p)
    assert [e.seq for e in events] == list(range(6))
    st = CustodyState.objects.get(person=p)
    assert (st.status, st.facility.code, st.custodian.code, st.manifest) == ("in_custody", "BIAP", "IRQ", "")
    p.refresh_from_db()
    assert (p.current_facility.code, p.current_custodian.code, p.custody_status) == ("BIAP", "IRQ", "in_custody")
    assert sorted(p.custodians_ever.values_list("code", flat=True)) == ["IRQ", "MIL", "SDF"]
    # Two nodes per event on average, and a checkpoint every 5 events (the test setting).
    assert TreeNode.objects.filter(level=0).count() == 6
    sizes = [0, *SignedCheckpoint.objects.values_list("tree_size", flat=True)]
    assert sizes[-1] == 6 and all(b - a <= 5 for a, b in zip(sizes, sizes[1:], strict=False))
    assert verify_ledger().ok


def test_idempotent_retry_returns_the_first_event(world: dict[str, Any], person_factory: Any) -> None:
    p = person_factory(held_by="SDF")  # visible to the partner force, which takes them in
    spec = EventSpec("intake", p, at(0), facility=world["prison"], idempotency_id="req-1")
    first = record_event(spec, user=world["sdf"])
    again = record_event(spec, user=world["sdf"])
    assert first.created and not again.created and again.event.pk == first.event.pk
    assert LedgerEvent.objects.count() == 1


def test_the_same_departure_recorded_twice_is_one_event(world: dict[str, Any], person_factory: Any,
                                                       make_user: Any) -> None:
    p = person_factory(held_by="SDF")
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))
    record_event(EventSpec("manifested", p, at(1), manifest="M-9"))
    # Two clerks of the holding agency (the only agency that may record it) at once.
    a = record_event(EventSpec("departed", p, at(2), facility=world["prison"], manifest="M-9"), user=world["sdf"])
    b = record_event(EventSpec("departed", p, at(2), facility=world["prison"], manifest="M-9"), user=make_user("SDF", "clerk"))
    assert a.created and not b.created and a.event.pk == b.event.pk
    assert LedgerEvent.objects.filter(kind="departed").count() == 1


@pytest.mark.parametrize("case,rule_words", [
    ("depart_elsewhere", "no departure from a facility the person is not in"),
    ("arrive_wrong_manifest", "an arrival closes an open departure on the same manifest"),
    ("move_deceased", "nobody escaped, deceased"),
    ("handover_one_side", "both sides confirm"),
    ("handover_no_identity", "the receiving side verifies identity"),
])
def test_rules_refuse_with_the_rule_named(case: str, rule_words: str, world: dict[str, Any], person_factory: Any) -> None:
    p = person_factory()
    a = world["agencies"]
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))
    if case == "depart_elsewhere":
        bad = EventSpec("departed", p, at(1), facility=world["biap"], manifest="M-1")
    elif case == "arrive_wrong_manifest":
        record_event(EventSpec("manifested", p, at(1), manifest="M-1"))
        record_event(EventSpec("departed", p, at(2), facility=world["prison"], manifest="M-1"))
        bad = EventSpec("arrived", p, at(3), facility=world["biap"], manifest="M-2")
    elif case == "move_deceased":
        record_event(EventSpec("died", p, at(1), reason="cardiac arrest"))
        bad = EventSpec("moved", p, at(2), facility=world["biap"])
    elif case == "handover_one_side":
        bad = EventSpec("handed_over", p, at(1), custodian=a["MIL"], sending_officer=world["sdf"], identity_check="match")
    else:
        bad = EventSpec("handed_over", p, at(1), custodian=a["MIL"], sending_officer=world["sdf"],
                        receiving_officer=world["mil"], identity_check="no_match")
    before = LedgerEvent.objects.count()
    with pytest.raises(RuleError) as exc:
        record_event(bad)  # as loading code: the custody rules alone (the custodian rule: test_custodian_matrix)
    assert rule_words in exc.value.message
    assert p.ref in exc.value.message
    assert LedgerEvent.objects.count() == before
    assert verify_ledger().ok


def test_bulk_append_matches_one_by_one(world: dict[str, Any], person_factory: Any) -> None:
    people = [person_factory() for _ in range(30)]
    specs = []
    for i, p in enumerate(people):
        specs.append(EventSpec("registered", p.pk, at(i)))
        specs.append(EventSpec("intake", p.pk, at(i + 1), facility=world["prison"].pk))
        if i % 3 == 0:
            specs.append(EventSpec("hospitalised", p.pk, at(i + 2), facility=world["hospital"].pk))
    seen = []
    n = record_events_bulk(specs, progress=lambda done, total: seen.append((done, total)), batch_size=16)
    assert n == len(specs) and seen[-1] == (len(specs), len(specs))
    assert CustodyState.objects.filter(status="hospital").count() == 10
    assert CustodyState.objects.filter(status="in_custody", facility=world["prison"]).count() == 20
    assert verify_ledger().ok
