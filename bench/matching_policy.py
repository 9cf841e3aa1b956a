"""The merge policy against the names-only threshold merge, on the generator's populations with planted
duplicates: what is merged, queued and kept apart, how many planted duplicates are found, and whether any
two different people are merged.

    .venv/bin/python bench/matching_policy.py                        # small and real scale, seed 7
    .venv/bin/python bench/matching_policy.py --scales small --share 0.02

Each record is what the registry holds after `custody generate --plant-duplicates SHARE` (the loader's
names, identifiers, household, family links, keep-apart pairs; custody intervals from the ledger's
events), turned into engine records the way the matching app does (custody.matching.services
.person_records). One linkage run (custody.engines.linkage.Linker) feeds both:

- baseline: what `custody match-scan` does today: pairs at or above the automatic threshold that the
  average-linkage clustering puts together are merged (names and the other compared fields only);
- policy: every pair at or above the review threshold, and every pair sharing an authority-issued
  identifier, decided by MergePolicy and clustered by complete linkage (custody.engines.linkage.resolve).

Biometrics: detainees handed over to the receiving facility, and records the Iraqi intake registered,
were enrolled; a pair of two enrolled records gets a 1:1 face verification on synthetic embeddings
(custody.engines.biometrics.synthetic; one identity per true person), judged at the operating point
calibrated to FMR 1e-4 on separate synthetic people. The truth (planted pairs, identity of every record)
is used only to score.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from custody.engines.biometrics.calibration import calibrate  # noqa: E402
from custody.engines.biometrics.synthetic import face_identities, face_samples  # noqa: E402
from custody.engines.linkage import (  # noqa: E402
    BiometricResult,
    Candidate,
    MergePolicy,
    Outcome,
    shared_identifier_pairs,
)
from custody.engines.linkage.pipeline import DEFAULT_THRESHOLD, REVIEW_THRESHOLD, Linker  # noqa: E402
from custody.synth import generate  # noqa: E402
from custody.synth.matching_view import engine_records, policy_records  # noqa: E402
from custody.synth.model import Population  # noqa: E402

TARGET_FMR = 1e-4


# -- biometrics ---------------------------------------------------------------------------------------


@dataclass
class Faces:
    threshold: float
    vectors: dict[str, np.ndarray]

    def verify(self, a: str, b: str) -> BiometricResult | None:
        if a not in self.vectors or b not in self.vectors:
            return None
        return BiometricResult("face", float(self.vectors[a] @ self.vectors[b]), self.threshold)


def enrol(pop: Population, truth: dict[str, str], seed: int) -> Faces:
    """Face samples for the enrolled records (one identity centre per true person, one sample per record)
    and the operating point calibrated on other synthetic people."""
    handed = {e.person for e in pop.events if e.kind == "handed_over"}
    enrolled = sorted(handed | {d.duplicate for d in pop.planted if d.source == "irq-intake"})
    people = sorted({truth[r] for r in enrolled})
    centres = face_identities(len(people), seed=seed)
    row = {pid: k for k, pid in enumerate(people)}
    samples = face_samples(centres[[row[truth[r]] for r in enrolled]], seed=seed + 1)
    # calibration on separate people: two samples each, genuine and impostor cosines
    cal = face_identities(3000, seed=seed + 2)
    s1, s2 = face_samples(cal, seed=seed + 3), face_samples(cal, seed=seed + 4)
    genuine = np.einsum("ij,ij->i", s1, s2)
    impostor = (s1[:400] @ s2[:400].T)[~np.eye(400, dtype=bool)]
    threshold = calibrate("face", genuine, impostor, target_fmr=TARGET_FMR).threshold
    return Faces(threshold, {r: samples[k] for k, r in enumerate(enrolled)})


# -- one scale ----------------------------------------------------------------------------------------


def pairs_in(clusters: list[frozenset[str]]) -> list[tuple[str, str]]:
    return [(a, b) for c in clusters for a in sorted(c) for b in sorted(c) if a < b]


def run(scale: str, seed: int, share: float) -> dict[str, object]:
    t0 = time.perf_counter()
    pop = generate(seed, scale, plant_duplicates=share)
    truth = {p.id: p.id for p in pop.persons}
    truth.update({d.duplicate: d.original for d in pop.planted})
    planted = {frozenset((d.original, d.duplicate)) for d in pop.planted}
    records = engine_records(pop)
    prec = policy_records(pop)
    faces = enrol(pop, truth, seed)
    t_prep = time.perf_counter() - t0

    t0 = time.perf_counter()
    linker = Linker(records)
    linker.run()
    t_link = time.perf_counter() - t0
    rid = [r.rid for r in records]
    index = {r: i for i, r in enumerate(rid)}

    # baseline: what `custody match-scan` merges today (custody.matching.services.scan)
    t0 = time.perf_counter()
    labels = linker.clusters(DEFAULT_THRESHOLD)
    base_merged = [(rid[s.i], rid[s.j]) for s in linker.scored
                   if s.weight >= DEFAULT_THRESHOLD and labels[s.i] == labels[s.j]]
    base_queued = {frozenset((rid[s.i], rid[s.j])) for s in linker.scored
                   if REVIEW_THRESHOLD <= s.weight and not (s.weight >= DEFAULT_THRESHOLD and labels[s.i] == labels[s.j])}
    by_label: dict[int, list[str]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(rid[i])
    base_clusters = [frozenset(m) for m in by_label.values() if len(m) > 1]
    t_base = time.perf_counter() - t0

    # the policy
    t0 = time.perf_counter()
    cands = [Candidate(rid[s.i], rid[s.j], s.weight, faces.verify(rid[s.i], rid[s.j]))
             for s in linker.scored if s.weight >= REVIEW_THRESHOLD]
    scored = {frozenset((rid[s.i], rid[s.j])) for s in linker.scored if s.weight >= REVIEW_THRESHOLD}
    by_ident = [(a, b) for a, b in shared_identifier_pairs(prec.values()) if frozenset((a, b)) not in scored]
    cands += [Candidate(a, b, linker.pair_weight(index[a], index[b]), faces.verify(a, b)) for a, b in by_ident]
    result = MergePolicy().run(prec, cands)
    t_policy = time.perf_counter() - t0

    pol_pairs = pairs_in(result.clusters)
    queued = {d.pair for d in result.queue}
    in_cluster = result.cluster_of()

    def wrong(pairs: list[tuple[str, str]]) -> int:
        return sum(truth[a] != truth[b] for a, b in pairs)

    base_cluster_of = {r: k for k, c in enumerate(base_clusters) for r in c}
    base_found = sum(1 for p in planted if len({base_cluster_of.get(x, x) for x in p}) == 1 or p in base_queued)
    pol_merged_planted = sum(1 for p in planted if len({in_cluster.get(x, x) for x in p}) == 1)
    pol_queued_planted = sum(1 for p in planted if p in queued and len({in_cluster.get(x, x) for x in p}) > 1)
    missed = [p for p in planted if len({in_cluster.get(x, x) for x in p}) > 1 and p not in queued]
    decided = {d.pair: d for d in result.decisions}
    missed_why = Counter(
        ("not a candidate" if p not in decided else
         "; ".join(sorted({r.code for r in decided[p].reasons if r.kind == "against"})) or str(decided[p].outcome))
        for p in missed)
    evidence = result.evidence_counts()
    return {
        "scale": scale, "seed": seed, "people": len(pop.persons), "planted": len(planted),
        "candidates": len(cands), "by_identifier_only": len(by_ident), "enrolled": len(faces.vectors),
        "face_threshold": faces.threshold,
        "t_prep": t_prep, "t_link": t_link, "t_base": t_base, "t_policy": t_policy,
        "base": {"merged": len(base_merged), "queued": len(base_queued), "kept_apart": None,
                 "wrong": wrong(base_merged), "cluster_pairs": len(pairs_in(base_clusters)),
                 "cluster_wrong": wrong(pairs_in(base_clusters)), "found": base_found,
                 "sex_differs": sum(prec[a].sex != prec[b].sex for a, b in base_merged)},
        "policy": {"merged": len(pol_pairs), "queued": len(result.queue), "kept_apart": len(result.kept_apart),
                   "wrong": wrong(pol_pairs), "cluster_pairs": len(pol_pairs), "cluster_wrong": wrong(pol_pairs),
                   "found": pol_merged_planted + pol_queued_planted, "planted_merged": pol_merged_planted,
                   "planted_queued": pol_queued_planted, "missed_why": missed_why,
                   "largest_cluster": max((len(c) for c in result.clusters), default=0),
                   "queue_true": sum(truth[d.a] == truth[d.b] for d in result.queue)},
        "evidence": evidence,
        "planted_by_source": Counter(d.source.split("-")[0] for d in pop.planted),
        "found_by_source": Counter(
            d.source.split("-")[0] for d in pop.planted
            if frozenset((d.original, d.duplicate)) in queued
            or len({in_cluster.get(d.original, d.original), in_cluster.get(d.duplicate, d.duplicate)}) == 1),
        "queue_top": [d for d in result.queue[:3]],
    }


def pct(x: int, n: int) -> str:
    return f"{100 * x / n:.1f}%" if n else "—"


def report(r: dict[str, object]) -> None:
    b, p = r["base"], r["policy"]  # type: ignore[index]
    n = r["planted"]
    print(f"\n### {r['scale']} scale, seed {r['seed']}: {r['people']:,} records, {n:,} planted duplicates\n")
    print(f"linkage {r['t_link']:.1f} s ({r['candidates']:,} pairs decided, {r['by_identifier_only']:,} of them "
          f"proposed only by a shared identifier); baseline clustering {r['t_base']:.1f} s; policy "
          f"{r['t_policy']:.1f} s; {r['enrolled']:,} records enrolled (face threshold {r['face_threshold']:.3f} "
          f"at FMR {TARGET_FMR:g})\n")
    print("| | names-only threshold merge (today) | merge policy | target |")
    print("| --- | ---: | ---: | --- |")
    print(f"| pairs merged automatically | {b['merged']:,} | {p['merged']:,} | |")
    print(f"| pairs queued for a person | {b['queued']:,} | {p['queued']:,} | |")
    print(f"| pairs kept apart (evidence against) | — | {p['kept_apart']:,} | |")
    print(f"| merges of two different people | **{b['wrong']:,}** | **{p['wrong']:,}** | 0 |")
    print(f"| automatic merge precision | {pct(b['merged'] - b['wrong'], b['merged'])} | "
          f"{pct(p['merged'] - p['wrong'], p['merged'])} | ≥ 99.5% |")
    print(f"| merged pairs whose recorded sex differs | {b['sex_differs']:,} | 0 | |")
    print(f"| record pairs in one cluster (different people) | {b['cluster_pairs']:,} ({b['cluster_wrong']:,}) | "
          f"{p['cluster_pairs']:,} ({p['cluster_wrong']:,}) | |")
    print(f"| planted duplicates merged or queued | {pct(b['found'], n)} ({b['found']}/{n}) | "
          f"**{pct(p['found'], n)}** ({p['planted_merged']} merged + {p['planted_queued']} queued) | ≥ 95% |")
    print(f"| queued pairs that are one person | — | {p['queue_true']:,} of {p['queued']:,} | |")
    print(f"| largest merged cluster | — | {p['largest_cluster']} | |")
    print()
    print("Planted by source (found): " + ", ".join(
        f"{k} {v} ({r['found_by_source'][k]})" for k, v in sorted(r["planted_by_source"].items())))  # type: ignore[union-attr]
    if p["missed_why"]:
        print("Planted and missed, why: " + ", ".join(f"{k} {v}" for k, v in p["missed_why"].most_common()))
    print()
    print("Evidence used (reason codes, by outcome):\n")
    print("| reason | merge | queue | keep apart |")
    print("| --- | ---: | ---: | ---: |")
    ev = r["evidence"]
    codes = sorted({c for o in ev.values() for c in o}, key=lambda c: -sum(ev[o][c] for o in ev))  # type: ignore[union-attr]
    for c in codes:
        print(f"| {c} | {ev['merge'][c]:,} | {ev['queue'][c]:,} | {ev['keep_apart'][c]:,} |")  # type: ignore[index]
    print("\nHead of the queue (most consequential first):")
    for d in r["queue_top"]:  # type: ignore[union-attr]
        print(f"- {d.a} / {d.b}, weight {d.weight:.1f}: " + "; ".join(x.text for x in d.reasons))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="+", default=["small", "real"], choices=["small", "real", "large"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--share", type=float, default=0.02, help="planted duplicates, share of people")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    for scale in args.scales:
        report(run(scale, args.seed, args.share))
    # keep the Outcome import honest: the policy's three outcomes are the columns above
    assert [str(o) for o in Outcome] == ["merge", "queue", "keep_apart"]


if __name__ == "__main__":
    main()
