"""The scheduled situation reports: a django-tasks task that produces the day's reports for every
audience in both languages, then enqueues itself for the next day (the database backend keeps the
queue, `custody db_worker` runs it). `custody sitrep-schedule` starts the chain."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date
from django_tasks import task

from custody.core.history import change_context

DEFAULT_HOUR = 18  # UTC: after the day's last coordination call, before the evening brief


def next_run(after: datetime, hour: int = DEFAULT_HOUR) -> datetime:
    """The first `hour`:00 UTC strictly after `after`."""
    candidate = datetime.combine(after.date(), time(hour), tzinfo=after.tzinfo or timezone.get_current_timezone())
    return candidate if candidate > after else candidate + timedelta(days=1)


@task()
def produce_daily_sitreps(day: str = "", reschedule: bool = True, hour: int = DEFAULT_HOUR,
                          audiences: list[str] | None = None) -> dict[str, object]:
    """Produce the reports of `day` (default: today) for every agency (or the `audiences` named) and, if
    asked, enqueue tomorrow's run with the same audiences."""
    from custody.coordination.models import Trigger
    from custody.coordination.services import produce_all

    the_day: date = parse_date(day) if day else timezone.localdate()  # type: ignore[assignment]
    with change_context(source="task", task="coordination.produce_daily_sitreps", day=the_day.isoformat()):
        reports = produce_all(the_day, trigger=Trigger.SCHEDULE, audiences=audiences)
    following = None
    if reschedule:
        run_at = next_run(timezone.now(), hour)
        produce_daily_sitreps.using(run_after=run_at).enqueue(day="", reschedule=True, hour=hour, audiences=audiences)
        following = run_at.isoformat()
    return {"day": the_day.isoformat(), "reports": [r.pk for r in reports], "next_run": following}
