"""Tampering directly in the database, as someone with database access would: each case is caught
by `custody ledger verify`, which names the event (or the checkpoint) that does not fit."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from custody.ledger.models import APPEND_ONLY_TABLES, AppendOnlyError, LedgerEvent


def drop_guards() -> None:
    with connection.cursor() as cur:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "sqlite":
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}_update"')
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}_delete"')
            else:
                cur.execute(f'DROP TRIGGER IF EXISTS "ro_{table}" ON "{table}"')


def sql(statement: str, *params: Any) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params)


def verify() -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("ledger", "verify", stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def ledger(world: dict[str, Any], person_factory: Any, transfer: Any) -> list[Any]:
    people = [person_factory(ref=f"P-00000{i}") for i in range(3)]
    for i, p in enumerate(people):
        transfer(p, manifest=f"M-{i}", start=i * 300)
    assert LedgerEvent.objects.count() == 18
    assert verify()[0] == 0
    return people


def test_the_database_refuses_updates_and_deletes(ledger: list[Any]) -> None:
    for statement in ("UPDATE ledger_ledgerevent SET reason = 'x' WHERE seq = 3",
                      "DELETE FROM ledger_ledgerevent WHERE seq = 3",
                      "UPDATE ledger_treenode SET \"index\" = 99 WHERE level = 0 AND \"index\" = 0",
                      "DELETE FROM ledger_signedcheckpoint"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            sql(statement)
    event = LedgerEvent.objects.get(seq=3)
    event.reason = "edited"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


def test_a_changed_field_is_named(ledger: list[Any], world: dict[str, Any]) -> None:
    drop_guards()
    sql("UPDATE ledger_ledgerevent SET facility_id = %s WHERE seq = 7", world["hospital"].pk)
    code, out = verify()
    assert code == 1
    assert "first event that does not fit: #7" in out and "column 'facility'" in out and "P-000001" in out


def test_a_changed_body_is_named_by_its_leaf(ledger: list[Any], world: dict[str, Any]) -> None:
    drop_guards()
    ev = LedgerEvent.objects.get(seq=10)
    forged = ev.body.replace('"reason":""', '"reason":"nothing happened"')
    assert forged != ev.body
    sql("UPDATE ledger_ledgerevent SET body = %s, reason = %s WHERE seq = 10", forged, "nothing happened")
    code, out = verify()
    assert code == 1 and "first event that does not fit: #10" in out
    assert "does not match its leaf in the tree" in out


def test_a_deleted_event_is_named(ledger: list[Any]) -> None:
    drop_guards()
    sql("DELETE FROM ledger_ledgerevent WHERE seq = 9")
    code, out = verify()
    assert code == 1 and "first event that does not fit: #9" in out and "event #9 is missing" in out


def test_two_swapped_events_are_named(ledger: list[Any]) -> None:
    drop_guards()
    sql("UPDATE ledger_ledgerevent SET seq = -1 WHERE seq = 4")
    sql("UPDATE ledger_ledgerevent SET seq = 4 WHERE seq = 11")
    sql("UPDATE ledger_ledgerevent SET seq = 11 WHERE seq = -1")
    code, out = verify()
    assert code == 1 and "first event that does not fit: #4" in out
    assert "#11" in out


def test_an_altered_checkpoint_signature_is_named(ledger: list[Any]) -> None:
    drop_guards()
    with connection.cursor() as cur:
        cur.execute("SELECT id, tree_size, signature FROM ledger_signedcheckpoint ORDER BY tree_size LIMIT 1 OFFSET 1")
        pk, size, sig = cur.fetchone()
    sig = bytes(sig)
    sql("UPDATE ledger_signedcheckpoint SET signature = %s WHERE id = %s", bytes([sig[0] ^ 1]) + sig[1:], pk)
    code, out = verify()
    assert code == 1 and f"checkpoint at size {size}" in out and "invalid signature" in out


def test_a_rewritten_event_with_rewritten_hashes_is_caught_by_the_signed_checkpoints(ledger: list[Any]) -> None:
    # The forger recomputes the leaf and every node above it; only the signatures stand in the way.
    from custody.engines.ledger import build_levels, leaf_hashes

    drop_guards()
    ev = LedgerEvent.objects.get(seq=13)
    forged = ev.body.replace('"reason":""', '"reason":"x"')
    sql("UPDATE ledger_ledgerevent SET body = %s, reason = 'x' WHERE seq = 13", forged)
    bodies = [b.encode() for b in LedgerEvent.objects.order_by("seq").values_list("body", flat=True)]
    for level, nodes in enumerate(build_levels(leaf_hashes(bodies))):
        for index, h in enumerate(nodes):
            sql("UPDATE ledger_treenode SET hash = %s WHERE level = %s AND \"index\" = %s", h, level, index)
    code, out = verify()
    assert code == 1 and "no longer hash to the signed root" in out
