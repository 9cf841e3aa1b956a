"""Fellegi–Sunter model over the name engine's features and the other identifiers.

Each comparison maps a record pair to one of a few ordered agreement levels (or to null when a
value is missing on either side, which then contributes nothing). A pair's match weight is
``prior + sum(log2(m/u))`` over comparisons, with m = P(level | same person) and u = P(level |
different people). As Splink does: u is estimated from random record pairs (almost all are
non-matches), m and the prior by expectation-maximisation over the blocked candidate pairs, no
labels used. Every score decomposes into its per-comparison weights: the explanation.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from custody.engines.linkage.records import Dob, Record
from custody.engines.names.compare import (
    NameComparison,
    NameProfile,
    compare_names,
    compare_profiles,
    name_profile,
)
from custody.engines.names.parse import parse_name
from custody.engines.names.rarity import TokenRarity

_PLACE_RARITY = TokenRarity()

__all__ = ["PairFeatures", "Comparison", "COMPARISONS", "pair_features", "FSModel", "Explanation"]


@dataclass
class PairFeatures:
    name: NameComparison
    dob: str | None
    sex: str | None
    nationality: str | None
    place_of_birth: float | None
    mother: NameComparison | None


def _dob_level(a: Dob | None, b: Dob | None) -> str | None:
    if a is None or b is None:
        return None
    if a.dates and b.dates and a.dates & b.dates:
        return "exact"
    if a.lo == a.hi == b.lo == b.hi:
        return "year"
    if a.lo <= b.hi and b.lo <= a.hi:
        return "overlap"
    gap = max(a.lo - b.hi, b.lo - a.hi)
    if gap <= 1:
        return "1y"
    if gap <= 3:
        return "3y"
    return "differ"


MAX_NAMES = 4  # names per record compared (primary, Arabic rendering, first aliases)


def record_profiles(rec: Record, rarity: TokenRarity) -> tuple[list[NameProfile], NameProfile | None]:
    """The record's names prepared once per rarity table (the stamp changes when names are added)."""
    cache = rec.prepared
    stamp = rarity.stamp
    if cache.get("stamp") != stamp:
        cache["names"] = [name_profile(n, rarity) for n in rec.names[:MAX_NAMES]]
        cache["mother"] = name_profile(rec.mother, rarity) if rec.mother is not None else None
        cache["stamp"] = stamp
    return cache["names"], cache["mother"]  # type: ignore[return-value]


def _best_profiles(pa: list[NameProfile], pb: list[NameProfile], detail: bool) -> NameComparison:
    if len(pa) == 1 and len(pb) == 1:
        return compare_profiles(pa[0], pb[0], detail)
    # Only the name pairs sharing the most token keys are aligned in full: the others cannot win.
    top = 0
    combos: list[tuple[NameProfile, NameProfile]] = []
    for x in pa:
        for y in pb:
            v = len(x.keys & y.keys)
            if v > top:
                top, combos = v, [(x, y)]
            elif v == top and top and len(combos) < 3:
                combos.append((x, y))
    if not top:
        combos = [(pa[0], pb[0])]
    best: NameComparison | None = None
    best_key = (-1.0, -1.0)
    for x, y in combos:
        c = compare_profiles(x, y, detail)
        key = (c.cover_min + c.cover_max, c.matched_bits)
        if key > best_key:
            best, best_key = c, key
    return best if best is not None else NameComparison()


def best_name_comparison(a: Record, b: Record, rarity: TokenRarity) -> NameComparison:
    """The best-agreeing pair among the two records' names (a person is who any of his names say)."""
    return _best_profiles(record_profiles(a, rarity)[0], record_profiles(b, rarity)[0], detail=True)


@lru_cache(maxsize=65536)
def _place_similarity(a: str, b: str) -> float:
    # places are written in either script too (Mosul / الموصل): compared like names
    return compare_names(parse_name(a), parse_name(b), _PLACE_RARITY).cover_max


