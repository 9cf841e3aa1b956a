"""The ledger's periodic duties, on the database task queue (`custody db_worker` runs them):
sign a checkpoint over events that have waited M minutes unsigned, and raise a discrepancy for every
manifested person overdue — so that both happen whether or not anyone opens a page; and, once every
LEDGER_VERIFY_HOURS, queue a verification of the whole log. The task enqueues its own next run;
`custody ledger schedule` starts the chain (scripts/start.sh does)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from custody.core.history import change_context

TASK_PATH = "custody.ledger.tasks.ledger_housekeeping"


def interval() -> timedelta:
    # At least as often as the checkpoint interval, so no event waits much over M minutes unsigned.
    return timedelta(minutes=max(1, min(settings.LEDGER_CHECKPOINT_MINUTES, 5)))


@task()
def ledger_housekeeping(reschedule: bool = True) -> dict[str, object]:
    from custody.ledger.authority import system_actor
    from custody.ledger.integrity import request_verification, verification_due
    from custody.ledger.services import do_reconcile, sign_if_due

    with change_context(source="task", task="ledger.housekeeping"):
        signed = sign_if_due()
        # Raising discrepancies is a change like any other: through the one door, as the named system
        # actor (custody.ledger.authority), one audit row per pass.
        raised = do_reconcile(system_actor())
        # Once a day the whole log is verified, so the overview always shows a recent answer.
        verification = request_verification(None, "schedule")[0].pk if verification_due() else None
    following = None
    if reschedule:
        run_at = timezone.now() + interval()
        ledger_housekeeping.using(run_after=run_at).enqueue(reschedule=True)
        following = run_at.isoformat()
    return {"checkpoint": signed.tree_size if signed else None, "raised": raised, "verification": verification,
            "next_run": following}


@task()
def ledger_verification(run_id: int) -> dict[str, object]:
    """One recorded run of the whole-log verification (custody.ledger.integrity)."""
    from custody.ledger.integrity import execute

    with change_context(source="task", task="ledger.verification"):
        run = execute(run_id)
    return {"run": run.pk, "status": run.status, "events": run.size}


def schedule() -> tuple[bool, str]:
    """Start the chain unless a run is already waiting; (started, id of the waiting run)."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=TASK_PATH, status__in=["READY", "RUNNING"]).first()
    if waiting is not None:
        return False, str(waiting.id)
    result = ledger_housekeeping.enqueue(reschedule=True)
    return True, str(result.id)
