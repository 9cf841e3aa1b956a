"""`custody dedupe FILE.csv --out OUT.csv`: cluster the rows of one list into identities."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, Linker
from custody.matching.cli import MAX_ROWS, console, load, rich_progress, write_rows


class Command(BaseCommand):
    help = (
        "Cluster the rows of one CSV (column name; optional dob, nationality, sex, mother_name, "
        "place_of_birth; other columns kept) and write every row with cluster_id and score."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--out", required=True, help="output CSV ('-' for standard output)")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                            help=f"match weight (log2 odds) to link automatically; default {DEFAULT_THRESHOLD}")
        parser.add_argument("--name-column", default=None)
        parser.add_argument("--max-rows", type=int, default=MAX_ROWS)

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        records, columns = load(opts["file"], con, name_column=opts["name_column"], max_rows=opts["max_rows"])
        with rich_progress(con) as progress:
            linker = Linker(records, progress=progress)
            linker.run()
        labels = linker.clusters(opts["threshold"])
        rows = cluster_rows(linker, labels, columns)
        write_rows(opts["out"], [*columns, "cluster_id", "score", "best_match_row"], rows)
        n_clusters = len(set(labels))
        con.print(f"{len(records):,} rows, {len(linker.pairs):,} candidate pairs, {n_clusters:,} clusters "
                  f"-> {opts['out']}", highlight=False)


def cluster_rows(linker: Linker, labels: list[int], columns: list[str]) -> list[dict[str, object]]:
    """Each input row with its cluster id (C + the first row of the cluster) and the probability of
    its strongest link inside the cluster (blank for a row alone)."""
    recs = linker.records
    best: dict[int, tuple[float, int]] = {}
    for s in linker.scored:
        if labels[s.i] != labels[s.j]:
            continue
        for x, y in ((s.i, s.j), (s.j, s.i)):
            if x not in best or s.weight > best[x][0]:
                best[x] = (s.weight, y)
    out = []
    width = len(str(len(recs)))
    for k, r in enumerate(recs):
        row: dict[str, object] = {c: r.extra.get(c, "") for c in columns}
        row["cluster_id"] = f"C{recs[labels[k]].row:0{width}d}"
        if k in best:
            w, other = best[k]
            row["score"] = f"{linker.model.probability(w):.4f}"
            row["best_match_row"] = recs[other].row
        else:
            row["score"] = ""
            row["best_match_row"] = ""
        out.append(row)
    return out
