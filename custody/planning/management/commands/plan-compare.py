"""`custody plan-compare SCENARIO [PLAN]`: the plan beside greedy, doing nothing and the lower bound."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from custody.engines import planner
from custody.planning.cli import (
    comparison_table,
    console,
    infeasible_error,
    load_plan,
    load_scenario,
    rich_progress,
)


class Command(BaseCommand):
    help = "Compare a plan (given, or made now) with the greedy baseline and the proven lower bound."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario")
        parser.add_argument("plan", nargs="?")
        parser.add_argument("--time-limit", type=float, default=60.0, help="when no plan is given")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        sc = load_scenario(opts["scenario"])
        if opts["plan"]:
            plan = load_plan(opts["plan"])
        else:
            try:
                with rich_progress(con) as report:
                    plan = planner.make_plan(sc, time_limit=opts["time_limit"], progress=report)
            except planner.Infeasible as e:
                raise infeasible_error(e) from e
        lp, _ = planner.lower_bound(sc)
        solver_bound = float(plan.summary.get("solver_bound") or 0.0)
        bound = max(lp, solver_bound)
        fig = planner.evaluate(sc, plan.vehicles)
        g = planner.evaluate(sc, planner.greedy(sc))
        nothing = planner.do_nothing(sc)
        violations = planner.check(sc, plan, claims=False)

        def gap(cost: float) -> float:
            return (cost - bound) / bound if bound > 0 else 0.0

        con.print(comparison_table([
            ("lower bound", None, bound, 0.0, f"LP relaxation {lp:,.2f}" + (f", solver {solver_bound:,.2f}" if solver_bound else "")),
            ("plan", fig.exposure, fig.cost, gap(fig.cost),
             f"{fig.moved:,} moved, {fig.left:,} left, {fig.sorties} sorties, {fig.convoys} convoys; "
             + ("valid" if not violations else f"{len(violations)} violations")),
            ("greedy", g.exposure, g.cost, gap(g.cost), f"{g.moved:,} moved, {g.left:,} left, {g.sorties} sorties, {g.convoys} convoys"),
            ("do nothing", nothing.exposure, nothing.cost, gap(nothing.cost), ""),
        ]))
        if g.cost > 0:
            con.print(f"plan exposure is {100 * (1 - fig.exposure / g.exposure):.1f}% below greedy")
