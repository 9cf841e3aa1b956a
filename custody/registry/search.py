"""One search box over names in both scripts and over identifiers.

Names are indexed as normalised tokens (the name engine's `search_tokens`) and as cross-script skeleton
keys (`skeleton`), so "Mohamed", "Muhammad" and "محمد" meet. Identifiers are matched on their
normalised value. Every query is restricted to what the user may see before anything is returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from rapidfuzz.distance import Indel

from custody.engines.names.normalise import script_of, search_tokens, skeleton
from custody.engines.names.parse import parse_name
from custody.engines.names.translit import canonical_latin
from custody.registry.models import Identifier, NameToken, Person, PersonName

SKELETON_MARK = "#"
MAX_CANDIDATES = 5000


def _units(text: str) -> list[tuple[list[str], str]]:
    """The query or name as comparable units: (its search tokens, its cross-script key).

    A unit is one parsed name word or compound, so "Abdulrahman", "Abd al-Rahman" and "عبد الرحمن"
    are one unit each with the same key (ABDRHMN), whatever the spacing habit.
    """
    units = []
    for tok in parse_name(text).tokens:
        units.append((search_tokens(tok.text), tok.key))
    return units


def tokens_for_name(full: str) -> set[str]:
    toks = set(search_tokens(full))
    out = set(toks)
    for t in toks:
        sk = skeleton(t)
        if len(sk) >= 2:
            out.add(SKELETON_MARK + sk)
    for _toks, key in _units(full):
        if len(key) >= 2:
            out.add(SKELETON_MARK + key)
    return {t[:60] for t in out}


def reindex_people(person_ids: Iterable[int]) -> int:
    """Rebuild the name tokens of these people; returns how many tokens were written."""
    ids = list(person_ids)
    NameToken.objects.filter(person_id__in=ids).delete()
    rows = []
    for pid, full in PersonName.objects.filter(person_id__in=ids).values_list("person_id", "full"):
        rows.extend(NameToken(person_id=pid, token=t) for t in tokens_for_name(full))
    NameToken.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def _prefix_range(token: str) -> Q:
    # A range instead of LIKE 'x%': both SQLite and PostgreSQL answer it from the b-tree index.
    return Q(token__gte=token, token__lt=token + "\uffff")


def _people_for_unit(tokens: list[str], key: str) -> tuple[set[int], set[int]]:
    """(people with every token of the unit as a word prefix, people matching only by the key)."""
    direct: set[int] | None = None
    for token in tokens:
        found = set(NameToken.objects.filter(_prefix_range(token)).values_list("person_id", flat=True)[:MAX_CANDIDATES * 4])
        direct = found if direct is None else direct & found
    direct = direct or set()
    cross: set[int] = set()
    if len(key) >= 2:
        cross = set(NameToken.objects.filter(token=SKELETON_MARK + key).values_list("person_id", flat=True)[:MAX_CANDIDATES * 4])
    return direct, cross - direct


def _spelling(token: str) -> str:
    return canonical_latin(token) if script_of(token) == "Latn" else token


def _rank(candidates: set[int], query_tokens: list[str], direct_hits: dict[int, int]) -> dict[int, float]:
    """Closest spelling first: a skeleton brings Mahmud along with Muhammad (both M-H-M-D), so
    each candidate is scored by how close its own name words are to the query's, letter by letter,
    in canonical Latin spelling (same script) — a prefix match of a whole word scores 1."""
    pool = sorted(candidates, key=lambda pid: -direct_hits.get(pid, 0))[:MAX_CANDIDATES]
    words: dict[int, list[str]] = {}
    for pid, tok in NameToken.objects.filter(person_id__in=pool).exclude(token__startswith=SKELETON_MARK).values_list("person_id", "token"):
        words.setdefault(pid, []).append(tok)
    q_forms = [(_spelling(t), script_of(t)) for t in query_tokens]
    score: dict[int, float] = {}
    for pid in pool:
        total = 0.0
        mine = words.get(pid, [])
        for (qf, qs), qt in zip(q_forms, query_tokens, strict=True):
            best = 0.0
            for w in mine:
                if w.startswith(qt):
                    best = 1.0
                    break
                if script_of(w) == qs:
                    best = max(best, Indel.normalized_similarity(qf, _spelling(w)))
                else:
                    best = max(best, 0.7)  # same skeleton across scripts: plausible, not proven
            total += best
        score[pid] = total
    return score


@dataclass
class SearchResult:
    people: list[Person]
    total: int
    by_identifier: bool


def find_people(user: Any, query: str, *, facility_id: int | None = None, limit: int = 50, offset: int = 0) -> SearchResult:
    base: QuerySet[Person] = Person.objects.restrict(user, "view")
    if facility_id:
        base = base.filter(current_facility_id=facility_id)
    q = (query or "").strip()
    if not q:
        return SearchResult([], 0, False)
    norm_id = Identifier.normalise(q)
    ids_by_identifier: set[int] = set()
    if norm_id and any(ch.isdigit() for ch in norm_id):
        ids_by_identifier = set(Identifier.objects.filter(value_norm=norm_id).values_list("person_id", flat=True))
        if not ids_by_identifier and len(norm_id) >= 4:
            # A partial number ("HSK-00" typed so far): the same index, as a prefix range.
            ids_by_identifier = set(Identifier.objects.filter(value_norm__gte=norm_id, value_norm__lt=norm_id + "\uffff").values_list("person_id", flat=True)[:MAX_CANDIDATES])
        ids_by_identifier |= set(Person.objects.filter(ref__iexact=q).values_list("pk", flat=True))
        if ids_by_identifier:
            people = list(base.filter(pk__in=ids_by_identifier).select_related("current_facility", "current_custodian")[offset:offset + limit])
            return SearchResult(people, base.filter(pk__in=ids_by_identifier).count(), True)
    query_tokens = list(dict.fromkeys(search_tokens(q)))
    candidates: set[int] | None = None
    direct_hits: dict[int, int] = {}
    for tokens, key in _units(q) or [([t], skeleton(t)) for t in query_tokens]:
        direct, cross = _people_for_unit(tokens, key)
        matched = direct | cross
        candidates = matched if candidates is None else candidates & matched
        for pid in direct:
            direct_hits[pid] = direct_hits.get(pid, 0) + 1
    if not candidates:
        return SearchResult([], 0, False)
    score = _rank(candidates, query_tokens, direct_hits)
    ranked = sorted(candidates, key=lambda pid: (-score.get(pid, 0.0), pid))[:MAX_CANDIDATES]
    visible = set(base.filter(pk__in=ranked).values_list("pk", flat=True))
    ordered = [pid for pid in ranked if pid in visible]
    page_ids = ordered[offset:offset + limit]
    people = {p.pk: p for p in base.filter(pk__in=page_ids).select_related("current_facility", "current_custodian")}
    return SearchResult([people[i] for i in page_ids if i in people], len(ordered), False)
