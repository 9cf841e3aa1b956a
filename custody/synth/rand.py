"""Fast draws on a seeded `random.Random`.

`Random.choice`, `randrange` and `choices` go through `_randbelow` and argument checks that dominate the
generator's profile; these use one `random()` each. They are just as deterministic for a given seed.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


def below(rng: random.Random, n: int) -> int:
    """An integer in [0, n)."""
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high), like randrange(low, high)."""
    return low + int(rng.random() * (high - low))


_CUMULATIVE: dict[tuple[float, ...], list[float]] = {}


def weighted(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    """One item, with probability proportional to its weight. Constant weight tuples (the usual case)
    have their cumulative sums cached."""
    if isinstance(weights, tuple):
        cum = _CUMULATIVE.get(weights)
        if cum is None:
            cum = _CUMULATIVE[weights] = list(itertools.accumulate(weights))
    else:
        cum = list(itertools.accumulate(weights))
    return items[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(items) - 1)]
