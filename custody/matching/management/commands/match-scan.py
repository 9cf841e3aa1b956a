"""`custody match-scan --as USER [--dry-run]`: link the whole registry and decide every candidate pair
through the merge policy (the action matching.scan, which an analyst or above may run; without a user it
refuses). `--dry-run` lists what would be merged and queued, with the reasons, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandParser

from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD
from custody.matching import services
from custody.matching.cli import console, rich_progress


class Command(CustodyCommand):
    help = ("Link the registry and decide each candidate pair by the merge policy: merge automatically only "
            "with evidence beyond names and nothing against; queue the rest with its reasons; keep apart "
            "what the records say are two people. --dry-run changes nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                            help="match weight at which names 'agree' (names alone never merge)")
        parser.add_argument("--review", type=float, default=REVIEW_THRESHOLD,
                            help="match weight below which names alone do not make a candidate")
        parser.add_argument("--dry-run", action="store_true",
                            help="list what would be merged and queued, with the reasons; write nothing")
        parser.add_argument("--show", type=int, default=20, help="how many merges and queued pairs to list")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
        add_actor_argument(parser)

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        user = resolve_actor(opts["user"])
        with rich_progress(con) as progress:
            report = services.do_scan(user, threshold=opts["threshold"], review=opts["review"],
                                      dry_run=opts["dry_run"], progress=progress)
        if opts["json"]:
            body = report.summary()
            body.update(run=report.run.pk if report.run else None, dry_run=report.dry_run,
                        merges=[m.line() for m in report.merges], queue=[q.line() for q in report.queue])
            self.stdout.write(json.dumps(body, indent=2, ensure_ascii=False))
            return
        w = self.stdout.write
        verb = ("would be " if report.dry_run else "")
        head = "DRY RUN, nothing changed: " if report.dry_run else ""
        w(f"{head}{report.records:,} people, {report.candidate_pairs:,} candidate pairs: "
          f"{report.merged:,} {verb}merged automatically, {report.queued:,} {verb}queued for a decision, "
          f"{report.kept_apart:,} kept apart (evidence against)"
          + (f" (run {report.run.pk}; undo it with `custody match-undo-run {report.run.pk} --as USER --yes`)"
             if report.run else ""))
        if report.held_back:
            w("held back for a person: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.held_back.items())))
        if report.contradicted:
            w(f"{len(report.contradicted):,} earlier automatic merges are not supported by the policy any more: "
              "undo their run or decide their pairs")
        n = opts["show"]
        if report.merges:
            w(f"\n{'would merge' if report.dry_run else 'merged'} ({min(n, len(report.merges))} of {len(report.merges):,}):")
            for m in report.merges[:n]:
                w("  " + m.line())
        if report.queue:
            w(f"\nqueue, most consequential first ({min(n, len(report.queue))} of {len(report.queue):,}):")
            for q in report.queue[:n]:
                w("  " + q.line())
        merge_ev = report.evidence.get("merge", {})
        if merge_ev:
            w("\nevidence behind the merges: " + ", ".join(f"{k} {v:,}" for k, v in sorted(merge_ev.items())))
