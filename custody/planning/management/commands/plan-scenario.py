"""`custody plan-scenario --scale small|real|large --seed N --out FILE`: a seeded synthetic scenario."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from custody.engines import planner
from custody.planning.cli import console


class Command(BaseCommand):
    help = "Write a synthetic planning scenario (same scale and seed, same file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(planner.SCALES), default="real")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--out", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        sc = planner.generate(opts["scale"], opts["seed"])
        planner.dump(sc, opts["out"])
        console().print(f"{opts['out']}: {len(sc.people):,} people, {len(sc.sites)} sites, {sc.horizon_days} days, "
                        f"{len(sc.keep_apart):,} keep-apart pairs, {len(sc.helicopters)} helicopters")
