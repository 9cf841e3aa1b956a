"""Whole-log verification as a recorded run: started from the overview page, the API, the CLI, or once
a day by the housekeeping task, so that the answer to "has the custody record been altered?" is on
the page with its date, not only in an operator's terminal.

A run started from the page or the API goes to the database task queue (`custody db_worker`): at a
million events it takes most of a minute, longer than a page request should. The CLI runs it in
its own process and records it the same way.

Besides the events, the tree and the checkpoints (services.verify_ledger), a run checks that no event
stands unsigned (every append ends with a checkpoint, so an unsigned tail means a dropped checkpoint or
a write around the services) and that the head's frontier is the tree's right edge; given witness files
(`custody ledger verify --witness FILE`), that the log extends every checkpoint they kept
(custody.engines.ledger.witness): truncation, dropped checkpoints and re-signing are named.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.engines.ledger import Frontier, frontier_keys
from custody.engines.ledger.verify import EXACT_KINDS, compute_levels, default_threads
from custody.engines.ledger.witness import check_witnessed, read_witness

from .models import LedgerEvent, LedgerHead, SignedCheckpoint, VerificationRun, VerificationStatus

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


@dataclass(frozen=True)
class Witness:
    """A witness file's bytes and the name its problems are reported under (its path)."""

    name: str
    data: bytes


def verify_now(user: Any, trigger: str, progress: Callable[[str], None] | None = None,
               threads: int | None = None, witnesses: Sequence[Witness] = ()) -> VerificationRun:
    """Run in this process (the CLI, the synchronous API) and record the run."""
    run = VerificationRun.objects.create(trigger=trigger, requested_by=_user(user))
    return execute(run.pk, progress, threads, witnesses)


def execute(run_id: int, progress: Callable[[str], None] | None = None, threads: int | None = None,
            witnesses: Sequence[Witness] = ()) -> VerificationRun:
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
        extra = tail_problems(result.size)
        if witnesses:
            say(_("checking the log against %(n)s witness files") % {"n": len(witnesses)})
            extra += witness_problems(witnesses, threads or default_threads())
        # The pages read headcounts from the projection; replaying the log against it here is what
        # backs them (the same check as `custody ledger rebuild --check`).
        say(_("replaying the log against the stored projection"))
        differences = rebuild_projection(check_only=True)
    except Exception as exc:  # recorded for the page, then raised for the worker's log
        VerificationRun.objects.filter(pk=run.pk).update(
            status=VerificationStatus.ERROR, finished_at=timezone.now(), progress=f"{type(exc).__name__}: {exc}"[:200])
        raise
    problems = [{"kind": p.kind, "seq": p.seq, "message": p.message} for p in result.problems]
    problems += extra
    problems += [{"kind": "projection", "seq": None, "message": d} for d in differences]
    run.status = VerificationStatus.FAILED if problems else VerificationStatus.OK
    run.finished_at = timezone.now()
    run.size, run.checkpoints, run.progress = result.size, result.checkpoints, ""
    run.first_bad_event = _first_bad(problems)
    run.problems = problems[:100]
    run.save()
    return run


def _first_bad(problems: list[dict[str, Any]]) -> int | None:
    # An event found wrong by itself is exact; a checkpoint or a witness only bounds a range.
    exact = [p["seq"] for p in problems if p["seq"] is not None and p["kind"] in EXACT_KINDS | {"field", "file"}]
    if exact:
        return min(exact)
    return next((p["seq"] for p in problems if p["seq"] is not None), None)


def tail_problems(size: int) -> list[dict[str, Any]]:
    """The end of the log, from the database alone: is every event covered by a signed checkpoint, and
    is the head's frontier the right edge of the stored tree (the next append hashes onto it)?"""
    from .services import DbNodes

    problems: list[dict[str, Any]] = []
    signed = SignedCheckpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True).first() or 0
    if size > signed:
        problems.append({"kind": "unsigned", "seq": signed, "message": (
            f"events #{signed}-#{size - 1} are covered by no signed checkpoint: every append ends with one, so "
            "the checkpoint over them was deleted, or they were written around the ledger's services")})
    head = LedgerHead.objects.filter(pk=1).first()
    if head is not None and head.size == size and size:
        try:
            edge = [h.hex() for h in Frontier.from_store(DbNodes(frontier_keys(size)), size).nodes]
        except LookupError:
            edge = None  # a missing node is already named by the tree check
        if edge is not None and list(head.frontier) != edge:
            problems.append({"kind": "head", "seq": None, "message": (
                f"the ledger head's frontier is not the right edge of the tree at {size} events: the next "
                "append would hash onto a forged tree")})
    return problems


def witness_problems(witnesses: Sequence[Witness], threads: int) -> list[dict[str, Any]]:
    """Hold the log to every checkpoint the witnesses kept: the roots are recomputed from the events'
    bodies here, not taken from the stored tree, so a witness checks the events themselves."""
    from .services import checkpoint_of, signing_key

    bodies = [b.encode("utf-8") for b in LedgerEvent.objects.order_by("seq").values_list("body", flat=True)
              .iterator(chunk_size=20000)]
    levels = compute_levels(bodies, threads)
    stored = [checkpoint_of(r) for r in SignedCheckpoint.objects.all()]
    problems: list[dict[str, Any]] = []
    for w in witnesses:
        parsed = read_witness(w.data, w.name)
        found = parsed.problems + check_witnessed(levels, len(bodies), parsed.entries, stored,
                                                  signing_key().public_key(), w.name)
        if not parsed.entries and not parsed.problems:
            problems.append({"kind": "witness-file", "seq": None, "message": f"{w.name} holds no checkpoint"})
        problems += [{"kind": p.kind, "seq": p.index, "message": p.message} for p in found]
    return problems


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

