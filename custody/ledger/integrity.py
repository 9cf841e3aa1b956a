"""Whole-log verification as a recorded run: started from the overview page, the API, the CLI, or once
a day by the housekeeping task, so that the answer to "has the custody record been altered?" is on
the page with its date, not only in an operator's terminal.

A run started from the page or the API goes to the database task queue (`custody db_worker`): at a
million events it takes most of a minute, longer than a page request should. The CLI runs it in
its own process and records it the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.engines.ledger.verify import default_threads

from .models import VerificationRun, VerificationStatus

ACTIVE = (VerificationStatus.QUEUED, VerificationStatus.RUNNING)
# A run still "running" after this long lost its worker (killed, machine restarted): not waited for.
STALE_AFTER = timedelta(hours=2)
_PROGRESS_EVERY = timedelta(seconds=1)


def request_verification(user: Any, trigger: str) -> tuple[VerificationRun, bool]:
    """Queue a run, unless one is already waiting or running: (the run, whether it is new). Two
    supervisors pressing the button together get the same run."""
    from .tasks import ledger_verification

    with transaction.atomic():
        _retire_stale()
        active = VerificationRun.objects.select_for_update().filter(status__in=ACTIVE).first()
        if active is not None:
            return active, False
        run = VerificationRun.objects.create(trigger=trigger, requested_by=_user(user))
    ledger_verification.enqueue(run.pk)
    return run, True


def verify_now(user: Any, trigger: str, progress: Callable[[str], None] | None = None,
               threads: int | None = None) -> VerificationRun:
    """Run in this process (the CLI, the synchronous API) and record the run."""
    run = VerificationRun.objects.create(trigger=trigger, requested_by=_user(user))
    return execute(run.pk, progress, threads)


def execute(run_id: int, progress: Callable[[str], None] | None = None, threads: int | None = None) -> VerificationRun:
    """The work of one run: verify the whole log, keeping the run's progress and result up to date."""
    from .services import rebuild_projection, verify_ledger

    run = VerificationRun.objects.get(pk=run_id)
    if run.finished:
        return run
    run.status, run.started_at = VerificationStatus.RUNNING, timezone.now()
    run.save(update_fields=["status", "started_at"])
    last = [timezone.now()]

    def say(message: str) -> None:
        if progress is not None:
            progress(message)
        now = timezone.now()
        if now - last[0] >= _PROGRESS_EVERY:
            last[0] = now
            VerificationRun.objects.filter(pk=run.pk).update(progress=str(message)[:200])

    try:
        result = verify_ledger(progress=say, threads=threads or default_threads())
        # The pages read headcounts from the projection; replaying the log against it here is what
        # backs them (the same check as `custody ledger rebuild --check`).
        say(_("replaying the log against the stored projection"))
        differences = rebuild_projection(check_only=True)
    except Exception as exc:  # recorded for the page, then raised for the worker's log
        VerificationRun.objects.filter(pk=run.pk).update(
            status=VerificationStatus.ERROR, finished_at=timezone.now(), progress=f"{type(exc).__name__}: {exc}"[:200])
        raise
    problems = [{"kind": p.kind, "seq": p.seq, "message": p.message} for p in result.problems]
    problems += [{"kind": "projection", "seq": None, "message": d} for d in differences]
    run.status = VerificationStatus.FAILED if problems else VerificationStatus.OK
    run.finished_at = timezone.now()
    run.size, run.checkpoints, run.progress = result.size, result.checkpoints, ""
    run.first_bad_event = result.problems[0].seq if result.problems else None
    run.problems = problems[:100]
    run.save()
    return run


def verification_due(now: Any = None) -> bool:
    """True when no run has finished, or is under way, within LEDGER_VERIFY_HOURS (0: never by schedule)."""
    hours = settings.LEDGER_VERIFY_HOURS
    if hours <= 0:
        return False
    since = (now or timezone.now()) - timedelta(hours=hours)
    return not VerificationRun.objects.filter(requested_at__gte=since).exclude(status=VerificationStatus.ERROR).exists()


def latest() -> VerificationRun | None:
    return VerificationRun.objects.order_by("-requested_at", "-id").first()


def latest_finished() -> VerificationRun | None:
    return VerificationRun.objects.exclude(status__in=ACTIVE).order_by("-requested_at", "-id").first()


def _retire_stale() -> None:
    cutoff = timezone.now() - STALE_AFTER
    VerificationRun.objects.filter(status__in=ACTIVE, requested_at__lt=cutoff).update(
        status=VerificationStatus.ERROR, finished_at=timezone.now(), progress="interrupted: no worker finished it")


def _user(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None

