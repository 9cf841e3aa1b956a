"""The registry's queued work: sweeping abandoned roster uploads (custody.registry.uploads)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task

from custody.core.history import change_context
from custody.registry.uploads import max_age, sweep

TASK_PATH = "custody.registry.tasks.sweep_uploads"


@task()
def sweep_uploads() -> dict[str, object]:
    with change_context(source="task", task="registry.sweep_uploads"):
        removed = sweep()
    return {"removed": removed, "max_age_hours": max_age().total_seconds() / 3600}


def schedule_sweep() -> str:
    """Queue a sweep for when an upload made now becomes abandoned; returns the task id. One per upload:
    the sweep is cheap, and no standing schedule has to be started for the file to go."""
    result = sweep_uploads.using(run_after=timezone.now() + max_age() + timedelta(minutes=1)).enqueue()
    return str(result.id)
