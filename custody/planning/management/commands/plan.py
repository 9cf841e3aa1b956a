"""`custody plan SCENARIO --out PLAN [--time-limit S]`: a plan with every manifest, its bound and gap."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from custody.engines import planner
from custody.planning.cli import comparison_table, console, infeasible_error, load_scenario, rich_progress


class Command(BaseCommand):
    help = "Plan the transfers of SCENARIO (JSON) and write the plan with its manifests to --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario")
        parser.add_argument("--out", required=True, help="where to write the plan (JSON)")
        parser.add_argument("--time-limit", type=float, default=60.0, help="seconds for the whole run")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = console()
        sc = load_scenario(opts["scenario"])
        con.print(f"[bold]{sc.name}[/]: {len(sc.movable):,} people, {len(sc.sites)} sites, {sc.horizon_days} days, "
                  f"{len(sc.helicopters)} helicopters")
        try:
            with rich_progress(con) as report:
                plan = planner.make_plan(sc, time_limit=opts["time_limit"], progress=report)
        except planner.Infeasible as e:
            raise infeasible_error(e) from e
        planner.plan.dump(plan, opts["out"])
        s = plan.summary
        violations = planner.check(sc, plan)
        con.print(comparison_table([
            ("lower bound", None, s["lower_bound"], 0.0, f"LP {s['lp_bound']:,.2f}, solver {s['solver_bound']:,.2f}"),
            ("plan", s["exposure"], s["cost"], s["gap"], f"{s['moved']:,} moved, {s['left']:,} left, {s['sorties']} sorties, {s['convoys']} convoys, {s['replans']} re-plans"),
            ("greedy", s["greedy_exposure"], s["greedy_cost"], s["greedy_gap"], ""),
            ("do nothing", s["do_nothing_exposure"], None, None, ""),
        ]))
        con.print(f"{s['site_days_packed']} site-days packed ({s['pack_status']}); checker: "
                  + ("[green]valid[/]" if not violations else f"[red]{len(violations)} violations[/]"))
        con.print(f"seconds: {s['seconds']}")
        con.print(f"plan written to {opts['out']}")
