"""Transfer planning engine (issue 6): plain Python on OR-Tools, no Django.

Public surface:
- scenario: `load`, `dump`, `from_dict`, `to_dict`, `validate`, `ScenarioError`, the dataclasses
- `generate(scale, seed)`: seeded synthetic scenarios (small, real, large)
- `make_plan(scenario, time_limit=..., progress=...)` and `replan(scenario, flown, from_day)`
- `greedy(scenario)`, `lower_bound(scenario)`, `evaluate(scenario, vehicles)`
- `check(scenario, plan)`: the independent checker, a list of named violations
- `diagnose(scenario)` / `Infeasible`: infeasibility in words
"""

from .checker import Violation, check
from .diagnose import Finding, Infeasible, diagnose
from .generator import SCALES, generate
from .greedy import greedy
from .pipeline import lower_bound, make_plan, replan
from .plan import Figures, Plan, Vehicle, do_nothing, evaluate
from .scenario import Scenario, ScenarioError, dump, from_dict, load, to_dict, validate

__all__ = [
    "SCALES", "Figures", "Finding", "Infeasible", "Plan", "Scenario", "ScenarioError", "Vehicle", "Violation",
    "check", "diagnose", "do_nothing", "dump", "evaluate", "from_dict", "generate", "greedy", "load",
    "lower_bound", "make_plan", "replan", "to_dict", "validate",
]
