"""`custody link A.csv B.csv --out OUT.csv`: link the rows of two lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, Linker
from custody.matching.cli import MAX_ROWS, console, load, rich_progress, write_rows


class Command(BaseCommand):
    help = (
        "Link two CSV lists: every row of both is written with source, source_row, cluster_id, score "
        "and the best match in the other list."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("a")
        parser.add_argument("b")
        parser.add_argument("--out", required=True)
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
        parser.add_argument("--name-column", default=None)
        parser.add_argument("--max-rows", type=int, default=MAX_ROWS)

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        a_name, b_name = Path(opts["a"]).name, Path(opts["b"]).name
        if a_name == b_name:
            a_name, b_name = opts["a"], opts["b"]
        if a_name == b_name:
            raise CommandError("the two lists are the same file; use `custody dedupe` for one list")
        ra, ca = load(opts["a"], con, source=a_name, name_column=opts["name_column"], max_rows=opts["max_rows"])
        rb, cb = load(opts["b"], con, source=b_name, name_column=opts["name_column"], max_rows=opts["max_rows"])
        records = ra + rb
        with rich_progress(con) as progress:
            linker = Linker(records, link_sources=True, progress=progress)
            linker.run()
        labels = linker.clusters(opts["threshold"])
        best: dict[int, tuple[float, int]] = {}
        for s in linker.scored:
            for x, y in ((s.i, s.j), (s.j, s.i)):
                if x not in best or s.weight > best[x][0]:
                    best[x] = (s.weight, y)
        columns = list(dict.fromkeys([*ca, *cb]))
        rows: list[dict[str, object]] = []
        for k, r in enumerate(records):
            row: dict[str, object] = {c: r.extra.get(c, "") for c in columns}
            row.update(source=r.source, source_row=r.row, cluster_id=f"C{labels[k] + 1:06d}")
            if k in best:
                w, other = best[k]
                row.update(score=f"{linker.model.probability(w):.4f}", best_match_source=records[other].source,
                           best_match_row=records[other].row, best_match_name=records[other].name)
            rows.append(row)
        write_rows(opts["out"], ["source", "source_row", *columns, "cluster_id", "score", "best_match_source",
                                 "best_match_row", "best_match_name"], rows)
        cross = {labels[k] for k in range(len(ra))} & {labels[len(ra) + k] for k in range(len(rb))}
        con.print(f"{len(ra):,} + {len(rb):,} rows, {len(linker.pairs):,} candidate pairs, {len(cross):,} "
                  f"identities found in both lists -> {opts['out']}", highlight=False)
