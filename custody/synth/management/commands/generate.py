"""`custody generate --seed N --scale small|real|large`: the seeded demo scenario, loaded into the registry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from custody.core import audit
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError
from custody.synth import SCALES, generate, write_roster_csv
from custody.synth.duplicates import write_truth
from custody.synth.load import DEMO_PASSWORD, LedgerUnavailable, load_population


class Command(CustodyCommand):
    help = (
        "Generate the seeded demo population (agencies, demo users, facilities, detainees, camp households, "
        "family links, custody histories) and load it into an empty registry. The same seed always gives "
        "the same population."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--scale", choices=list(SCALES), default="small")
        parser.add_argument("--rosters", metavar="DIR", help="also write every source roster as CSV into DIR")
        parser.add_argument("--plant-duplicates", type=float, default=0.0, metavar="SHARE",
                            help="register this share of people (e.g. 0.02) a second time from another roster, "
                                 "for evaluating matching; the truth goes to --truth, never into the registry")
        parser.add_argument("--truth", metavar="FILE",
                            help="where the planted duplicates' truth is written (CSV; default: "
                                 "planted-duplicates.csv in --rosters DIR, else under the var directory)")
        parser.add_argument("--skip-ledger", action="store_true",
                            help="load the registry without custody histories (only while the ledger is unavailable)")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = Console(stderr=True)
        t0 = time.perf_counter()
        with con.status(f"Generating seed {opts['seed']} at {opts['scale']} scale"):
            try:
                pop = generate(opts["seed"], opts["scale"], plant_duplicates=opts["plant_duplicates"])
            except ValueError as exc:
                raise CommandError(f"--plant-duplicates: {exc}") from exc
        gen_s = time.perf_counter() - t0
        con.print(f"Generated {len(pop.detainees):,} detainees and {len(pop.residents):,} camp residents "
                  f"in {gen_s:.1f} s", highlight=False)
        if opts["rosters"]:
            out = Path(opts["rosters"])
            out.mkdir(parents=True, exist_ok=True)
            for source in pop.rosters:
                write_roster_csv(pop, source, out / f"{source}.csv")
            con.print(f"Wrote {len(pop.rosters)} rosters to {out}", highlight=False)
        if pop.planted:
            truth = Path(opts["truth"]) if opts["truth"] else (
                Path(opts["rosters"]) / "planted-duplicates.csv" if opts["rosters"]
                else Path(settings.VAR_DIR) / "synth" / f"planted-duplicates-seed{opts['seed']}-{opts['scale']}.csv")
            write_truth(pop, truth)
            con.print(f"Planted {len(pop.planted):,} duplicates; their truth (evaluation only, not in the registry): "
                      f"{truth}", highlight=False)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        def stage_done(label: str, count: int, seconds: float) -> None:
            # Printed as each stage ends, so a log (no terminal, no live bar) still shows where time went.
            if not con.is_terminal:
                con.print(f"{label}: {count:,} in {seconds:.1f} s", highlight=False)

        try:
            with Progress(*columns, console=con, disable=not con.is_terminal) as progress:
                report = load_population(pop, record_history=not opts["skip_ledger"], progress=progress,
                                         on_stage=stage_done)
        except (LedgerUnavailable, RuleError) as exc:
            audit.record(None, "generate", object_type="synth.population", object_id=f"seed {opts['seed']}",
                         outcome="failed", username="cli", scale=opts["scale"], error=str(exc)[:500])
            raise CommandError(str(exc)) from exc
        audit.record(None, "generate", object_type="synth.population", object_id=f"seed {opts['seed']}",
                     username="cli", scale=opts["scale"], history=not opts["skip_ledger"], counts=report.counts,
                     planted_duplicates=len(pop.planted))
        total = time.perf_counter() - t0
        con.print(f"Loaded in {total - gen_s:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in report.counts.items()),
                  highlight=False)
        if opts["skip_ledger"]:
            con.print("[bold red]No custody history was recorded (--skip-ledger): nobody is in custody "
                      "anywhere until the histories are loaded.[/]")
        self.stdout.write(f"Demo users: <agency>.<role>, e.g. irq.clerk, password {DEMO_PASSWORD}")