def pair_features(a: Record, b: Record, rarity: TokenRarity, detail: bool = True) -> PairFeatures:
    """Comparison features of two records; ``detail`` False leaves out the token texts that only
    the explanation shows (scoring many pairs)."""
    pob: float | None = None
    if a.place_of_birth and b.place_of_birth:
        pa, pb = sorted((a.place_of_birth, b.place_of_birth))
        pob = 1.0 if pa == pb else _place_similarity(pa, pb)
    names_a, mother_a = record_profiles(a, rarity)
    names_b, mother_b = record_profiles(b, rarity)
    return PairFeatures(
        name=_best_profiles(names_a, names_b, detail) if names_a and names_b else NameComparison(),
        dob=_dob_level(a.dob, b.dob),
        sex=None if not (a.sex and b.sex) else ("agree" if a.sex == b.sex else "disagree"),
        nationality=None
        if not (a.nationality and b.nationality)
        else ("agree" if a.nationality & b.nationality else "disagree"),
        place_of_birth=pob,
        mother=compare_profiles(mother_a, mother_b, detail) if mother_a and mother_b else None,
    )


@dataclass(frozen=True)
class Comparison:
    name: str
    label: str
    levels: tuple[str, ...]  # most to least agreeing
    level_of: Callable[[PairFeatures], int | None]
    # for each level, the levels that agree at least as much (default: all earlier levels)
    dominated_by: tuple[tuple[int, ...], ...] = ()


_COVER = (
    ("all tokens agree", lambda n: n.cover_min >= 0.9),
    ("one name contains the other", lambda n: n.cover_max >= 0.9),
    ("most tokens agree", lambda n: n.cover_max >= 0.65),
    ("some tokens agree", lambda n: n.cover_max >= 0.35),
)
_BITS = ((">=16 bits", 16.0), ("10-16 bits", 10.0), ("<10 bits", -1.0))
NAME_LEVELS = tuple(f"{c}, {b}" for c, _ in _COVER for b, _ in _BITS) + ("names differ",)


def _name_dominance() -> tuple[tuple[int, ...], ...]:
    nb = len(_BITS)
    out: list[tuple[int, ...]] = []
    for ci in range(len(_COVER)):
        for bi in range(nb):
            out.append(tuple(c * nb + b for c in range(ci + 1) for b in range(bi + 1) if (c, b) != (ci, bi)))
    out.append(tuple(range(len(_COVER) * nb)))
    return tuple(out)


_NAME_DOMINANCE = _name_dominance()


def _name_level(f: PairFeatures) -> int | None:
    # Coverage (how much of each name is accounted for) crossed with the information content of
    # the agreeing tokens: one comparison, so the two are not counted as independent evidence.
    n = f.name
    for ci, (_, test) in enumerate(_COVER):
        if test(n):
            for bi, (_, edge) in enumerate(_BITS):
                if n.matched_bits >= edge:
                    return ci * len(_BITS) + bi
    return len(NAME_LEVELS) - 1


def _given_level(f: PairFeatures) -> int | None:
    s = f.name.given_sim
    if s is None:
        return None
    return 0 if s >= 0.95 else 1 if s >= MATCH_FUZZY else 2


MATCH_FUZZY = 0.8


def _family_level(f: PairFeatures) -> int | None:
    s = f.name.family_sim
    if s is None:
        return None
    return 0 if s >= 0.95 else 1 if s >= MATCH_FUZZY else 2


def _kunya_level(f: PairFeatures) -> int | None:
    return {"agree": 0, "disagree": 1}.get(f.name.kunya)


_DOB = ("exact", "year", "overlap", "1y", "3y", "differ")


def _dob(f: PairFeatures) -> int | None:
    return None if f.dob is None else _DOB.index(f.dob)


def _agree(v: str | None) -> int | None:
    return None if v is None else (0 if v == "agree" else 1)


def _pob(f: PairFeatures) -> int | None:
    s = f.place_of_birth
    return None if s is None else 0 if s >= 0.9 else 1 if s >= 0.7 else 2


