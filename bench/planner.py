"""Transfer-planning benchmark: plan vs greedy vs proven lower bound at small, real and large scale.

    .venv/bin/python bench/planner.py                 # small and real, seeds 1 2 3
    .venv/bin/python bench/planner.py --scales large --seeds 1 --time-limit 540

Each scale and seed runs in a fresh subprocess so that its peak memory (ru_maxrss) is its own. For each
it prints: the LP bound, the solver bound, the end-to-end plan (all manifests packed, re-planned after
each packing shortfall) and its gap to the best bound, the greedy baseline and its gap, wall time,
re-plans, site-days packed, the checker's verdict, and the peak memory. A second experiment, the
disruption run, grounds two airframes from day 5 and closes one road on days 6-9 and re-plans from the actual state.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(scale: str, seed: int, time_limit: float, disrupt: bool) -> dict:
    from custody.engines import planner

    sc = planner.generate(scale, seed)
    t0 = time.monotonic()
    plan = planner.make_plan(sc, time_limit=time_limit)
    wall = time.monotonic() - t0
    violations = planner.check(sc, plan)
    s = plan.summary
    out = {
        "scale": scale,
        "seed": seed,
        "people": len(sc.people),
        "sites": len(sc.sites),
        "days": sc.horizon_days,
        "lp_bound": s["lp_bound"],
        "solver_bound": s["solver_bound"],
        "bound": s["lower_bound"],
        "aggregate_cost": s["aggregate_cost"],
        "aggregate_status": s["aggregate_status"],
        "plan_cost": s["cost"],
        "gap": s["gap"],
        "greedy_cost": s["greedy_cost"],
        "greedy_gap": s["greedy_gap"],
        "do_nothing": s["do_nothing_exposure"],
        "moved": s["moved"],
        "left": s["left"],
        "replans": s["replans"],
        "site_days": s["site_days_packed"],
        "pack_status": s["pack_status"],
        "violations": len(violations),
        "seconds": s["seconds"],
        "wall": round(wall, 1),
    }
    if disrupt:
        day = 5
        data = planner.to_dict(sc)
        for h in data["helicopters"][:2]:
            for d in range(day, sc.horizon_days):
                h["available"][d] = False
        # The road closes the day after, so a convoy already under way overnight is not caught by it.
        data["sites"][0]["road_open"][day + 1 : day + 5] = [False] * len(
            data["sites"][0]["road_open"][day + 1 : day + 5]
        )
        changed = planner.from_dict(data)
        t1 = time.monotonic()
        new = planner.replan(changed, plan.vehicles, day, time_limit=time_limit)
        new.scenario_digest = changed.digest()
        # The bound for plans that keep days 0..4 as flown: what an oracle knowing the disruption
        # only when it happened could still achieve at best.
        lp_changed, _ = planner.lower_bound(changed, [v for v in plan.vehicles if v.day < day], day)
        lp_changed = max(
            lp_changed, float(new.summary["lower_bound"])
        )  # the re-plan's solver bound, if higher
        fig = planner.evaluate(changed, new.vehicles)
        out["disruption"] = {
            "replan_wall": round(time.monotonic() - t1, 1),
            "cost": round(fig.cost, 3),
            "bound_given_days_flown": round(lp_changed, 3),
            "gap_to_that_bound": round((fig.cost - lp_changed) / lp_changed, 5),
            "violations": len(planner.check(changed, new)),
            "kept_vehicles": sum(1 for v in new.vehicles if v.day < day),
        }
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", nargs="+", default=["small", "real"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument(
        "--time-limit", type=float, default=None, help="seconds per plan (default: 55 small/real, 540 large)"
    )
    ap.add_argument("--no-disrupt", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("SCALE", "SEED"))
    ap.add_argument("--json", help="append the rows to this JSON-lines file")
    args = ap.parse_args()
    if args.child:
        scale, seed = args.child[0], int(args.child[1])
        tl = args.time_limit or (540.0 if scale == "large" else 55.0)
        print(json.dumps(one(scale, seed, tl, not args.no_disrupt)))
        return
    rows = []
    for scale in args.scales:
        for seed in args.seeds:
            cmd = [sys.executable, __file__, "--child", scale, str(seed)]
            if args.time_limit:
                cmd += ["--time-limit", str(args.time_limit)]
            if args.no_disrupt:
                cmd.append("--no-disrupt")
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if res.returncode:
                print(res.stderr, file=sys.stderr)
                continue
            row = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(row)
            if args.json:
                with open(args.json, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
            d = row.get("disruption", {})
            print(
                f"{scale:5} seed {seed}: bound {row['bound']:.2f} (LP {row['lp_bound']:.2f}) | plan {row['plan_cost']:.2f} "
                f"gap {100 * row['gap']:.2f}% in {row['wall']} s | greedy {row['greedy_cost']:.2f} gap {100 * row['greedy_gap']:.1f}% "
                f"| greedy/plan {row['greedy_cost'] / row['plan_cost']:.2f}x | re-plans {row['replans']} | site-days {row['site_days']} "
                f"{row['pack_status']} | violations {row['violations']} | peak {row['peak_mb']} MB"
                + (
                    f" | disruption re-plan {d['replan_wall']} s gap {100 * d['gap_to_that_bound']:.2f}% violations {d['violations']}"
                    if d
                    else ""
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
