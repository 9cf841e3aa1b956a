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

from custody.engines.names.normalise import search_tokens, skeleton
from custody.registry.models import Identifier, NameToken, Person, PersonName

SKELETON_MARK = "#"
MAX_CANDIDATES = 5000


def tokens_for_name(full: str) -> set[str]:
    toks = set(search_tokens(full))
    out = set(toks)
    for t in toks:
        sk = skeleton(t)
        if len(sk) >= 2:
            out.add(SKELETON_MARK + sk)
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


def _people_for_token(token: str) -> tuple[set[int], set[int]]:
    """(people whose names have a token starting with it, people matching only by skeleton)."""
    direct = set(NameToken.objects.filter(_prefix_range(token)).values_list("person_id", flat=True)[:MAX_CANDIDATES * 4])
    sk = skeleton(token)
    cross: set[int] = set()
    if len(sk) >= 2:
        cross = set(NameToken.objects.filter(token=SKELETON_MARK + sk).values_list("person_id", flat=True)[:MAX_CANDIDATES * 4])
    return direct, cross - direct


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
        ids_by_identifier |= set(Person.objects.filter(ref__iexact=q).values_list("pk", flat=True))
        if ids_by_identifier:
            people = list(base.filter(pk__in=ids_by_identifier).select_related("current_facility", "current_custodian")[offset:offset + limit])
            return SearchResult(people, base.filter(pk__in=ids_by_identifier).count(), True)
    score: dict[int, float] = {}
    candidates: set[int] | None = None
    for token in dict.fromkeys(search_tokens(q)):
        direct, cross = _people_for_token(token)
        matched = direct | cross
        candidates = matched if candidates is None else candidates & matched
        for pid in direct:
            score[pid] = score.get(pid, 0) + 1.0
        for pid in cross:
            score[pid] = score.get(pid, 0) + 0.6
    if not candidates:
        return SearchResult([], 0, False)
    ranked = sorted(candidates, key=lambda pid: (-score.get(pid, 0), pid))[:MAX_CANDIDATES]
    visible = set(base.filter(pk__in=ranked).values_list("pk", flat=True))
    ordered = [pid for pid in ranked if pid in visible]
    page_ids = ordered[offset:offset + limit]
    people = {p.pk: p for p in base.filter(pk__in=page_ids).select_related("current_facility", "current_custodian")}
    return SearchResult([people[i] for i in page_ids if i in people], len(ordered), False)
