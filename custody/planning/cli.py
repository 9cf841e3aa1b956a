"""Shared pieces of the planning commands: loading with readable errors, the rich progress, tables."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from custody.engines import planner
from custody.engines.planner.plan import Plan
from custody.engines.planner.plan import load as load_plan_file

STAGES = {"bound": "Lower bound (LP)", "solve": "Aggregate programme", "pack": "Manifests", "greedy": "Greedy baseline"}


def console() -> Console:
    return Console(file=sys.stdout, width=120)


def load_scenario(path: str) -> planner.Scenario:
    if not Path(path).exists():
        raise CommandError(f"{path}: no such file")
    try:
        return planner.load(path)
    except planner.ScenarioError as e:
        raise CommandError(f"{path}: invalid scenario at {e.path or '(root)'}: {e.detail}") from e


def load_plan(path: str) -> Plan:
    if not Path(path).exists():
        raise CommandError(f"{path}: no such file")
    try:
        return load_plan_file(path)
    except (ValueError, KeyError) as e:
        raise CommandError(f"{path}: not a plan file: {e}") from e


@contextmanager
def rich_progress(con: Console) -> Iterator[planner.pipeline.Progress]:
    with Progress(
        TextColumn("{task.description:<22}"), BarColumn(), TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
        console=con, transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int, message: str) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=max(total, 1), note="")
            bar.update(tasks[stage], completed=done, total=max(total, 1), note=message)

        yield report


def infeasible_error(e: planner.Infeasible) -> CommandError:
    lines = "\n".join(f"  - [{f.constraint}] {f.message}" for f in e.findings)
    return CommandError(f"the scenario is infeasible:\n{lines}")


def comparison_table(rows: list[tuple[str, float | None, float | None, float | None, str]]) -> Table:
    table = Table(title="Plan vs greedy vs bound (exposure = weight x danger x people left, summed)")
    for col in ("", "exposure", "cost", "above bound", "notes"):
        table.add_column(col, justify="left" if col in ("", "notes") else "right")
    for name, exposure, cost, gap, notes in rows:
        table.add_row(
            name,
            "" if exposure is None else f"{exposure:,.2f}",
            "" if cost is None else f"{cost:,.2f}",
            "" if gap is None else f"{100 * gap:.2f}%",
            notes,
        )
    return table
