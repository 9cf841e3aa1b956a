"""The seeded demo database the page and search benchmarks run on: reused if given, generated if not."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_demo(db_arg: str | None, scale: str, seed: int) -> Path:
    """Points this process (CUSTODY_VAR_DIR) at the database `db_arg`, or at a new temporary one;
    generates the demo there when it holds none; applies any newer migrations. Returns the file."""
    var = Path(db_arg).parent if db_arg else Path(tempfile.mkdtemp(prefix="custody-bench-"))
    os.environ["CUSTODY_VAR_DIR"] = str(var)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custody.settings")
    db = var / "custody.sqlite3"
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "custody", "migrate", "-v0"], check=True, env=env, cwd=ROOT)
    if db.stat().st_size < 1_000_000 or _people(env) == 0:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "custody", "generate", "--seed", str(seed), "--scale", scale],
                       check=True, env=env, cwd=ROOT)
        print(f"generated {scale} scale in {time.perf_counter() - t0:.1f} s -> {db}")
    return db


def _people(env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-m", "custody", "shell", "-c",
                          "from custody.registry.models import Person; print(Person.objects.count())"],
                         check=True, env=env, cwd=ROOT, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1])
