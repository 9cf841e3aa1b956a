"""The person page's "possible matches" section: the best few, linking to the full page."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.matching import services


def person_section(request: Any, person: Any) -> str:
    found = services.possible_matches(person, request.user, request=request, limit=3)
    identity = services.identity_of(person.pk) - {person.pk}
    return render_to_string("matching/_person_section.html", {
        "person": person, "matches": found, "merged_count": len(identity),
    }, request=request)