def _mother(f: PairFeatures) -> int | None:
    m = f.mother
    if m is None:
        return None
    return 0 if m.cover_min >= 0.85 else 1 if m.cover_max >= 0.85 else 2 if m.cover_max >= 0.5 else 3


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "name", "Name tokens (order-insensitive) and their rarity", NAME_LEVELS, _name_level, _NAME_DOMINANCE
    ),
    Comparison("given", "Given name (first part)", ("same", "similar", "different"), _given_level),
    Comparison("kunya", "Kunya (Abu/Umm X)", ("same", "different"), _kunya_level),
    Comparison(
        "dob",
        "Date of birth",
        ("same date", "same year", "ranges overlap", "within 1 year", "within 3 years", "different"),
        _dob,
    ),
    Comparison("sex", "Sex", ("same", "different"), lambda f: _agree(f.sex)),
    Comparison("nationality", "Nationality", ("shared", "different"), lambda f: _agree(f.nationality)),
    Comparison("place_of_birth", "Place of birth", ("same", "similar", "different"), _pob),
    Comparison(
        "mother",
        "Mother's name",
        ("same", "one contains the other", "partly similar", "different"),
        _mother,
    ),
)


def level_vector(f: PairFeatures, comparisons: Sequence[Comparison] = COMPARISONS) -> list[int]:
    return [(-1 if (lv := c.level_of(f)) is None else lv) for c in comparisons]


@dataclass
class Explanation:
    """Why a pair scored what it did: one entry per comparison, plus the prior."""

    left: str
    right: str
    match_weight: float
    probability: float
    prior_weight: float
    items: list[dict[str, object]] = field(default_factory=list)
    name_detail: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "left": self.left,
            "right": self.right,
            "match_weight": round(self.match_weight, 3),
            "probability": round(self.probability, 4),
            "prior_weight": round(self.prior_weight, 3),
            "comparisons": self.items,
            "name_detail": self.name_detail,
        }

    def to_text(self) -> str:
        lines = [f"{self.left}  ~  {self.right}: weight {self.match_weight:+.2f}, p={self.probability:.3f}"]
        lines.append(f"  prior {self.prior_weight:+.2f}")
        for it in self.items:
            lines.append(f"  {it['label']}: {it['level']} {float(it['weight']):+.2f}")  # type: ignore[arg-type]
        return "\n".join(lines)


def _probability(w: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-max(-60.0, min(60.0, w))))


M_FLOOR = 0.002
M_PSEUDO = 2.0
U_PSEUDO = 20.0


