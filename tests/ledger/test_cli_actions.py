"""The clerk's and supervisor's actions through the CLI, as on the pages and the API: a handover
confirmed by both sides person by person, and a discrepancy listed and resolved."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from .conftest import at


def cli(*args: str) -> str:
    out = StringIO()
    call_command("ledger", *args, stdout=out)
    return out.getvalue()


def test_a_handover_through_the_cli(world: dict[str, Any], person_factory: Any) -> None:
    from custody.ledger.models import LedgerEvent
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec
    from custody.registry.models import Identifier

    p = person_factory()
    Identifier.objects.create(person=p, kind="wristband", value="WB-77")
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))
    out = cli("handover-start", "HSK", "--from", "SDF", "--to", "MIL", "--people", p.ref, "--manifest", "M-9",
              "--user", world["sdf"].username)
    ref = out.split()[1]
    assert out.startswith(f"handover {ref} open: 1 people, SDF -> MIL at HSK")
    with pytest.raises(CommandError, match="wristband"):
        cli("handover-confirm", ref, p.ref, "--side", "send", "--wristband", "WB-78", "--user", world["sdf"].username)
    assert "waiting for the other side" in cli("handover-confirm", ref, p.ref, "--side", "send", "--wristband",
                                               "wb 77", "--user", world["sdf"].username)
    assert not LedgerEvent.objects.filter(kind="handed_over").exists()
    out = cli("handover-confirm", ref, p.ref, "--side", "receive", "--wristband", "WB-77", "--identity-check",
              "match", "--user", world["mil"].username)
    event = LedgerEvent.objects.get(kind="handed_over")
    assert out.strip() == f"{p.ref}: handed over, event #{event.seq}"
    assert event.custodian.code == "MIL"
    with pytest.raises(CommandError, match="not on handover"):
        cli("handover-confirm", ref, "P-999999", "--side", "send", "--wristband", "x", "--user", world["sdf"].username)


def test_discrepancies_listed_and_resolved_through_the_cli(world: dict[str, Any], person_factory: Any,
                                                            make_user: Any) -> None:
    from custody.ledger.models import Discrepancy
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    p = person_factory()
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))
    record_event(EventSpec("manifested", p, at(1), manifest="M-4", to_facility=world["biap"], expected_arrival=at(30)))
    assert cli("reconcile", "--as", world["sdf"].username).strip() == "1 discrepancies raised"
    d = Discrepancy.objects.get()
    listing = cli("discrepancies")
    assert f"#{d.pk}\tnot_arrived" in listing and "M-4" in listing and listing.endswith("1 open\n")
    # The person was expected at BIAP: a supervisor of its operator (IRQ) resolves, not the coordinator's.
    with pytest.raises(CommandError, match="operated by IRQ") as refused:
        cli("resolve", str(d.pk), "--resolution", "Convoy held.", "--as", world["sup"].username)
    assert refused.value.returncode == 3
    irq_sup = make_user("IRQ", "supervisor")
    with pytest.raises(CommandError, match="what was found and done") as empty:
        cli("resolve", str(d.pk), "--resolution", "", "--as", irq_sup.username)
    assert empty.value.returncode == 2
    assert cli("resolve", str(d.pk), "--resolution", "Convoy held at checkpoint; arrived next day.", "--as",
               irq_sup.username).strip() == f"discrepancy #{d.pk} resolved"
    d.refresh_from_db()
    assert d.resolved_by == irq_sup and "Convoy" in d.resolution
    assert cli("discrepancies").strip() == "0 open"


@pytest.mark.parametrize(("args", "message", "code"), [
    (("record", "intake", "P-000000", "--facility", "NOPE"), "No facility NOPE that you may see", 4),
    (("handover-start", "HSK", "--from", "SDF", "--to", "XXX", "--people", "P-000000"), r"No agency XXX \(to_custodian\)", 2),
    (("roll-call", "HSK", "3", "--as", "nobody.at.all"), "no active user named nobody.at.all", 2),
    (("resolve", "999", "--resolution", "x"), "No discrepancy #999", 4),
])
def test_a_typo_gets_a_message_naming_it(world: dict[str, Any], person_factory: Any, args: tuple[str, ...],
                                         message: str, code: int) -> None:
    person_factory(ref="P-000000")
    actor = ("--as", world["sup"].username) if "--as" not in args else ()
    with pytest.raises(CommandError, match=message) as exc:
        cli(*args, *actor)
    assert exc.value.returncode == code


@pytest.mark.parametrize("args", [
    ("record", "died", "P-000000"),
    ("handover-start", "HSK", "--from", "SDF", "--to", "MIL", "--people", "P-000000"),
    ("handover-confirm", "H-1", "P-000000", "--side", "send", "--wristband", "WB-1"),
    ("roll-call", "HSK", "3"),
    ("resolve", "1", "--resolution", "x"),
    ("reconcile",),
    ("delegate", "HUM", "--reason", "x"),
    ("revoke-delegation", "1", "--reason", "x"),
])
def test_a_change_with_no_acting_user_is_refused_and_audited(world: dict[str, Any], person_factory: Any,
                                                            args: tuple[str, ...], monkeypatch: Any) -> None:
    from custody.core.models import AuditEvent, HistoryChange
    from custody.ledger.models import LedgerEvent

    monkeypatch.delenv("CUSTODY_USER", raising=False)
    person_factory(ref="P-000000")
    changes = HistoryChange.objects.count()
    with pytest.raises(CommandError, match="No acting user") as exc:
        cli(*args)
    assert exc.value.returncode == 3
    assert not LedgerEvent.objects.exists() and HistoryChange.objects.count() == changes
    row = AuditEvent.objects.get(action__startswith="ledger.")
    assert row.outcome == "denied" and row.user is None and row.username == "(no user)"
