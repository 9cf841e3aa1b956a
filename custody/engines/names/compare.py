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

__all__ = [
    "token_similarity",
    "token_id",
    "NameComparison",
    "NameProfile",
    "name_profile",
    "compare_names",
    "compare_profiles",
    "MATCH_SIM",
]

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
            "pairs": [
                {"a": a, "b": b, "similarity": round(s, 3), "bits": round(w, 2)} for a, b, s, w in self.pairs
            ],
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


# Tokens are interned as small integers so that the similarity of two tokens is looked up under one
# int key; rosters repeat name words heavily, so the distinct token pairs are few next to the pairs
# of names compared.
_TOKEN_IDS: dict[tuple[str, str, str], int] = {}
_TOKENS: list[Token] = []
_ID_SIM: dict[int, float] = {}
_ID_SHIFT = 32


def token_id(t: Token) -> int:
    k = (t.key, t.latin or t.text, t.script)
    i = _TOKEN_IDS.get(k)
    if i is None:
        i = _TOKEN_IDS[k] = len(_TOKENS)
        _TOKENS.append(t)
    return i


def _id_similarity(x: int, y: int) -> float:
    s = token_similarity(_TOKENS[x], _TOKENS[y])
    if len(_ID_SIM) > 4_000_000:
        _ID_SIM.clear()
    _ID_SIM[(x << _ID_SHIFT) | y] = s
    return s


@dataclass(frozen=True, slots=True)
class NameProfile:
    """A parsed name prepared for many comparisons under one rarity table: token ids, their
    weights in bits, and the parts, computed once per name instead of once per pair."""

    name: ParsedName
    rarity: TokenRarity
    ids: tuple[int, ...]
    weights: tuple[float, ...]
    total: float
    keys: frozenset[str]
    given: int
    family: int  # -1 when absent or the same token as the given name


def name_profile(p: ParsedName, rarity: TokenRarity) -> NameProfile:
    toks = p.tokens
    weights = tuple(rarity.weight(t.key) for t in toks)
    has_family = p.family is not None and p.family is not p.given
    return NameProfile(
        name=p,
        rarity=rarity,
        ids=tuple(token_id(t) for t in toks),
        weights=weights,
        total=sum(weights),
        keys=frozenset(t.key for t in toks),
        given=token_id(p.given) if p.given is not None else -1,
        family=token_id(p.family) if has_family and p.family is not None else -1,
    )


def _sim(x: int, y: int) -> float:
    s = _ID_SIM.get((x << _ID_SHIFT) | y)
    return _id_similarity(x, y) if s is None else s


def compare_names(a: ParsedName, b: ParsedName, rarity: TokenRarity) -> NameComparison:
    return compare_profiles(name_profile(a, rarity), name_profile(b, rarity))


def compare_profiles(pa: NameProfile, pb: NameProfile, detail: bool = True) -> NameComparison:
    """Features of a pair of names; ``detail`` False skips the token texts the explanation shows
    (the numbers are the same), for scoring many pairs."""
    out = NameComparison()
    ia, ib = pa.ids, pb.ids
    if not ia or not ib:
        return out
    wa, wb = pa.weights, pb.weights
    sim_get = _ID_SIM.get
    cand: list[tuple[float, int, int]] = []
    for i, x in enumerate(ia):
        base = x << _ID_SHIFT
        for j, y in enumerate(ib):
            s = sim_get(base | y)
            if s is None:
                s = _id_similarity(x, y)
            if s >= MATCH_SIM:
                cand.append((-s, i, j))
    used_a: dict[int, tuple[int, float]] = {}
    if cand:
        cand.sort()
        used_b: set[int] = set()
        for s, i, j in cand:
            if i in used_a or j in used_b:
                continue
            used_a[i] = (j, -s)
            used_b.add(j)
    got_a = {i: s for i, (_, s) in used_a.items()}
    got_b = {j: s for _, (j, s) in used_a.items()}
    pairs: list[tuple[int, int, float, float]] = []  # (i, j, sim, bits); j < 0: joined pair
    joined_tokens: list[tuple[Token, Token]] = []
    # A word split in one list and joined in the other (Shahidkhel / شهيد خيل): try adjacent pairs
    # of unmatched tokens against each unmatched token of the other side.
    if len(got_a) < len(ia) and len(got_b) < len(ib):
        ta, tb = pa.name.tokens, pb.name.tokens
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
                        pairs.append((-1 - len(joined_tokens), -1, s, pa.rarity.weight(joined.key)))
                        joined_tokens.append((x, joined))
                        break
    for i, (j, s) in used_a.items():
        pairs.append((i, j, s, min(wa[i], wb[j])))
    tot_a, tot_b = pa.total, pb.total
    cov_a = sum(wa[i] * s for i, s in got_a.items()) / tot_a if tot_a else 0.0
    cov_b = sum(wb[j] * s for j, s in got_b.items()) / tot_b if tot_b else 0.0
    out.cover_min, out.cover_max = min(cov_a, cov_b), max(cov_a, cov_b)
    out.matched_bits = sum(bits * s for _, _, s, bits in pairs)
    out.rarest_bits = max((bits for _, _, s, bits in pairs if s >= 0.85), default=0.0)
    if pa.given >= 0 and pb.given >= 0:
        out.given_sim = _sim(pa.given, pb.given)
    if pa.family >= 0 and pb.family >= 0:
        out.family_sim = _sim(pa.family, pb.family)
    a, b = pa.name, pb.name
    out.kunya = _agreement(a.kunya, b.kunya)
    out.nisba = _agreement(a.nisba, b.nisba)
    if detail:
        ta, tb = a.tokens, b.tokens
        for i, j, s, bits in pairs:
            x, y = joined_tokens[-1 - i] if j < 0 else (ta[i], tb[j])
            out.pairs.append((x.text, y.text, s, bits))
        out.unmatched_a = [t.text for i, t in enumerate(ta) if i not in got_a]
        out.unmatched_b = [t.text for j, t in enumerate(tb) if j not in got_b]
    return out
