"""The registry's queued work: sweeping abandoned roster uploads (custody.registry.uploads)."""

from __future__ import annotations

from django_tasks import task

from custody.core.history import change_context

TASK_PATH = "custody.registry.tasks.sweep_uploads"


@task()
def sweep_uploads() -> dict[str, object]:
    from custody.registry.uploads import max_age, sweep

    with change_context(source="task", task="registry.sweep_uploads"):
        removed = sweep()
    return {"removed": removed, "max_age_hours": max_age().total_seconds() / 3600}
