"""The ledger's periodic duties run without anyone opening a page: events left unsigned for M minutes
get a checkpoint, and an overdue manifest raises a discrepancy — through the CLI and the real worker."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from .conftest import at


def cli(*args: str) -> str:
    out = StringIO()
    call_command("ledger", *args, stdout=out)
    return out.getvalue()


def test_unsigned_events_are_signed_after_m_minutes_and_overdue_manifests_raised(
    world: dict[str, Any], person_factory: Any, settings: Any
) -> None:
    from custody.ledger.models import Discrepancy, LedgerHead, SignedCheckpoint
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    settings.LEDGER_CHECKPOINT_MINUTES = 10
    p, q = person_factory(), person_factory()
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))  # the first append signs
    record_event(EventSpec("intake", q, at(1), facility=world["prison"]))
    record_event(EventSpec("manifested", q, at(2), manifest="M-3", to_facility=world["biap"],
                           expected_arrival=at(60)))
    assert SignedCheckpoint.objects.order_by("-tree_size").first().tree_size == 1
    assert not Discrepancy.objects.exists()

    # Within M minutes of the last checkpoint nothing is due; the overdue manifest is raised anyway.
    assert cli("housekeeping") == "no checkpoint due; 1 discrepancies raised\n"
    assert Discrepancy.objects.get().manifest == "M-3"

    settings.LEDGER_CHECKPOINT_MINUTES = 0  # M minutes have passed
    assert cli("housekeeping") == "checkpoint signed at 3 events; 0 discrepancies raised\n"
    assert LedgerHead.objects.get(pk=1).last_checkpoint_size == 3
    assert cli("housekeeping") == "no checkpoint due; 0 discrepancies raised\n"
    assert cli("verify").startswith("OK: 3 events")


# The worker closes and reopens database connections between tasks, as a worker should: that needs
# real commits, not the test's enclosing transaction.
@pytest.mark.django_db(transaction=True)
def test_schedule_starts_one_chain_and_the_worker_runs_and_renews_it(world: dict[str, Any], person_factory: Any,
                                                                     settings: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    from custody.ledger.models import SignedCheckpoint
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    settings.LEDGER_CHECKPOINT_MINUTES = 10
    for n in range(3):
        record_event(EventSpec("intake", person_factory(), at(n), facility=world["prison"]))
    settings.LEDGER_CHECKPOINT_MINUTES = 0  # M minutes have passed: the worker's run signs
    assert cli("schedule").startswith("started: task ")
    assert cli("schedule").startswith("already scheduled: task ")
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "-v", "0")
    runs = DBTaskResult.objects.filter(task_path="custody.ledger.tasks.ledger_housekeeping")
    assert sorted(runs.values_list("status", flat=True)) == ["READY", "SUCCESSFUL"]
    done = runs.get(status="SUCCESSFUL")
    assert done.return_value["checkpoint"] == 3
    assert runs.get(status="READY").run_after > timezone.now()
    assert SignedCheckpoint.objects.order_by("-tree_size").first().tree_size == 3
