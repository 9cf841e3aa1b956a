"""Evaluation against labelled truth: pairwise precision/recall/F1 and recall@1, by script too."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PRF", "pairwise_prf", "recall_at_1", "best_threshold_prf"]


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "true_pairs": self.true_pairs,
            "predicted_pairs": self.predicted_pairs,
        }


def _prf(tp: int, pred: int, true: int) -> PRF:
    p = tp / pred if pred else 0.0
    r = tp / true if true else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PRF(p, r, f, true, pred)


def _pairs_in(labels: Sequence[object]) -> int:
    return sum(c * (c - 1) // 2 for c in Counter(labels).values())


def pairwise_prf(clusters: Sequence[object], truth: Sequence[object]) -> PRF:
    """Over all record pairs: predicted same cluster vs truly the same identity."""
    tp = _pairs_in([(c, t) for c, t in zip(clusters, truth, strict=True)])
    return _prf(tp, _pairs_in(clusters), _pairs_in(truth))


def best_threshold_prf(
    scored: Sequence[tuple[int, int, float]], truth: Sequence[object]
) -> tuple[float, PRF]:
    """Best F1 over thresholds when each scored pair above it counts as a predicted match (the
    pairwise protocol of the reference table); pairs never scored count as non-matches."""
    true_total = _pairs_in(truth)
    ordered = sorted(scored, key=lambda e: -e[2])
    best = (float("inf"), _prf(0, 0, true_total))
    tp = 0
    for k, (a, b, w) in enumerate(ordered, start=1):
        tp += truth[a] == truth[b]
        if k == len(ordered) or ordered[k][2] < w:
            cur = _prf(tp, k, true_total)
            if cur.f1 > best[1].f1:
                best = (w, cur)
    return best


def recall_at_1(
    n: int,
    scored: Sequence[tuple[int, int, float]],
    truth: Sequence[object],
    subset: Sequence[bool] | None = None,
) -> tuple[float, int]:
    """Share of records (with at least one true partner) whose best-scoring other record is a
    true partner; records never scored count as misses. Returns (rate, records counted)."""
    best: dict[int, tuple[float, int]] = {}
    for a, b, w in scored:
        for x, y in ((a, b), (b, a)):
            if x not in best or w > best[x][0]:
                best[x] = (w, y)
    sizes = Counter(truth)
    hit = counted = 0
    for i in range(n):
        if sizes[truth[i]] < 2 or (subset is not None and not subset[i]):
            continue
        counted += 1
        if i in best and truth[best[i][1]] == truth[i]:
            hit += 1
    return (hit / counted if counted else 0.0), counted


def cross_script_pair_recall(
    clusters: Sequence[object], truth: Sequence[object], scripts: Sequence[str]
) -> float:
    """Share of true Arabic–Latin pairs placed in the same cluster."""
    groups: dict[object, list[int]] = defaultdict(list)
    for i, t in enumerate(truth):
        groups[t].append(i)
    tot = hit = 0
    for members in groups.values():
        for i in members:
            for j in members:
                if i < j and {scripts[i], scripts[j]} == {"Arab", "Latn"}:
                    tot += 1
                    hit += clusters[i] == clusters[j]
    return hit / tot if tot else 0.0
