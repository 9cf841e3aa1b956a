"""`custody match-undo-run RUN --as USER --yes [--reason TEXT]`: undo every automatic merge of one scan,
as one action (matching.undo_run)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.matching import services


class Command(CustodyCommand):
    help = "Undo all automatic merges of a scan (its pairs go back to the queue; nothing is deleted)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run", help="the scan's number, as match-scan printed it")
        parser.add_argument("--reason", default="whole scan undone from the command line")
        parser.add_argument("--yes", action="store_true", help="confirm: undo every merge of the run")
        add_actor_argument(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["yes"]:
            raise CommandError("--yes: confirm that every automatic merge of the run is to be undone", returncode=2)
        user = resolve_actor(opts["user"])
        run = services.do_undo_run(user, opts["run"], reason=opts["reason"])
        undone = run.merges.filter(undone_at=run.undone_at).count()
        self.stdout.write(f"run {run.pk} undone: {undone:,} merges closed, their pairs back in the queue")
