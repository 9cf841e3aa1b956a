"""`custody plan-check SCENARIO PLAN`: re-verify every rule; exit non-zero listing each violation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from custody.engines import planner
from custody.planning.cli import console, load_plan, load_scenario


class Command(BaseCommand):
    help = "Check PLAN against SCENARIO with the independent checker; exit 1 if any rule is broken."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario")
        parser.add_argument("plan")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        sc = load_scenario(opts["scenario"])
        plan = load_plan(opts["plan"])
        violations = planner.check(sc, plan)
        people = sum(len(v.manifest) for v in plan.vehicles)
        if not violations:
            con.print(f"valid: {len(plan.vehicles)} vehicles, {people:,} people on manifests, every rule holds")
            return
        for v in violations:
            con.print(str(v), markup=False, highlight=False)
        raise CommandError(f"{len(violations)} violations")