class FSModel:
    """m and u per comparison level, and the prior; estimated without labels."""

    def __init__(self, comparisons: Sequence[Comparison] = COMPARISONS) -> None:
        self.comparisons = tuple(comparisons)
        # Starting values only; fit() replaces them. m favours agreement, u disagreement.
        self.m = [self._geometric(len(c.levels), 0.55) for c in self.comparisons]
        self.u = [self._geometric(len(c.levels), 0.55)[::-1] for c in self.comparisons]
        self.u_random = [x.copy() for x in self.u]
        self.prior = 0.05  # P(match) among candidate pairs
        # (starting values; fit replaces them)
        self.iterations = 0
        self.fitted = False

    @staticmethod
    def _geometric(n: int, r: float) -> np.ndarray:
        v = np.array([r**i for i in range(n)], dtype=float)
        return v / v.sum()

    # -- estimation ---------------------------------------------------------------------------
    def estimate_u(self, levels: np.ndarray) -> None:
        """u from level frequencies among random pairs (Laplace-smoothed so no level is impossible)."""
        for c in range(len(self.comparisons)):
            col = levels[:, c]
            col = col[col >= 0]
            k = len(self.comparisons[c].levels)
            counts = np.bincount(col, minlength=k).astype(float) + 0.5
            self.u[c] = counts / counts.sum()
        self.u_random = [x.copy() for x in self.u]

    def estimate_m(
        self,
        levels: np.ndarray,
        max_iter: int = 60,
        tol: float = 1e-5,
        fit_u: bool = False,
        fixed_prior: float | None = None,
        hold: Collection[int] = (),
    ) -> None:
        """EM for m and the prior (and u among the candidates when ``fit_u``); the m of the
        comparisons in ``hold`` are kept as they are."""
        if len(levels) == 0:
            return
        # EM over the distinct agreement patterns, each weighted by how often it occurs: the same
        # fixed point as over every pair, at a cost independent of the number of pairs.
        levels, counts = np.unique(levels, axis=0, return_counts=True)
        counts = counts.astype(float)
        total = counts.sum()
        lam = fixed_prior if fixed_prior is not None else self.prior
        for it in range(max_iter):
            lm = np.zeros(len(levels))
            lu = np.zeros(len(levels))
            for c in range(len(self.comparisons)):
                col = levels[:, c]
                ok = col >= 0
                lm[ok] += np.log(self.m[c][col[ok]])
                lu[ok] += np.log(self.u[c][col[ok]])
            z = np.log(lam) + lm
            y = np.log1p(-lam) + lu
            post = 1.0 / (1.0 + np.exp(np.clip(y - z, -50, 50)))
            new_lam = (
                fixed_prior
                if fixed_prior is not None
                else float(np.clip((post * counts).sum() / total, 1e-6, 1 - 1e-6))
            )
            delta = abs(new_lam - lam)
            lam = new_lam
            for c in range(len(self.comparisons)):
                col = levels[:, c]
                ok = col >= 0
                k = len(self.comparisons[c].levels)
                if c in hold:
                    continue
                sums = np.bincount(col[ok], weights=(post * counts)[ok], minlength=k) + M_PSEUDO / k
                # floor: no level may be near-impossible for a true match (one typo in a
                # nationality must not outweigh everything else)
                new_m = np.maximum(sums / sums.sum(), M_FLOOR)
                new_m = new_m / new_m.sum()
                delta = max(delta, float(np.abs(new_m - self.m[c]).max()))
                self.m[c] = new_m
                if fit_u:
                    # Dirichlet prior centred on the random-pair u: a level seen a handful of times
                    # among candidates cannot get an extreme weight from those few alone.
                    us = (
                        np.bincount(col[ok], weights=((1 - post) * counts)[ok], minlength=k)
                        + U_PSEUDO * self.u_random[c]
                    )
                    self.u[c] = us / us.sum()
            self.iterations = it + 1
            if delta < tol:
                break
        self.prior = lam
        self.fitted = True

    def estimate_m_by_sessions(
        self,
        levels: np.ndarray,
        sessions: Sequence[tuple[np.ndarray, Collection[int], Collection[int]]],
        min_pairs: int = 100,
    ) -> set[int]:
        """m of each comparison from the pairs selected by a rule on *other* comparisons, as
        Splink's EM training sessions do: within pairs whose names agree in full, date of birth,
        sex and mother's name are estimated; within pairs born on the same date, the names.

        Over all candidate pairs at once, EM takes the strongest correlated group as its latent
        class: on a camp register that is the household (father's, grandfather's and mother's
        names shared by siblings), which then teaches that a true match usually has another given
        name, sex and birth year. Conditioning each session on a rule that households rarely meet
        keeps the latent class the person. Each session is (pair mask, the comparisons the rule
        conditions on, the comparisons it estimates). Returns the comparisons whose m was set (u
        and the prior are untouched; the caller runs the final EM with these m held)."""
        done: set[int] = set()
        for mask, conditioned, estimated in sessions:
            if int(mask.sum()) < min_pairs:
                continue
            session = FSModel(self.comparisons)
            session.u = [x.copy() for x in self.u]
            session.u_random = [x.copy() for x in self.u_random]
            session.prior = 0.5
            session.estimate_m(levels[mask], max_iter=100, hold=set(conditioned))
            for c in range(len(self.comparisons)):
                col = levels[mask][:, c]
                # a comparison missing in nearly all of the session's pairs is left to the final EM
                if c not in estimated or c in conditioned or c in done or (col >= 0).sum() < min_pairs // 2:
                    continue
                self.m[c] = session.m[c]
                done.add(c)
        return done

    # -- scoring ------------------------------------------------------------------------------
    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) per level, made monotone: a level that agrees less never weighs more than one
        that agrees more (EM on few pairs can otherwise invert two neighbouring levels)."""
        out = []
        for c, comp in enumerate(self.comparisons):
            w = np.log2(self.m[c] / self.u[c])
            dominating = comp.dominated_by or tuple(tuple(range(lv)) for lv in range(len(w)))
            out.append(np.array([min([w[lv], *(w[d] for d in dominating[lv])]) for lv in range(len(w))]))
        return out

    def weights(self, levels: np.ndarray) -> np.ndarray:
        lw = self.level_weights()
        total = np.full(len(levels), self.prior_weight)
        for c in range(len(self.comparisons)):
            col = levels[:, c]
            ok = col >= 0
            total[ok] += lw[c][col[ok]]
        return total

    def weight(self, lv: Sequence[int]) -> float:
        return float(self.weights(np.array([lv], dtype=np.int64))[0])

    @staticmethod
    def probability(weight: float) -> float:
        return _probability(weight)

    def explain(self, a: Record, b: Record, f: PairFeatures) -> Explanation:
        lv = level_vector(f, self.comparisons)
        items: list[dict[str, object]] = []
        lw = self.level_weights()
        total = self.prior_weight
        for c, comp in enumerate(self.comparisons):
            level = lv[c]
            if level < 0:
                items.append(
                    {
                        "comparison": comp.name,
                        "label": comp.label,
                        "level": "missing on one side",
                        "level_index": None,
                        "m": None,
                        "u": None,
                        "weight": 0.0,
                    }
                )
                continue
            w = float(lw[c][level])
            total += w
            items.append(
                {
                    "comparison": comp.name,
                    "label": comp.label,
                    "level": comp.levels[level],
                    "level_index": level,
                    "m": round(float(self.m[c][level]), 5),
                    "u": round(float(self.u[c][level]), 5),
                    "weight": round(w, 3),
                }
            )
        return Explanation(
            left=a.name,
            right=b.name,
            match_weight=total,
            probability=_probability(total),
            prior_weight=self.prior_weight,
            items=items,
            name_detail={"left": a.parsed.as_dict(), "right": b.parsed.as_dict(), **f.name.as_dict()},
        )

    # -- persistence --------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, object]:
        return {
            "comparisons": [c.name for c in self.comparisons],
            "m": [list(map(float, x)) for x in self.m],
            "u": [list(map(float, x)) for x in self.u],
            "prior": self.prior,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict())

    @classmethod
    def from_json(cls, text: str) -> FSModel:
        return cls.from_json_dict(json.loads(text))

    @classmethod
    def from_json_dict(cls, data: dict) -> FSModel:  # type: ignore[type-arg]
        model = cls()
        names = [c.name for c in model.comparisons]
        if data["comparisons"] != names:
            raise ValueError(f"model was trained with comparisons {data['comparisons']}, engine has {names}")
        model.m = [np.array(x) for x in data["m"]]
        model.u = [np.array(x) for x in data["u"]]
        model.prior = float(data["prior"])
        model.fitted = True
        return model

    def summary(self) -> list[dict[str, object]]:
        out = []
        lw = self.level_weights()
        for c, comp in enumerate(self.comparisons):
            for lv, label in enumerate(comp.levels):
                out.append(
                    {
                        "comparison": comp.name,
                        "level": label,
                        "m": float(self.m[c][lv]),
                        "u": float(self.u[c][lv]),
                        "weight": float(lw[c][lv]),
                    }
                )
        return out


def random_pairs(n: int, k: int, seed: int = 0) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    if n < 2:
        return []
    total = n * (n - 1) // 2
    if total <= k:
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    out: set[tuple[int, int]] = set()
    while len(out) < k:
        i, j = rng.randrange(n), rng.randrange(n)
        if i != j:
            out.add((min(i, j), max(i, j)))
    return sorted(out)
