"""The ledger's periodic duties run without anyone opening a page: an overdue manifest raises a
discrepancy, and events left unsigned for M minutes would get a checkpoint — through the CLI and the real
worker. Since issue 14 every append ends signed, so the worker finds nothing left to sign."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from typing import Any

from django.core.management import call_command

from .conftest import ROOT, at


def cli(*args: str) -> str:
    out = StringIO()
    call_command("ledger", *args, stdout=out)
    return out.getvalue()


def test_appends_leave_nothing_unsigned_and_overdue_manifests_are_raised(
    world: dict[str, Any], person_factory: Any, settings: Any
) -> None:
    from custody.ledger.models import Discrepancy, LedgerHead, SignedCheckpoint
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    settings.LEDGER_CHECKPOINT_MINUTES = 10
    p, q = person_factory(), person_factory()
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))
    record_event(EventSpec("intake", q, at(1), facility=world["prison"]))
    record_event(EventSpec("manifested", q, at(2), manifest="M-3", to_facility=world["biap"],
                           expected_arrival=at(60)))
    # Each append ended signed, within M minutes of the one before (the old rule left two unsigned).
    assert list(SignedCheckpoint.objects.values_list("tree_size", flat=True)) == [1, 2, 3]
    assert not Discrepancy.objects.exists()

    # Nothing is due; the overdue manifest is raised anyway.
    assert cli("housekeeping") == "no checkpoint due; 1 discrepancies raised\n"
    assert Discrepancy.objects.get().manifest == "M-3"

    settings.LEDGER_CHECKPOINT_MINUTES = 0  # M minutes have passed: still nothing unsigned
    assert cli("housekeeping") == "no checkpoint due; 0 discrepancies raised\n"
    assert LedgerHead.objects.get(pk=1).last_checkpoint_size == 3
    assert cli("housekeeping") == "no checkpoint due; 0 discrepancies raised\n"
    assert cli("verify").startswith("OK: 3 events")


def test_schedule_starts_one_chain_and_the_real_worker_runs_and_renews_it(live_database: dict[str, str]) -> None:
    """Real processes on a database of their own: the CLI records and schedules, `custody db_worker`
    runs the queue as it does beside the web server."""
    env = {**live_database, "CUSTODY_LEDGER_CHECKPOINT_MINUTES": "10"}

    def custody(*args: str, **extra: str) -> str:
        out = subprocess.run([sys.executable, "-m", "custody", *args], env={**env, **extra}, cwd=ROOT,
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout + out.stderr[-3000:]
        return out.stdout

    subprocess.run([sys.executable, str(ROOT / "tests" / "ledger" / "ledger_child.py"), "setup", "3"], env=env,
                   cwd=ROOT, check=True, capture_output=True)
    for n in range(3):
        custody("ledger", "record", "intake", f"P-{n:06d}", "--facility", "HSK", "--at", f"2026-01-05T06:0{n}:00Z",
                "--as", "sdf.clerk.a")
    assert custody("ledger", "schedule").startswith("started: task ")
    assert custody("ledger", "schedule").startswith("already scheduled: task ")
    # M minutes have passed (M = 0 for the worker): its run finds nothing unsigned, every append ended signed.
    custody("db_worker", "--batch", "--no-startup-delay", "--no-reload", CUSTODY_LEDGER_CHECKPOINT_MINUTES="0")
    state = json.loads(custody("shell", "-c", SHOW_STATE).strip().splitlines()[-1])
    assert sorted(state["runs"]) == ["READY", "SUCCESSFUL"]
    assert state["returned"]["checkpoint"] is None
    assert state["next_run_in_future"] is True
    assert state["latest_checkpoint"] == 3
    assert custody("ledger", "verify").startswith("OK: 3 events")


SHOW_STATE = """
import json
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from custody.ledger.models import SignedCheckpoint
runs = DBTaskResult.objects.filter(task_path="custody.ledger.tasks.ledger_housekeeping")
done = runs.get(status="SUCCESSFUL")
print(json.dumps({"runs": list(runs.values_list("status", flat=True)), "returned": done.return_value,
                  "next_run_in_future": runs.get(status="READY").run_after > timezone.now(),
                  "latest_checkpoint": SignedCheckpoint.objects.order_by("-tree_size").first().tree_size}))
"""


def test_a_reconcile_pass_with_nothing_new_costs_the_same_for_5_or_40_overdue(
    world: dict[str, Any], person_factory: Any, django_assert_max_num_queries: Any
) -> None:
    """The board reconciles on every view and the task every few minutes: no query per person."""
    from custody.ledger.models import Discrepancy
    from custody.ledger.services import reconcile, record_events_bulk
    from custody.ledger.specs import EventSpec

    for batch in (5, 35):
        people = [person_factory() for _ in range(batch)]
        specs = [EventSpec("intake", p.pk, at(0), facility=world["prison"].pk) for p in people]
        specs += [EventSpec("manifested", p.pk, at(1), manifest="M-8", to_facility=world["biap"].pk,
                            expected_arrival=at(30)) for p in people]
        record_events_bulk(specs)
        assert reconcile() == batch
        with django_assert_max_num_queries(4):
            assert reconcile() == 0
    assert Discrepancy.objects.filter(resolved_at__isnull=True).count() == 40
