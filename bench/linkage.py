"""Identity resolution benchmark: our engine against string-matching baselines, same data, same
measures; then the generator's rosters at real scale (cost and accuracy).

    .venv/bin/python bench/linkage.py                 # UN dev files + generator 'small' + scaling
    .venv/bin/python bench/linkage.py --scale real    # + the real-scale population (about 47,000 rows)

Prints markdown tables (the figures in docs/benchmarks/linkage.md come from this script).
Data: /work/shared/data/un-aliases-dev*.csv (read in place, never copied) and custody.synth.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custody.engines.linkage.evaluate import (  # noqa: E402
    best_threshold_prf,
    cross_script_pair_recall,
    pairwise_prf,
    recall_at_1,
)
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, Linker  # noqa: E402
from custody.engines.linkage.records import Record, read_csv  # noqa: E402
from custody.engines.names import fold_latin, normalise_arabic  # noqa: E402
from custody.engines.names.parse import parse_name  # noqa: E402

DATA = Path(os.environ.get("CUSTODY_SHARED_DATA", "/work/shared/data"))


def _names_only(records: list[Record]) -> list[Record]:
    for r in records:
        r.dob, r.sex, r.nationality, r.place_of_birth, r.mother = None, None, frozenset(), "", None
    return records


def ours(records: list[Record], truth: Sequence[str]) -> dict[str, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    linker = Linker(records)
    linker.run()
    labels = linker.clusters(DEFAULT_THRESHOLD)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    scripts = [r.parsed.script for r in records]
    triples = linker.triples()
    _, best = best_threshold_prf(triples, truth)
    prf = pairwise_prf(labels, truth)
    return {
        "F1 (clusters, default threshold)": prf.f1,
        "precision": prf.precision,
        "recall": prf.recall,
        "F1 (pairs, best threshold)": best.f1,
        "recall@1": recall_at_1(len(records), triples, truth)[0],
        "Arabic-script recall@1": recall_at_1(len(records), triples, truth, [s == "Arab" for s in scripts])[
            0
        ],
        "Arabic-Latin pair recall": cross_script_pair_recall(labels, truth, scripts),
        "candidate pairs": len(linker.pairs),
        "cpu s": cpu,
        "wall s": wall,
    }


def baseline(
    names: Sequence[str],
    truth: Sequence[str],
    scripts: Sequence[str],
    prep: Callable[[str], str],
    scorer: Callable[..., float],
) -> dict[str, float]:
    """All-pairs string similarity: best-threshold pairwise F1 and recall@1 (the README protocol)."""
    t0, c0 = time.perf_counter(), time.process_time()
    texts = [prep(n) for n in names]
    m = process.cdist(texts, texts, scorer=scorer, dtype=np.uint8, workers=2)
    np.fill_diagonal(m, 0)
    n = len(texts)
    iu = np.triu_indices(n, 1)
    scores = m[iu]
    keep = scores >= 40  # pairs below 40/100 never win the best threshold; keeps the sort small
    triples = list(
        zip(iu[0][keep].tolist(), iu[1][keep].tolist(), scores[keep].astype(float).tolist(), strict=True)
    )
    _, best = best_threshold_prf(triples, truth)
    best_other = m.argmax(axis=1)
    sizes: dict[str, int] = {}
    for t in truth:
        sizes[t] = sizes.get(t, 0) + 1

    def r1(mask: Sequence[bool]) -> float:
        idx = [i for i in range(n) if sizes[truth[i]] > 1 and mask[i]]
        return sum(truth[best_other[i]] == truth[i] for i in idx) / len(idx) if idx else 0.0

    return {
        "F1 (pairs, best threshold)": best.f1,
        "recall@1": r1([True] * n),
        "Arabic-script recall@1": r1([s == "Arab" for s in scripts]),
        "cpu s": time.process_time() - c0,
        "wall s": time.perf_counter() - t0,
    }


def _skeleton_text(name: str) -> str:
    return " ".join(t.key for t in parse_name(name).tokens)


def _fold(name: str) -> str:
    return fold_latin(normalise_arabic(name))


COLUMNS = [
    "F1 (clusters, default threshold)",
    "F1 (pairs, best threshold)",
    "recall@1",
    "Arabic-script recall@1",
    "Arabic-Latin pair recall",
    "candidate pairs",
    "cpu s",
    "wall s",
]


def table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n### {title}\n")
    print("| method | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name, fig in rows.items():
        cells = []
        for c in COLUMNS:
            v = fig.get(c)
            cells.append(
                "–"
                if v is None
                else (
                    f"{v:,.0f}" if c == "candidate pairs" else f"{v:.1f}" if c.endswith(" s") else f"{v:.3f}"
                )
            )
        print(f"| {name} | " + " | ".join(cells) + " |")


def un_files() -> None:
    for fname in ("un-aliases-dev.csv", "un-aliases-dev-masked.csv"):
        path = DATA / fname
        if not path.exists():
            print(f"\n({path} absent: skipped)")
            continue
        for names_only in (False, True):
            records, _, _ = read_csv(path)
            if names_only:
                _names_only(records)
            truth = [r.extra["identity_id"] for r in records]
            scripts = [r.extra["script"] for r in records]
            names = [r.name for r in records]
            rows = {"Custody (this engine)": ours(records, truth)}
            rows["rapidfuzz token_sort, folded text"] = baseline(
                names, truth, scripts, _fold, fuzz.token_sort_ratio
            )
            rows["rapidfuzz token_set, folded text"] = baseline(
                names, truth, scripts, _fold, fuzz.token_set_ratio
            )
            rows["rapidfuzz token_sort on our skeletons (no model)"] = baseline(
                names, truth, scripts, _skeleton_text, fuzz.token_sort_ratio
            )
            table(
                f"{fname}{' — names only' if names_only else ' — names, dob, nationality'} "
                f"({len(records):,} records, {len(set(truth)):,} identities)",
                rows,
            )


def synth_rosters(scale: str, seed: int = 2026) -> Path:
    from custody.synth.generator import generate
    from custody.synth.rosters import CSV_COLUMNS, build_rosters, write_roster_csv

    pop = generate(seed, scale)
    if not getattr(pop, "rosters", None):
        pop.rosters = build_rosters(pop)
    out = Path(tempfile.mkdtemp(prefix="custody-bench-")) / f"rosters-{scale}.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=[*CSV_COLUMNS, "source"], extrasaction="ignore")
        w.writeheader()
        for source in pop.rosters:
            part = out.with_name(f"{source}.csv")
            write_roster_csv(pop, source, part)
            with part.open(encoding="utf-8") as src:
                for row in csv.DictReader(src):
                    row["source"] = source
                    w.writerow(row)
    return out


def synth(scale: str) -> None:
    path = synth_rosters(scale)
    t0, c0 = time.perf_counter(), time.process_time()
    records, _, problems = read_csv(path)
    read_cpu, read_wall = time.process_time() - c0, time.perf_counter() - t0
    truth = [r.extra["identity_id"] for r in records]
    fig = ours(records, truth)
    fig["cpu s"] += read_cpu
    fig["wall s"] += read_wall
    table(
        f"generator, scale '{scale}' (all rosters in one file: {len(records):,} rows, "
        f"{len(set(truth)):,} people; reading {read_cpu:.1f} s cpu included)",
        {"Custody (this engine)": fig},
    )
    print(
        f"\nwall clock, read to clusters: {time.perf_counter() - t0:.1f} s, evaluation included; 'cpu s' counts "
        "this process only (above 200,000 pairs the comparisons run in forked workers, one per core)"
    )


def scaling() -> None:
    """Candidate pairs per record as the population grows (near-linear blocking)."""
    from custody.engines.linkage.blocking import candidate_pairs
    from custody.engines.linkage.records import make_record
    from tests.engines.linkage.synthetic import people  # our small seeded generator

    print("\n### Blocking cost as the list grows (own synthetic names, few distinct names: a hard case)\n")
    print("| records | candidate pairs | pairs per record | all pairs | share of all pairs |")
    print("|---|---|---|---|---|")
    for n in (500, 1000, 2000, 4000, 8000):
        rows = people(n, seed=1)
        recs = [make_record(r["record_id"], r["name"], dob=r["dob"]) for r in rows]
        k = sum(1 for _ in candidate_pairs(recs))
        allp = len(recs) * (len(recs) - 1) // 2
        print(f"| {len(recs):,} | {k:,} | {k / len(recs):.1f} | {allp:,} | {k / allp:.4f} |")


def registration_check(scale: str) -> None:
    """Latency of the one-record check against everyone known (the index is built once, warm)."""
    from custody.engines.linkage.pipeline import LinkageIndex
    from custody.engines.linkage.records import make_record

    path = synth_rosters(scale)
    records, _, _ = read_csv(path)
    c0 = time.process_time()
    linker = Linker(records[: min(len(records), 8000)])  # model estimated on a sample, applied to all
    linker.run()
    index = LinkageIndex(records, linker.model)
    build = time.process_time() - c0
    probes = records[:: max(1, len(records) // 300)][:300]
    cpu, wall = [], []
    for r in probes:
        q = make_record(
            "probe",
            r.name,
            dob=r.extra.get("dob", ""),
            nationality=r.extra.get("nationality", ""),
            alt_names=[r.extra.get("name_ar", "")],
        )
        t0, c1 = time.perf_counter(), time.process_time()
        index.query(q, limit=10)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c1) * 1000)
    cpu.sort()
    wall.sort()
    print(
        f"\n### Registration check against {len(records):,} known people (index build {build:.1f} s cpu, once)\n"
    )
    print("| measure | median ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for name, xs in (("cpu", cpu), ("wall", wall)):
        print(f"| {name} | {xs[len(xs) // 2]:.1f} | {xs[int(len(xs) * 0.95)]:.1f} | {xs[-1]:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=["small", "real"], default="small")
    ap.add_argument("--skip-un", action="store_true")
    ap.add_argument("--only", choices=["check", "synth"], help="run one section only")
    args = ap.parse_args()
    if args.only == "check":
        registration_check(args.scale)
        return
    if args.only == "synth":
        synth(args.scale)
        return
    print(f"# bench/linkage.py --scale {args.scale}")
    if not args.skip_un:
        un_files()
    synth("small")
    if args.scale == "real":
        synth("real")
    registration_check(args.scale)
    scaling()


if __name__ == "__main__":
    main()
