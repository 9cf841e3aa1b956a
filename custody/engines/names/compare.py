"""Comparison features for a pair of parsed names.

Token similarity works in the space both scripts share: Latin-Latin pairs compare canonical
spellings (vowels kept) and skeletons; any pair involving Arabic script compares skeletons, which
carry no short vowels on either side. Names are aligned order-insensitively (a one-to-one matching
of tokens, weighted by rarity), so "Umarov Doku" meets "Doku Umarov" and an alias that is a subset
of the full name covers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz.distance import Indel, Levenshtein

from custody.engines.names.parse import ParsedName, Token
from custody.engines.names.rarity import TokenRarity

__all__ = ["token_similarity", "NameComparison", "compare_names", "MATCH_SIM"]

MATCH_SIM = 0.8  # below this a token pair earns no credit: similar-looking different names abound

_sim_cache: dict[tuple[str, str, str, str], float] = {}


def _key_sim(a: str, b: str) -> float:
    if a == b:
        return 1.0 if a else 0.0
    if min(len(a), len(b)) <= 2:
        return 0.0  # one-letter difference in a two-letter skeleton is a different name
    return Levenshtein.normalized_similarity(a, b)


def token_similarity(a: Token, b: Token) -> float:
    """0..1 similarity of two tokens in the cross-script comparison space."""
    ck = (a.key, a.latin or a.text, b.key, b.latin or b.text)
    hit = _sim_cache.get(ck)
    if hit is not None:
        return hit
    ks = _key_sim(a.key, b.key)
    same_key = ks == 1.0 and len(a.key) >= 2
    if a.script == "Latn" and b.script == "Latn":
        ls = Indel.normalized_similarity(a.latin, b.latin) if a.latin and b.latin else 0.0
        # Equal skeletons across vowel habits (Haqani/Haqqani, Zahed/Zahid) are near-certain; a
        # spelling close in letters but with different consonants (Samarrai/Shammari) is not.
        sim = 1.0 if ls == 1.0 else 0.8 + 0.2 * ls if same_key else ls * (0.6 + 0.4 * ks)
    elif a.script == "Arab" and b.script == "Arab":
        ts = Indel.normalized_similarity(a.text.replace(" ", ""), b.text.replace(" ", ""))
        sim = 1.0 if ts == 1.0 else 0.95 if same_key else ts * (0.6 + 0.4 * ks)
    else:
        sim = 1.0 if same_key else 0.95 * ks
    if len(_sim_cache) > 2_000_000:
        _sim_cache.clear()
    _sim_cache[ck] = sim
    return sim


@dataclass
class NameComparison:
    """Features of one name pair, and the evidence behind them (rendered by the explanation)."""

    cover_min: float = 0.0  # rarity-weighted share of the longer-covered side's tokens matched
    cover_max: float = 0.0  # the same for the better-covered side (1.0: one name inside the other)
    matched_bits: float = 0.0  # information content of the agreeing tokens (rarity)
    rarest_bits: float = 0.0
    given_sim: float | None = None
    family_sim: float | None = None
    kunya: str = "none"  # agree, disagree, one, none
    nisba: str = "none"
    pairs: list[tuple[str, str, float, float]] = field(default_factory=list)  # (a, b, sim, bits)
    unmatched_a: list[str] = field(default_factory=list)
    unmatched_b: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "cover_min": round(self.cover_min, 3),
            "cover_max": round(self.cover_max, 3),
            "matched_bits": round(self.matched_bits, 2),
            "rarest_bits": round(self.rarest_bits, 2),
            "given_sim": None if self.given_sim is None else round(self.given_sim, 3),
            "family_sim": None if self.family_sim is None else round(self.family_sim, 3),
            "kunya": self.kunya,
            "nisba": self.nisba,
            "pairs": [{"a": a, "b": b, "similarity": round(s, 3), "bits": round(w, 2)} for a, b, s, w in self.pairs],
            "unmatched_a": self.unmatched_a,
            "unmatched_b": self.unmatched_b,
        }


def _joined(a: Token, b: Token) -> Token:
    return Token(text=f"{a.text} {b.text}", key=a.key + b.key, latin=a.latin + b.latin, script=a.script)


def _agreement(a: Token | None, b: Token | None) -> str:
    if a is None and b is None:
        return "none"
    if a is None or b is None:
        return "one"
    return "agree" if token_similarity(a, b) >= 0.85 else "disagree"


def compare_names(a: ParsedName, b: ParsedName, rarity: TokenRarity) -> NameComparison:
    out = NameComparison()
    ta, tb = a.tokens, b.tokens
    if not ta or not tb:
        return out
    wa = [rarity.weight(t.key) for t in ta]
    wb = [rarity.weight(t.key) for t in tb]
    cand: list[tuple[float, int, int]] = []
    for i, x in enumerate(ta):
        for j, y in enumerate(tb):
            s = token_similarity(x, y)
            if s >= MATCH_SIM:
                cand.append((s, i, j))
    cand.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_a: dict[int, tuple[int, float]] = {}
    used_b: set[int] = set()
    for s, i, j in cand:
        if i in used_a or j in used_b:
            continue
        used_a[i] = (j, s)
        used_b.add(j)
    got_a = {i: s for i, (_, s) in used_a.items()}
    got_b = {j: s for _, (j, s) in used_a.items()}
    # A word split in one list and joined in the other (Shahidkhel / شهيد خيل): try adjacent pairs
    # of unmatched tokens against each unmatched token of the other side.
    for side_one, side_two, got_one, got_two in ((ta, tb, got_a, got_b), (tb, ta, got_b, got_a)):
        for k in range(len(side_two) - 1):
            if k in got_two or k + 1 in got_two:
                continue
            jkey = side_two[k].key + side_two[k + 1].key
            joined: Token | None = None
            for i, x in enumerate(side_one):
                # cheap test first: a joined word must start like the single one
                if i in got_one or len(x.key) < 4 or x.key[:2] != jkey[:2]:
                    continue
                joined = joined or _joined(side_two[k], side_two[k + 1])
                s = token_similarity(x, joined)
                if s >= 0.85:
                    got_one[i] = s
                    got_two[k] = got_two[k + 1] = s
                    out.pairs.append((x.text, joined.text, s, rarity.weight(joined.key)))
                    break
    for i, (j, s) in used_a.items():
        out.pairs.append((ta[i].text, tb[j].text, s, min(wa[i], wb[j])))
    tot_a, tot_b = sum(wa), sum(wb)
    cov_a = sum(wa[i] * s for i, s in got_a.items()) / tot_a if tot_a else 0.0
    cov_b = sum(wb[j] * s for j, s in got_b.items()) / tot_b if tot_b else 0.0
    out.cover_min, out.cover_max = min(cov_a, cov_b), max(cov_a, cov_b)
    strong = [bits for _, _, s, bits in out.pairs if s >= 0.85]
    out.matched_bits = sum(bits * s for _, _, s, bits in out.pairs)
    out.rarest_bits = max(strong, default=0.0)
    out.unmatched_a = [t.text for i, t in enumerate(ta) if i not in got_a]
    out.unmatched_b = [t.text for j, t in enumerate(tb) if j not in got_b]
    if a.given and b.given:
        out.given_sim = token_similarity(a.given, b.given)
    if a.family and b.family and a.family is not a.given and b.family is not b.given:
        out.family_sim = token_similarity(a.family, b.family)
    out.kunya = _agreement(a.kunya, b.kunya)
    out.nisba = _agreement(a.nisba, b.nisba)
    return out
