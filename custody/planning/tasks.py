"""Background solves on the database task queue (run `custody db_worker` beside the web server)."""

from __future__ import annotations

from django_tasks import task


@task()
def solve_plan_run(run_id: int) -> None:
    from custody.planning.services import execute_run

    execute_run(run_id)
