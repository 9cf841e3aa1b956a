"""Canonical Latin spelling of a transliterated Arabic (or Persian, Somali, Pashto) name token.

Different habits write one sound differently (ou/u, ee/i, doubled letters, q/k, dh/z, e/a); the
canonical form keeps vowels (unlike the skeleton) so Latin-to-Latin comparison stays sharp, but
writes each habit one way: "Mohammed" and "Muhammad" both give "muhamad".
"""

from __future__ import annotations

import re
from functools import lru_cache

from custody.engines.names.normalise import fold_latin

__all__ = ["canonical_latin"]

# Order matters: longer patterns first, and digraphs before single letters.
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"^(al|el|ul)(?=[a-z]{4,})", ""),  # attached article
        (r"sch", "sh"),
        (r"tch|tsch", "ch"),
        (r"dj", "j"),
        (r"ph", "f"),
        (r"ck", "k"),
        (r"q", "k"),
        (r"dh|zh", "z"),
        (r"ou|oo|ow", "u"),
        (r"ee|ie$|ey$", "i"),
        (r"ai|ay|ei|ey", "ai"),
        (r"(?<=[a-z])y(?=[a-z])", "i"),
        (r"w(?=[^aeiou]|$)", "u"),
        (r"e", "a"),
        (r"o", "u"),
        (r"v", "w"),
        (r"([a-z])\1+", r"\1"),
        (r"h$", ""),  # ta marbuta written -ah / -a
    ]
]


@lru_cache(maxsize=200_000)
def canonical_latin(token: str) -> str:
    tok = fold_latin(token).replace(" ", "")
    if len(tok) <= 2:
        return tok
    for pat, rep in _RULES:
        tok = pat.sub(rep, tok)
    return tok
