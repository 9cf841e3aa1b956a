"""`custody match-scan`: link the whole registry, queue uncertain pairs, merge sure ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from custody.core.commands import CustodyCommand
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD
from custody.matching import services
from custody.matching.cli import console, rich_progress


class Command(CustodyCommand):
    help = "Estimate the linkage model over the registry; queue pairs between the thresholds; merge above."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
        parser.add_argument("--review", type=float, default=REVIEW_THRESHOLD)

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        with rich_progress(con) as progress:
            report = services.scan(threshold=opts["threshold"], review=opts["review"], progress=progress)
        self.stdout.write(f"{report.records:,} people, {report.candidate_pairs:,} candidate pairs, "
                          f"{report.queued:,} queued for a decision, {report.merged:,} merged automatically "
                          f"(run {report.run.pk})")
