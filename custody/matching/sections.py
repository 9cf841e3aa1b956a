"""The person page's "possible matches" section: the strongest stored candidate pairs (found by
the last scan or registration check) and merges; the full, freshly computed list with explanations
is one click away. Reading stored pairs keeps the person page fast on a large registry."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.template.loader import render_to_string

from custody.core.access import restrict
from custody.matching import services
from custody.matching.models import CandidatePair, PairStatus


def person_section(request: Any, person: Any) -> str:
    pairs = restrict(CandidatePair.objects.filter(Q(person_a=person) | Q(person_b=person))
                     .exclude(status=PairStatus.DIFFERENT), request.user).select_related("person_a", "person_b")
    rows = [{"other": p.person_b if p.person_a_id == person.pk else p.person_a, "pair": p}
            for p in pairs.order_by("-weight")[:3]]
    identity = services.identity_of(person.pk) - {person.pk}
    also = services.also_recorded_as(person, request.user) if identity else []
    survivor = services.survivor_of(person.pk) if identity else person.pk
    return render_to_string("matching/_person_section.html", {
        "person": person, "rows": rows, "merged_count": len(identity), "also": also,
        "survivor": next((p for p in also if p.pk == survivor), None),
    }, request=request)
