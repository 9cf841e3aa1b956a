"""Clustering scored pairs into identities.

Edges are taken strongest first and two clusters are joined only if no "different" decision
(cannot-link) separates any of their members, so a human's "these are two people" is never
overridden by a chain of automatic matches through a third record.

With a ``score`` function the join is also average-linkage: two clusters are joined only if the
mean match weight over *all* pairs across them reaches the threshold (pairs blocking never
compared are scored on demand). Single-link joins of "A is like B, B is like C" chain a whole
household (siblings sharing father's, grandfather's and mother's names) into one person; the
average over every cross pair does not, because the siblings' own pairs disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["cluster_pairs"]


def cluster_pairs(
    n: int,
    scored: Iterable[tuple[int, int, float]],
    threshold: float,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
    score: Callable[[int, int], float] | None = None,
    cohesion: float = 0.0,
    max_size: int = 12,
) -> list[int]:
    """Cluster label per record index (labels are the smallest member index)."""
    edges = sorted(scored, key=lambda e: -e[2])
    known: dict[tuple[int, int], float] = {}
    if score is not None:
        known = {(a, b) if a < b else (b, a): w for a, b, w in edges}
    parent = list(range(n))
    members: dict[int, set[int]] = {i: {i} for i in range(n)}
    forbidden: dict[int, set[int]] = {}
    for a, b in cannot_link:
        forbidden.setdefault(a, set()).add(b)
        forbidden.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def blocked(ra: int, rb: int) -> bool:
        small, big = (ra, rb) if len(members[ra]) <= len(members[rb]) else (rb, ra)
        big_set = members[big]
        return any(forbidden.get(x, set()) & big_set for x in members[small])

    def weight(a: int, b: int) -> float:
        key = (a, b) if a < b else (b, a)
        w = known.get(key)
        if w is None:
            assert score is not None
            w = known[key] = score(a, b)
        return w

    def cohesive(ra: int, rb: int) -> bool:
        if score is None:
            return True
        if len(members[ra]) + len(members[rb]) > max_size:
            # no person is listed dozens of times: a join this large is a chain, not an identity
            return False
        cross = [weight(a, b) for a in members[ra] for b in members[rb]]
        return sum(cross) / len(cross) >= cohesion

    def union(a: int, b: int, check: bool = True) -> None:
        ra, rb = find(a), find(b)
        if ra == rb or blocked(ra, rb) or (check and not cohesive(ra, rb)):
            return
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)

    for a, b in must_link:
        union(a, b, check=False)
    for a, b, w in edges:
        if w < threshold:
            break
        union(a, b)
    roots = [find(i) for i in range(n)]
    label: dict[int, int] = {}
    for i, r in enumerate(roots):
        label.setdefault(r, i)
    return [label[r] for r in roots]
