"""Time the demo generator: `.venv/bin/python bench/generator.py [--scales small real large] [--repeat N]`.

Generation is plain Python (no database); `--load` also times loading into a fresh SQLite database in a
temporary directory through `custody migrate` + `custody generate` (registry, search index, ledger).
Prints a Markdown table for docs/benchmarks/generator.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custody.synth import digest, generate  # noqa: E402


def time_generate(scale: str, seed: int, repeat: int) -> dict[str, object]:
    walls, cpus = [], []
    pop = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        pop = generate(seed, scale)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    assert pop is not None
    rows = sum(len(r.rows) for r in pop.rosters.values())
    return {
        "scale": scale, "people": len(pop.persons), "detainees": len(pop.detainees), "links": len(pop.family_links),
        "events": len(pop.events), "roster_rows": rows, "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus), "digest": digest(pop)[:12],
    }


def time_load(scale: str, seed: int, skip_ledger: bool) -> float:
    custody = str(ROOT / ".venv" / "bin" / "custody")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3", CUSTODY_VAR_DIR=tmp)
        subprocess.run([custody, "migrate", "-v0"], env=env, check=True)
        cmd = [custody, "generate", "--seed", str(seed), "--scale", scale] + (["--skip-ledger"] if skip_ledger else [])
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scales", nargs="+", default=["small", "real"], choices=["small", "real", "large"])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--load", action="store_true", help="also time `custody generate` into a fresh SQLite database")
    ap.add_argument("--skip-ledger", action="store_true", help="with --load: registry only")
    args = ap.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print()
    print("| scale | people | detainees | family links | events | roster rows | generate wall s (median) | CPU s | digest |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for scale in args.scales:
        r = time_generate(scale, args.seed, args.repeat if scale != "large" else 1)
        print(f"| {r['scale']} | {r['people']:,} | {r['detainees']:,} | {r['links']:,} | {r['events']:,} | "
              f"{r['roster_rows']:,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['digest']} |", flush=True)
    if args.load:
        print()
        print("| scale | custody generate (load into fresh SQLite) wall s |")
        print("| --- | ---: |")
        for scale in args.scales:
            print(f"| {scale} | {time_load(scale, args.seed, args.skip_ledger):.1f} |", flush=True)


if __name__ == "__main__":
    main()
