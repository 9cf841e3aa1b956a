"""How much evidence agreement on a name token carries: Mohammed little, a rare family name much.

Weights are information content in bits, -log2 p(token key), with p estimated from the records
being linked and smoothed towards a small built-in prior for names that are common across the
region even when a small file happens to hold them once.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable

from custody.engines.names.parse import ParsedName, parse_name

__all__ = ["TokenRarity"]

# Approximate share of men carrying the name somewhere in a full Arabic name (ism or nasab);
# orders of magnitude are what matter, the exact figures do not.
_COMMON = {
    "muhammad": 0.20, "ahmad": 0.08, "ali": 0.07, "abdallah": 0.05, "hasan": 0.05, "husain": 0.05,
    "umar": 0.04, "khalid": 0.03, "ibrahim": 0.03, "yusuf": 0.03, "mahmud": 0.03, "mustafa": 0.02,
    "abdrahman": 0.03, "said": 0.03, "salih": 0.02, "abu": 0.05, "jasim": 0.01, "abbas": 0.02,
    "abdul": 0.03, "khan": 0.04, "gul": 0.02, "shah": 0.02, "abdi": 0.02, "muhamad": 0.2,
}  # fmt: skip


def _prior_keys() -> dict[str, float]:
    out: dict[str, float] = {}
    for name, share in _COMMON.items():
        for t in parse_name(name).tokens:
            out[t.key] = max(out.get(t.key, 0.0), share)
    return out


_PRIOR = _prior_keys()
_DEFAULT_PRIOR = 1 / 3000
_SERIAL = itertools.count()


class TokenRarity:
    """Information content of token keys over a corpus of parsed names."""

    def __init__(self, names: Iterable[ParsedName] = (), pseudo_count: float = 300.0) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        self.pseudo = pseudo_count
        self._weights: dict[str, float] = {}
        # (instance, number of names added): weights derived from this table (name profiles) are
        # valid while the stamp is unchanged
        self._serial = next(_SERIAL)
        for p in names:
            self.add(p)

    def add(self, p: ParsedName) -> None:
        self.n += 1
        self.df.update({t.key for t in p.tokens if t.key})
        self._weights.clear()

    @property
    def stamp(self) -> tuple[int, int]:
        return (self._serial, self.n)

    def prob(self, key: str) -> float:
        prior = _PRIOR.get(key, _DEFAULT_PRIOR)
        # very short keys collide across many names (Awad -> D), so they are never rare
        if len(key) <= 1:
            prior = max(prior, 0.05)
        elif len(key) == 2:
            prior = max(prior, 0.005)
        return (self.df.get(key, 0) + self.pseudo * prior) / (self.n + self.pseudo)

    def weight(self, key: str) -> float:
        w = self._weights.get(key)
        if w is None:
            w = 0.0 if not key else min(14.0, max(0.5, -math.log2(self.prob(key))))
            self._weights[key] = w
        return w

    def frequency(self, key: str) -> int:
        return self.df.get(key, 0)

    @classmethod
    def from_strings(cls, names: Iterable[str]) -> TokenRarity:
        return cls(parse_name(n) for n in names)
