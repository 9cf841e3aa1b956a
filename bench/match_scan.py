"""The real `custody match-scan` through the database, on the generated demo with planted duplicates: what it
merges, queues and keeps apart, how many planted duplicates it finds, whether it merges any two different
people, the evidence it used, and how long it takes (the dry run and the scan that writes).

    .venv/bin/python bench/match_scan.py                          # small scale, seed 7, 5% planted
    .venv/bin/python bench/match_scan.py --scale real --share 0.02
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/match_scan.py

A fresh database (SQLite in a temporary directory, or a new PostgreSQL database named after this process)
is migrated and filled by `custody generate --plant-duplicates SHARE`, with the ledger's signing key kept
outside the data directory as deployed. The truth (the planted pairs, written beside the rosters) is read
only to score. bench/matching_policy.py measures the same policy on the generator's records in memory;
this one measures what the app does with the rows it reads back from the registry and the ledger.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prepare(scale: str, seed: int, share: float) -> tuple[Path, str]:
    tmp = Path(tempfile.mkdtemp(prefix="custody-match-scan-"))
    keys = Path(tempfile.mkdtemp(prefix="custody-match-scan-keys-"))
    env = {"CUSTODY_VAR_DIR": str(tmp / "var"), "DJANGO_SETTINGS_MODULE": "custody.settings",
           "CUSTODY_FAST_HASHER": "1",
           "CUSTODY_LEDGER_KEY_FILE": str(keys / "ledger.pem"), "CUSTODY_LEDGER_WITNESS_FILE": str(keys / "witness.jsonl"),
           "CUSTODY_LEDGER_KEY_PASSPHRASE": "bench passphrase, not a secret"}
    vendor = "sqlite"
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        import psycopg

        name = f"match_scan_bench_{os.getpid()}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
        vendor = "postgresql"
    os.environ.update(env)
    run = {**os.environ}
    subprocess.run([sys.executable, "-m", "custody", "migrate", "-v0"], env=run, cwd=ROOT, check=True)
    subprocess.run([sys.executable, "-m", "custody", "ledger", "keygen"], env=run, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "custody", "generate", "--seed", str(seed), "--scale", scale,
                    "--plant-duplicates", str(share), "--rosters", str(tmp / "rosters")],
                   env=run, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"generated {scale} scale, seed {seed}, {share:.0%} planted, in {time.perf_counter() - t0:.1f} s ({vendor})")
    return tmp / "rosters" / "planted-duplicates.csv", vendor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="small", choices=["small", "real"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--share", type=float, default=0.05)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    truth_file, vendor = prepare(args.scale, args.seed, args.share)

    import django

    django.setup()
    from django.core.management import call_command

    from custody.matching import services
    from custody.matching.models import CandidatePair, LinkageRun, Merge, PairStatus
    from custody.registry.models import Person

    truth = list(csv.DictReader(truth_file.open(encoding="utf-8")))
    pk = dict(Person.objects.values_list("ref", "pk"))
    planted = {frozenset((pk[r["original"]], pk[r["duplicate"]])): r["source"].split("-")[0] for r in truth}

    t0 = time.perf_counter()
    call_command("match-scan", "--as", "cio.analyst", "--dry-run", stdout=StringIO(), stderr=StringIO())
    t_dry = time.perf_counter() - t0
    t0 = time.perf_counter()
    call_command("match-scan", "--as", "cio.analyst", stdout=StringIO(), stderr=StringIO())
    t_scan = time.perf_counter() - t0
    run = LinkageRun.objects.latest("pk")
    merges = {frozenset(m) for m in Merge.objects.filter(run=run).values_list("survivor_id", "merged_id")}
    queued = {frozenset(p) for p in CandidatePair.objects.filter(status=PairStatus.OPEN).values_list("person_a_id", "person_b_id")}
    wrong = [m for m in merges if m not in planted]
    groups = {g for g in services.identities().values()}
    cluster_wrong = sum(1 for g in groups if len(g) != 2 or g not in planted)
    found_merged = sum(1 for p in planted if p in merges)
    found_queued = sum(1 for p in planted if p in queued and p not in merges)
    queue_true = sum(1 for p in queued if p in planted)
    n = len(planted)
    t0 = time.perf_counter()
    call_command("match-undo-run", str(run.pk), "--as", "cio.analyst", "--yes", stdout=StringIO())
    t_undo = time.perf_counter() - t0

    def pct(x: int, d: int) -> str:
        return f"{100 * x / d:.1f}%" if d else "—"

    print(f"\n### `custody match-scan`, {args.scale} scale, seed {args.seed} ({vendor}): {run.records:,} records, "
          f"{n} planted duplicates\n")
    print(f"dry run {t_dry:.1f} s, scan {t_scan:.1f} s ({run.candidate_pairs:,} candidate pairs blocked), "
          f"undo of the whole run {t_undo:.2f} s\n")
    print("| | match-scan | target |")
    print("| --- | ---: | --- |")
    print(f"| pairs merged automatically | {len(merges):,} | |")
    print(f"| pairs queued for a person | {run.queued:,} | |")
    print(f"| pairs kept apart (evidence against) | {run.kept_apart:,} | |")
    print(f"| merges of two different people | **{len(wrong)}** | 0 |")
    print(f"| automatic merge precision | {pct(len(merges) - len(wrong), len(merges))} | ≥ 99.5% |")
    print(f"| merged identities that are not one planted person | {cluster_wrong} | 0 |")
    print(f"| planted duplicates merged or queued | **{pct(found_merged + found_queued, n)}** "
          f"({found_merged} merged + {found_queued} queued of {n}) | ≥ 95% |")
    print(f"| queued pairs that are one person | {queue_true} of {run.queued:,} | |")
    held = run.summary.get("held_back", {})
    if held:
        print(f"| policy merges held back for a person | {', '.join(f'{k} {v}' for k, v in sorted(held.items()))} | |")
    print("\nEvidence used (reason codes, by outcome):\n")
    print("| reason | merge | queue | keep apart |")
    print("| --- | ---: | ---: | ---: |")
    ev = run.summary.get("evidence", {})
    codes = sorted({c for o in ev.values() for c in o}, key=lambda c: -sum(ev[o].get(c, 0) for o in ev))
    for c in codes:
        print(f"| {c} | {ev.get('merge', {}).get(c, 0):,} | {ev.get('queue', {}).get(c, 0):,} | "
              f"{ev.get('keep_apart', {}).get(c, 0):,} |")
    missed = [p for p in planted if p not in merges and p not in queued]
    if missed:
        kept = dict(((a, b), r) for a, b, r in CandidatePair.objects.values_list("person_a_id", "person_b_id", "reasons"))
        why: dict[str, int] = {}
        for p in missed:
            a, b = sorted(p)
            reasons = kept.get((a, b))
            key = "not a candidate" if reasons is None else "; ".join(
                sorted({r["code"] for r in reasons if r["kind"] == "against"})) or "other"
            why[key] = why.get(key, 0) + 1
        print("\nPlanted and missed, why: " + ", ".join(f"{k} {v}" for k, v in sorted(why.items(), key=lambda x: -x[1])))
    if vendor == "postgresql":
        from django.db import connections

        connections.close_all()
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "match_scan_bench_{os.getpid()}"')


if __name__ == "__main__":
    main()
