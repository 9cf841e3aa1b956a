"""Fast draws on a seeded `random.Random`.

`Random.choice`, `randrange` and `choices` go through `_randbelow` and argument checks that dominate the
generator's profile; these use one `random()` each. They are just as deterministic for a given seed.
"""

from __future__ import annotations

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


def weighted(rng: random.Random, items: Sequence[T], weights: Sequence[float]) -> T:
    r = rng.random() * sum(weights)
    for item, w in zip(items, weights, strict=True):
        r -= w
        if r < 0:
            return item
    return items[-1]
