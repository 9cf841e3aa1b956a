"""De-duplicate one list or link several: block, train, score, cluster, explain.

``Linker`` is the engine's entry point for the CLI and the Django app; ``LinkageIndex`` answers
"who already known might this new person be?" for one record at a time (the registration check).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from custody.engines.linkage.blocking import block_keys, candidate_pairs
from custody.engines.linkage.cluster import cluster_pairs
from custody.engines.linkage.model import (
    COMPARISONS,
    Explanation,
    FSModel,
    level_vector,
    pair_features,
    random_pairs,
    record_profiles,
)
from custody.engines.linkage.records import Record
from custody.engines.names.rarity import TokenRarity

__all__ = ["Linker", "ScoredPair", "LinkageIndex", "DEFAULT_THRESHOLD", "REVIEW_THRESHOLD"]

# Match weights (log2 odds). Above DEFAULT_THRESHOLD a pair is linked automatically; between
# REVIEW_THRESHOLD and it, a person adjudicates.
DEFAULT_THRESHOLD = 4.0
PAIR_BUDGET = 3_000_000
STRONG_NAME_LEVELS = 6  # name levels 0-5: all tokens agree, or one name contains the other
SESSION_MIN_PAIRS = 15
FULL_NAME_LEVELS = 3  # name levels 0-2: all tokens of both names agree
REVIEW_THRESHOLD = 0.0
# Two clusters join only if the mean weight over all pairs across them reaches this (see cluster.py)
COHESION = 2.0
# No person is listed this many times: a join beyond it is a chain, not an identity
MAX_CLUSTER = 25

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ScoredPair:
    i: int
    j: int
    weight: float
    probability: float


def _noop(stage: str, done: int, total: int) -> None:
    return None


# Pair comparison is pure Python (about 40 us a pair); above this many pairs it is spread over
# forked processes, one per available core.
PARALLEL_MIN_PAIRS = 200_000
PARALLEL_CHUNK = 50_000


def _default_workers(n_pairs: int) -> int:
    if n_pairs < PARALLEL_MIN_PAIRS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _level_rows(
    records: Sequence[Record], rarity: TokenRarity, pairs: Sequence[tuple[int, int]]
) -> np.ndarray:
    return np.array(
        [level_vector(pair_features(records[i], records[j], rarity, detail=False)) for i, j in pairs],
        dtype=np.int8,
    ).reshape(len(pairs), len(COMPARISONS))


_FORK_STATE: tuple[Sequence[Record], TokenRarity, Sequence[tuple[int, int]]] | None = None


def _fork_levels(lo: int, hi: int) -> np.ndarray:
    assert _FORK_STATE is not None, "worker started without the parent's state (fork only)"
    records, rarity, pairs = _FORK_STATE
    return _level_rows(records, rarity, pairs[lo:hi])


class Linker:
    """Probabilistic linkage over a list of records (one source: dedupe; several: link)."""

    def __init__(
        self,
        records: Sequence[Record],
        *,
        link_sources: bool = False,
        max_block: int | None = None,
        u_sample: int = 20_000,
        seed: int = 0,
        progress: Progress | None = None,
        workers: int | None = None,
        sessions: bool = True,
    ) -> None:
        self.records = list(records)
        self.link_sources = link_sources
        # A budget of candidate pairs: blocks up to 120 records on lists of a few thousand, tighter
        # on large lists (about 40-60 on the 47,000-row population), so the cost stays linear.
        n = max(1, len(records))
        self.max_block = max_block if max_block is not None else int(min(120, max(40, PAIR_BUDGET // n)))
        self.u_sample = u_sample
        self.seed = seed
        self.progress = progress or _noop
        # processes for the pair comparisons (None: one per core on large lists, else 1)
        self.workers = workers
        # m estimated by conditioned training sessions before the final EM (see FSModel)
        self.sessions = sessions
        self.rarity = TokenRarity(n for r in self.records for n in r.names)
        self.model = FSModel()
        self.pairs: list[tuple[int, int]] = []
        self.levels = np.zeros((0, len(COMPARISONS)), dtype=np.int8)
        self.scored: list[ScoredPair] = []
        self.fit_u = False

    def _levels(self, pairs: Sequence[tuple[int, int]], stage: str) -> np.ndarray:
        n = len(pairs)
        workers = self.workers if self.workers is not None else _default_workers(n)
        if workers > 1 and n >= 2 * PARALLEL_CHUNK:
            return self._levels_parallel(pairs, stage, workers)
        out = np.empty((n, len(COMPARISONS)), dtype=np.int8)
        step = max(1, n // 100)
        for k0 in range(0, n, step):
            out[k0 : k0 + step] = _level_rows(self.records, self.rarity, pairs[k0 : k0 + step])
            self.progress(stage, k0, n)
        self.progress(stage, n, n)
        return out

    def _levels_parallel(self, pairs: Sequence[tuple[int, int]], stage: str, workers: int) -> np.ndarray:
        """The pair comparisons over forked worker processes: each inherits the records and the
        rarity table (nothing pickled but the slices' bounds and the small level arrays back)."""
        global _FORK_STATE
        n = len(pairs)
        # name profiles are computed once here, before the fork, so the workers share them
        for rec in self.records:
            if not rec.parsed.empty:
                record_profiles(rec, self.rarity)
        _FORK_STATE = (self.records, self.rarity, pairs)
        out = np.empty((n, len(COMPARISONS)), dtype=np.int8)
        bounds = [(k, min(n, k + PARALLEL_CHUNK)) for k in range(0, n, PARALLEL_CHUNK)]
        done = 0
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                futures = {pool.submit(_fork_levels, lo, hi): (lo, hi) for lo, hi in bounds}
                for fut in as_completed(futures):
                    lo, hi = futures[fut]
                    out[lo:hi] = fut.result()
                    done += hi - lo
                    self.progress(stage, done, n)
        finally:
            _FORK_STATE = None
        return out

    def run(self, model: FSModel | None = None) -> list[ScoredPair]:
        """Block, estimate the model (unless one is given), and score every candidate pair."""
        usable = [i for i, r in enumerate(self.records) if not r.parsed.empty]
        self.progress("blocking", 0, 1)
        sub = [self.records[i] for i in usable]
        self.pairs = [
            (usable[a], usable[b])
            for a, b in candidate_pairs(sub, max_block=self.max_block, link_sources=self.link_sources)
        ]
        self.progress("blocking", 1, 1)
        self.levels = self._levels(self.pairs, "comparing")
        if model is not None:
            self.model = model
        else:
            rnd = [(usable[a], usable[b]) for a, b in random_pairs(len(usable), self.u_sample, self.seed)]
            if self.link_sources:
                rnd = [(a, b) for a, b in rnd if self.records[a].source != self.records[b].source]
            # u from random pairs is only the starting point: the non-matches that blocking lets
            # through share name tokens by construction, so u is re-estimated among the candidates
            # together with m and the prior (a two-class latent mixture; see docs/decisions).
            self.model.estimate_u(self._levels(rnd, "estimating u"))
            self.progress("EM", 0, 1)
            # A two-class mixture is identifiable only with at least three conditionally
            # independent comparisons observed; with fewer (a names-only list) u stays at its
            # random-pair estimate and only m and the prior are fitted.
            observed = int(((self.levels >= 0).mean(axis=0) >= 0.05).sum()) if len(self.levels) else 0
            self.fit_u = observed >= 3
            self._train(self.levels)
            self.progress("EM", 1, 1)
        w = self.model.weights(self.levels) if len(self.pairs) else np.zeros(0)
        self.scored = [
            ScoredPair(i, j, float(x), FSModel.probability(float(x)))
            for (i, j), x in zip(self.pairs, w, strict=True)
        ]
        return self.scored

    def _train(self, lv: np.ndarray) -> None:
        """m by conditioned sessions, the prior from a rule and its recall, then the final EM."""
        names = [c.name for c in self.model.comparisons]
        col = {c: names.index(c) for c in names}
        # Fallback prior (no usable date of birth): the share of pairs whose names agree in full or
        # one contains the other, a deterministic rule as in Splink's
        # estimate_probability_two_random_records_match. Left free, EM on lists where few people
        # recur finds a larger latent class instead (shared given names, households).
        strong = float((lv[:, col["name"]] < STRONG_NAME_LEVELS).mean()) if len(lv) else 0.0
        self.model.prior = float(np.clip(strong, 1e-4, 0.5))
        person = [col[c] for c in ("given", "kunya", "sex", "nationality", "place_of_birth", "mother")]
        given_same = lv[:, col["given"]] == 0
        sessions = [
            # born on the same date (households rarely are): given name, sex, mother's name...
            (lv[:, col["dob"]] == 0, (col["dob"],), person),
            # same given name and same mother (siblings differ in the one, namesakes in the other):
            # the date of birth; failing enough of those, the same rare full name and given name
            ((lv[:, col["mother"]] == 0) & given_same, (col["mother"], col["given"]), (col["dob"],)),
            ((lv[:, col["name"]] == 0) & given_same, (col["name"], col["given"]), (col["dob"],)),
        ]
        # Without the same-date session the person-level m (given name, sex, mother) cannot be
        # conditioned away from the household: holding only some m then steers the final EM to
        # households more surely than no session at all, so it is all sessions or none.
        enough = int(sessions[0][0].sum()) >= SESSION_MIN_PAIRS
        held = (
            self.model.estimate_m_by_sessions(lv, sessions, min_pairs=SESSION_MIN_PAIRS)
            if len(lv) and self.sessions and enough
            else set()
        )
        dob = col["dob"]
        if dob in held:
            # The prior as a deterministic rule's count over its recall: pairs born on the same date,
            # divided by P(same date | match) (the m just estimated) and by the share of pairs with
            # both dates known. On a 47,000-row register the name rule above counts every namesake
            # and short name contained in a longer one (23% of candidate pairs against 0.09% true
            # matches); the date rule is nearly all true matches.
            observed = float((lv[:, dob] >= 0).mean())
            rule = int((lv[:, dob] == 0).sum())
            recall = float(self.model.m[dob][0]) * observed
            if rule and recall > 0:
                self.model.prior = float(np.clip(rule / recall / len(lv), 1e-6, 0.5))
        self.model.estimate_m(lv, fit_u=self.fit_u, max_iter=200, hold=held, fixed_prior=self.model.prior)

    def triples(self) -> list[tuple[int, int, float]]:
        return [(s.i, s.j, s.weight) for s in self.scored]

    def clusters(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        cannot_link: Iterable[tuple[int, int]] = (),
        must_link: Iterable[tuple[int, int]] = (),
    ) -> list[int]:
        return cluster_pairs(
            len(self.records),
            self.triples(),
            threshold,
            cannot_link,
            must_link,
            score=self.pair_weight,
            cohesion=COHESION,
            max_size=MAX_CLUSTER,
        )

    def pair_weight(self, i: int, j: int) -> float:
        """Match weight of any two records (also pairs blocking did not propose)."""
        a, b = self.records[i], self.records[j]
        if a.parsed.empty or b.parsed.empty:
            return float("-inf")
        return self.model.weight(level_vector(pair_features(a, b, self.rarity, detail=False)))

    def best_scores(self) -> list[float | None]:
        """Each record's best pair weight (None if it was never compared)."""
        best: list[float | None] = [None] * len(self.records)
        for s in self.scored:
            for x in (s.i, s.j):
                cur = best[x]
                if cur is None or s.weight > cur:
                    best[x] = s.weight
        return best

    def explain(self, i: int, j: int) -> Explanation:
        a, b = self.records[i], self.records[j]
        return self.model.explain(a, b, pair_features(a, b, self.rarity))

    def review_band(self, low: float = REVIEW_THRESHOLD, high: float = DEFAULT_THRESHOLD) -> list[ScoredPair]:
        return sorted((s for s in self.scored if low <= s.weight < high), key=lambda s: -s.weight)


class LinkageIndex:
    """Known people, indexed by blocking key, for one-record-at-a-time checks.

    The model is trained once (on the whole population) and reused; a query blocks the new
    record, scores the few candidates and returns them best first with their explanations.
    """

    def __init__(self, records: Sequence[Record], model: FSModel, max_block: int = 400) -> None:
        self.records = list(records)
        self.model = model
        self.max_block = max_block
        self.rarity = TokenRarity(n for r in self.records for n in r.names)
        self.blocks: dict[str, list[int]] = {}
        for i, r in enumerate(self.records):
            self._index(i, r)

    def _index(self, i: int, r: Record) -> None:
        for k in block_keys(r):
            self.blocks.setdefault(k, []).append(i)

    def add(self, r: Record) -> int:
        self.records.append(r)
        for n in r.names:
            self.rarity.add(n)
        i = len(self.records) - 1
        self._index(i, r)
        return i

    def candidates(self, r: Record) -> set[int]:
        out: set[int] = set()
        for k in block_keys(r):
            members = self.blocks.get(k, ())
            if len(members) <= self.max_block:
                out.update(members)
        return out

    def query(
        self, r: Record, limit: int = 10, min_weight: float = REVIEW_THRESHOLD
    ) -> list[tuple[int, Explanation]]:
        scored: list[tuple[float, int]] = []
        for i in self.candidates(r):
            other = self.records[i]
            if other is r:
                continue
            w = self.model.weight(level_vector(pair_features(r, other, self.rarity, detail=False)))
            if w >= min_weight:
                scored.append((w, i))
        scored.sort(key=lambda x: -x[0])
        # only the candidates shown are explained in full (token texts and all)
        return [
            (i, self.model.explain(r, self.records[i], pair_features(r, self.records[i], self.rarity)))
            for _, i in scored[:limit]
        ]
