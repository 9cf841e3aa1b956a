"""Seeded synthetic population for demos, tests and benchmarks (plain Python; no Django import).

    from custody.synth import generate, write_roster_csv
    pop = generate(seed=7, scale="small")
    write_roster_csv(pop, "sdf-prisons", "/tmp/sdf.csv")

The loader that writes a population into the registry and the ledger is custody.synth.load (Django).
"""

from custody.synth.generator import SCALES, SCENARIO_DATE, Scale, Scenario, generate
from custody.synth.model import Population
from custody.synth.rosters import write_roster_csv
from custody.synth.serialize import digest

__all__ = ["SCALES", "SCENARIO_DATE", "Population", "Scale", "Scenario", "digest", "generate", "write_roster_csv"]
