"""`custody match-scan --as USER`: link the whole registry, queue uncertain pairs, merge sure ones (the
action matching.scan, which an analyst or above may run; without a user it refuses)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD
from custody.matching import services
from custody.matching.cli import console, rich_progress


class Command(CustodyCommand):
    help = "Estimate the linkage model over the registry; queue pairs between the thresholds; merge above."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
        parser.add_argument("--review", type=float, default=REVIEW_THRESHOLD)
        add_actor_argument(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        user = resolve_actor(opts["user"])
        with rich_progress(con) as progress:
            report = services.do_scan(user, threshold=opts["threshold"], review=opts["review"], progress=progress)
        self.stdout.write(f"{report.records:,} people, {report.candidate_pairs:,} candidate pairs, "
                          f"{report.queued:,} queued for a decision, {report.merged:,} merged automatically "
                          f"(run {report.run.pk})")
