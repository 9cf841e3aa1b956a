"""`custody dedupe-eval FILE.csv --truth identity_id`: measure de-duplication against labelled truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.table import Table

from custody.engines.linkage.evaluate import (
    best_threshold_prf,
    cross_script_pair_recall,
    pairwise_prf,
    recall_at_1,
)
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, Linker
from custody.matching.cli import MAX_ROWS, console, load, rich_progress


class Command(BaseCommand):
    help = ("De-duplicate FILE and print pairwise precision, recall and F1, recall@1, and the same for "
            "Arabic-script records against Latin ones, using the truth column.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--truth", required=True, help="column holding the true identity")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
        parser.add_argument("--names-only", action="store_true", help="ignore every column but the name")
        parser.add_argument("--name-column", default=None)
        parser.add_argument("--max-rows", type=int, default=MAX_ROWS)
        parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        records, columns = load(opts["file"], con, name_column=opts["name_column"], max_rows=opts["max_rows"])
        if opts["truth"] not in columns:
            raise CommandError(f"{opts['file']}: no truth column {opts['truth']!r}; columns are: {', '.join(columns)}")
        missing = [r.row for r in records if not r.extra.get(opts["truth"], "").strip()]
        if missing:
            raise CommandError(f"{opts['file']}: column {opts['truth']!r} is empty in row(s) "
                               f"{', '.join(map(str, missing[:10]))}{' ...' if len(missing) > 10 else ''}")
        if opts["names_only"]:
            for r in records:
                r.dob, r.sex, r.nationality, r.place_of_birth, r.mother = None, None, frozenset(), "", None
        figures = evaluate(records, opts["truth"], opts["threshold"], con)
        if opts["json"]:
            self.stdout.write(json.dumps(figures, indent=2))
            return
        table = Table(title=f"{Path(opts['file']).name}{' (names only)' if opts['names_only'] else ''}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for k, v in figures.items():
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else f"{v:,}")
        console_out = type(con)(file=self.stdout, width=120)
        console_out.print(table)


def evaluate(records: list, truth_column: str, threshold: float, con: Any) -> dict[str, float | int]:
    truth = [r.extra[truth_column] for r in records]
    scripts = [r.parsed.script for r in records]
    with rich_progress(con) as progress:
        linker = Linker(records, progress=progress)
        linker.run()
    triples = linker.triples()
    labels = linker.clusters(threshold)
    prf = pairwise_prf(labels, truth)
    best_w, best = best_threshold_prf(triples, truth)
    r1, n1 = recall_at_1(len(records), triples, truth)
    ra, na = recall_at_1(len(records), triples, truth, [s == "Arab" for s in scripts])
    rl, nl = recall_at_1(len(records), triples, truth, [s == "Latn" for s in scripts])
    return {
        "records": len(records),
        "identities": len(set(truth)),
        "candidate_pairs": len(linker.pairs),
        "threshold (match weight)": threshold,
        "precision": prf.precision,
        "recall": prf.recall,
        "F1": prf.f1,
        "best-threshold pair F1": best.f1,
        "best threshold": best_w,
        "recall@1": r1,
        "recall@1 records": n1,
        "Arabic-script recall@1": ra,
        "Arabic-script records": na,
        "Latin-script recall@1": rl,
        "Arabic-Latin pair recall": cross_script_pair_recall(labels, truth, scripts),
    }
