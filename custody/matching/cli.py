"""Shared pieces of the matching commands: rich progress, problem reporting, CSV output."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from custody.core.exports import SafeDictWriter
from custody.engines.linkage.pipeline import Progress as ProgressFn
from custody.engines.linkage.records import InputError, Problem, Record, read_csv

MAX_ROWS = 250_000
MAX_PROBLEMS_SHOWN = 40


def console() -> Console:
    return Console(stderr=True)


@contextmanager
def rich_progress(con: Console) -> Iterator[ProgressFn]:
    with Progress(
        TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=con, transient=con.is_terminal is not False, disable=not con.is_terminal,
    ) as prog:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=max(total, 1))
            prog.update(tasks[stage], completed=done, total=max(total, 1))

        yield update
    if not con.is_terminal:
        con.print("done: " + ", ".join(tasks), highlight=False)


def load(path: str, con: Console, *, source: str = "", name_column: str | None = None,
         max_rows: int = MAX_ROWS) -> tuple[list[Record], list[str]]:
    try:
        records, columns, problems = read_csv(path, source=source, name_column=name_column, max_rows=max_rows)
    except InputError as e:
        raise CommandError(str(e)) from e
    report_problems(path, problems, con)
    con.print(f"{path}: {len(records):,} rows read", highlight=False)
    return records, columns


def report_problems(path: str, problems: Sequence[Problem], con: Console) -> None:
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        con.print(f"[yellow]warning[/] {path}: {p}", highlight=False)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        con.print(f"[yellow]warning[/] {path}: {len(problems) - MAX_PROBLEMS_SHOWN:,} more problems not shown",
                  highlight=False)


def write_rows(out: str, header: Sequence[str], rows: Sequence[dict[str, object]]) -> None:
    target = Path(out)
    try:
        fh = sys.stdout if out == "-" else target.open("w", newline="", encoding="utf-8")
    except OSError as e:
        raise CommandError(f"{out}: cannot be written ({e.strerror})") from e
    try:
        w = SafeDictWriter(fh, fieldnames=list(header), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    finally:
        if fh is not sys.stdout:
            fh.close()
