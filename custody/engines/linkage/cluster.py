"""Clustering scored pairs into identities.

Edges are taken strongest first and two clusters are joined only if no "different" decision
(cannot-link) separates any of their members, so a human's "these are two people" is never
overridden by a chain of automatic matches through a third record.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["cluster_pairs"]


def cluster_pairs(
    n: int,
    scored: Iterable[tuple[int, int, float]],
    threshold: float,
    cannot_link: Iterable[tuple[int, int]] = (),
    must_link: Iterable[tuple[int, int]] = (),
) -> list[int]:
    """Cluster label per record index (labels are the smallest member index)."""
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

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra == rb or blocked(ra, rb):
            return
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)

    for a, b in must_link:
        union(a, b)
    for a, b, w in sorted(scored, key=lambda e: -e[2]):
        if w < threshold:
            break
        union(a, b)
    roots = [find(i) for i in range(n)]
    label: dict[int, int] = {}
    for i, r in enumerate(roots):
        label.setdefault(r, i)
    return [label[r] for r in roots]
