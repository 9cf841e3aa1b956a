"""`custody sitrep-schedule [--hour H] [--now]`: start the daily chain of scheduled situation reports
(the django-tasks database queue; a worker, `custody db_worker`, runs it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.utils import timezone

from custody.coordination.tasks import DEFAULT_HOUR, next_run, produce_daily_sitreps
from custody.core.commands import CustodyCommand


class Command(CustodyCommand):
    help = "Enqueue the daily situation reports (every audience, English and Arabic), rescheduling each day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hour", type=int, default=DEFAULT_HOUR, help="hour of the day (UTC) to produce them")
        parser.add_argument("--now", action="store_true", help="run once now as well")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["now"]:
            result = produce_daily_sitreps.enqueue(day="", reschedule=False, hour=o["hour"])
            self.stdout.write(f"enqueued now: {result.id}")
        run_at = next_run(timezone.now(), o["hour"])
        result = produce_daily_sitreps.using(run_after=run_at).enqueue(day="", reschedule=True, hour=o["hour"])
        self.stdout.write(f"scheduled for {run_at.isoformat()}: {result.id}")
